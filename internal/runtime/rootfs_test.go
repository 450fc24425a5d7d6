package runtime

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestMkdirNoSymlinks(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	rf, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	h, err := mkdirNoSymlinks(rf, "/a/b/c")
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	if st, err := os.Stat(filepath.Join(root, "a/b/c")); err != nil || !st.IsDir() {
		t.Fatalf("a/b/c not made: %v", err)
	}
	// A symlink anywhere on the way is refused, never followed.
	if err := os.Symlink(outside, filepath.Join(root, "evil")); err != nil {
		t.Fatal(err)
	}
	if h, err := mkdirNoSymlinks(rf, "/evil/x"); err == nil {
		h.Close()
		t.Fatal("went through a symlink")
	}
	if _, err := os.Stat(filepath.Join(outside, "x")); err == nil {
		t.Fatal("created a directory outside the root")
	}
	// The slow path resolves it inside the root, or refuses; it never
	// reaches the host path.
	r := &rootfsSetup{root: rf, rootfs: root}
	if h, err := r.mkdirInRoot("/evil/y"); err == nil {
		h.Close()
	}
	if _, err := os.Stat(filepath.Join(outside, "y")); err == nil {
		t.Fatal("mkdirInRoot created a directory outside the root")
	}
}
