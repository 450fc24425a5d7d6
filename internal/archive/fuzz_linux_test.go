package archive_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-project/berth/internal/archive"
	"github.com/berth-project/berth/internal/archive/tartest"
)

// FuzzApply feeds Apply arbitrary bytes: it must never panic, and never
// change anything beside root (a sibling directory stands for the rest of
// the host). The first byte picks the whiteout mode.
func FuzzApply(f *testing.F) {
	seeds := [][]byte{
		layer1,
		layer2,
		tartest.Build(tartest.Symlink("link", "../sentinel"), tartest.File("link/evil", "x", 0o644)),
		tartest.Build(tartest.Symlink("l", "/"), tartest.Dir("l/sentinel", 0o755), tartest.Link("h", "l/sentinel")),
		tartest.Build(tartest.Dir("a", 0o755), tartest.Symlink("a/up", ".."), tartest.Whiteout("a/up/sentinel"), tartest.Opaque("a/up")),
		tartest.Build(tartest.File("f", "x", 0o644, tartest.Xattr("user.a", "b")), tartest.Link("g", "f"), tartest.Fifo("p", 0o600), tartest.Char("c", 0, 0, 0o600)),
	}
	for _, s := range seeds {
		f.Add(append([]byte{0}, s...))
		f.Add(append([]byte{1}, s...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		j := newJail(t)
		j.snapshot(t)
		opt := archive.WithDeleteWhiteouts()
		if data[0]&1 == 1 {
			opt = archive.WithOverlayWhiteouts()
		}
		// Errors are expected; only escapes and panics are failures.
		archive.Apply(context.Background(), j.root, bytes.NewReader(data[1:]), opt, archive.WithSizeLimit(64<<20))
		j.checkOutside(t)
		// Make the temporary directory removable whatever modes the
		// layer left.
		filepath.WalkDir(j.root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
}
