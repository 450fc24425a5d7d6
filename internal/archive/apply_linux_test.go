package archive_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/archive"
	"github.com/berth-project/berth/internal/archive/archivetest"
	"github.com/berth-project/berth/internal/archive/tartest"
	"github.com/berth-project/berth/internal/testenv"
)

func compress(t *testing.T, data []byte, c archive.Compression) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := archive.CompressStream(&buf, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestApplyCompressed(t *testing.T) {
	testenv.RequireRoot(t)
	want := flat(t, layer1)
	// Trailing zero padding, as docker's writer leaves, is read and counted.
	padded := append(append([]byte(nil), layer1...), make([]byte, 10240)...)
	for _, c := range []archive.Compression{archive.Uncompressed, archive.Gzip, archive.Zstd} {
		t.Run(c.String(), func(t *testing.T) {
			dir := t.TempDir()
			n, err := archive.Apply(context.Background(), dir, bytes.NewReader(compress(t, padded, c)))
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(len(padded)) {
				t.Errorf("read %d bytes, want %d", n, len(padded))
			}
			if err := archivetest.Compare(want, dir); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestApplyReplaces(t *testing.T) {
	testenv.RequireRoot(t)
	dir := flat(t, tartest.Build(
		tartest.Dir("d2f", 0o755),
		tartest.File("d2f/child", "c", 0o644),
		tartest.File("f2d", "f", 0o644),
		tartest.Dir("keep", 0o700, tartest.Owner(1, 1)),
		tartest.File("keep/old", "old", 0o644),
		tartest.Symlink("l2f", "/etc"),
		tartest.File("f2l", "f", 0o644),
		tartest.Dir("opq", 0o755),
		tartest.File("opq/old", "old", 0o644),
		tartest.Dir("opq/sub", 0o755),
		tartest.File("opq/sub/old", "old", 0o644),
		tartest.File("existing", "lower", 0o644),
	), tartest.Build(
		tartest.File("d2f", "now a file", 0o644),
		tartest.Dir("f2d", 0o755),
		tartest.Dir("keep", 0o755, tartest.Owner(2, 2)),
		tartest.File("l2f", "file", 0o644),
		tartest.Symlink("f2l", "target"),
		tartest.Dir("opq", 0o755),
		tartest.File("opq/new", "new", 0o644),
		tartest.Dir("opq/sub", 0o755),
		tartest.Opaque("opq"),
		tartest.File("opq/after", "after the marker", 0o644),
		tartest.Link("linked", "existing"),
	))
	want := t.TempDir()
	makeTree(t, want, []node{
		{path: "d2f", kind: 'f', data: "now a file", mode: 0o644, mtime: tartest.DefaultTime},
		{path: "f2d", kind: 'd', mode: 0o755, mtime: tartest.DefaultTime},
		{path: "keep", kind: 'd', mode: 0o755, uid: 2, gid: 2, mtime: tartest.DefaultTime},
		{path: "keep/old", kind: 'f', data: "old", mode: 0o644, mtime: tartest.DefaultTime},
		{path: "l2f", kind: 'f', data: "file", mode: 0o644, mtime: tartest.DefaultTime},
		{path: "f2l", kind: 'l', target: "target", mtime: tartest.DefaultTime},
		{path: "opq", kind: 'd', mode: 0o755, mtime: tartest.DefaultTime},
		{path: "opq/new", kind: 'f', data: "new", mode: 0o644, mtime: tartest.DefaultTime},
		{path: "opq/sub", kind: 'd', mode: 0o755, mtime: tartest.DefaultTime},
		{path: "opq/after", kind: 'f', data: "after the marker", mode: 0o644, mtime: tartest.DefaultTime},
		{path: "existing", kind: 'f', data: "lower", mode: 0o644, mtime: tartest.DefaultTime},
		{path: "linked", kind: 'h', target: "existing"},
	})
	// opq's own mtime moved when the whiteout removed its children.
	if err := archivetest.Compare(want, dir, archivetest.IgnoreDirTimes()); err != nil {
		t.Fatal(err)
	}
}

func TestApplyOptions(t *testing.T) {
	testenv.RequireRoot(t)
	layer := tartest.Build(
		tartest.Dir("a", 0o755, tartest.Owner(7, 7)),
		tartest.File("a/f", "f", 0o4755, tartest.Owner(7, 7), tartest.Xattr("trusted.t", "v")),
		tartest.Char("a/null", 1, 3, 0o666),
		tartest.File("skip/me", "x", 0o644),
	)
	var progress []int64
	var seen []string
	dir := t.TempDir()
	_, err := archive.Apply(context.Background(), dir, bytes.NewReader(layer),
		archive.WithNoSameOwner(),
		archive.WithDevicePolicy(archive.DevicesSkip),
		archive.WithProgress(func(n int64) { progress = append(progress, n) }),
		archive.WithFilter(func(h *tar.Header) (bool, error) {
			seen = append(seen, h.Name)
			return h.Name != "skip/me", nil
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "a/f")); err != nil || fi.Mode()&fs.ModeSetuid == 0 {
		t.Errorf("a/f: %v %v", fi, err)
	}
	owner := func(p string) (uint32, uint32) {
		var st = statOf(t, filepath.Join(dir, p))
		return st.Uid, st.Gid
	}
	if u, g := owner("a/f"); u != 0 || g != 0 {
		t.Errorf("WithNoSameOwner: a/f owned by %d:%d", u, g)
	}
	if _, err := os.Lstat(filepath.Join(dir, "a/null")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("DevicesSkip: a/null: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "skip/me")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("filter: skip/me: %v", err)
	}
	if len(seen) != 4 || seen[0] != "a" {
		t.Errorf("filter saw %q", seen)
	}
	if len(progress) < 4 || progress[len(progress)-1] != int64(len(layer)) {
		t.Errorf("progress %v, want to end at %d", progress, len(layer))
	}
	// Options that contradict themselves are refused before anything.
	if _, err := archive.Apply(context.Background(), dir, bytes.NewReader(layer), archive.WithSizeLimit(-1)); err == nil {
		t.Error("negative size limit accepted")
	}
	// A cancelled context stops Apply.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := archive.Apply(ctx, t.TempDir(), bytes.NewReader(layer)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func statOf(t *testing.T, p string) *unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return &st
}
