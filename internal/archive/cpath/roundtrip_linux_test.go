package cpath

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/archive/archivetest"
)

// TestRoundTrip: what Archive reads of a tree, Extract writes back the
// same: types, modes (setuid included), owners, times, xattrs, hard and
// symbolic links, devices, fifos.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	src := filepath.Join(w.root, "src")
	makeTree(t, w.root, file("src/a", "A"), file("src/sub/b", "B"), dir("src/empty"), symlink("src/l", "/etc/shadow"), symlink("src/sub/rl", "../a"))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Lchown(filepath.Join(src, "a"), 1000, 1001))
	must(unix.Chmod(filepath.Join(src, "a"), 0o6750))
	must(os.Lchown(filepath.Join(src, "sub"), 7, 8))
	must(unix.Chmod(filepath.Join(src, "sub"), 0o1770))
	must(os.Lchown(filepath.Join(src, "l"), 9, 10))
	must(os.Link(filepath.Join(src, "sub/b"), filepath.Join(src, "hard")))
	must(unix.Mknod(filepath.Join(src, "zero"), unix.S_IFCHR|0o640, int(unix.Mkdev(1, 5))))
	must(unix.Mkfifo(filepath.Join(src, "fifo"), 0o600))
	must(unix.Lsetxattr(filepath.Join(src, "sub/b"), "user.k", []byte("v"), 0))
	must(unix.Lsetxattr(filepath.Join(src, "a"), "trusted.t", []byte("tv"), 0))
	old := time.Date(2001, 2, 3, 4, 5, 6, 700000000, time.UTC)
	for _, p := range []string{"a", "sub/b", "empty", "sub", "."} {
		must(os.Chtimes(filepath.Join(src, p), old, old))
	}
	must(unix.Lutimes(filepath.Join(src, "l"), []unix.Timeval{unix.NsecToTimeval(old.UnixNano()), unix.NsecToTimeval(old.UnixNano())}))

	dst := t.TempDir()
	rc, _, err := Archive(t.Context(), w.root, "/src", ArchiveOptions{})
	must(err)
	defer rc.Close()
	must(Extract(t.Context(), dst, "/", rc, ExtractOptions{NoOverwriteDirNonDir: true}))
	if _, err := io.Copy(io.Discard, rc); err != nil {
		t.Fatal(err)
	}
	if err := archivetest.Compare(src, filepath.Join(dst, "src"), archivetest.WithRoot()); err != nil {
		t.Error(err)
	}
}
