package cpath

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
)

func TestStat(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	makeTree(t, w.root,
		dir("data/sub"), file("data/a", "aaaa"),
		symlink("abs", "/etc/shadow"),   // absolute: the container's, never the host's
		symlink("rel", "../etc/passwd"), // climbs above the root: stops there
		symlink("chain", "abs"),         // a link to a link
		symlink("dangling", "/nowhere/file"),
		symlink("dirlink", "data"),
		symlink("hostlink", w.canary), // a host path: means root's path of that name
		symlink("loop", "loop"),
		fileWithMode("suid", 0o4755|os.ModeSetuid),
	)
	if err := os.Chmod(filepath.Join(w.root, "suid"), 0o755|os.ModeSetuid|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(w.root, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2020, 5, 6, 7, 8, 9, 123456789, time.UTC)
	if err := os.Chtimes(filepath.Join(w.root, "data/a"), mtime, mtime); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		path, name string
		mode       fs.FileMode
		size       int64
		link       string
	}{
		{path: "/data/a", name: "a", mode: 0o644, size: 4},
		{path: "data/a", name: "a", mode: 0o644, size: 4},
		{path: "/data/../data/./a", name: "a", mode: 0o644, size: 4},
		{path: "../../../../data/a", name: "a", mode: 0o644, size: 4},
		{path: "/data", name: "data", mode: fs.ModeDir | 0o755},
		{path: "/data/", name: "data", mode: fs.ModeDir | 0o755},
		{path: "/data/.", name: ".", mode: fs.ModeDir | 0o755},
		{path: ".", name: ".", mode: fs.ModeDir | 0o755}, // "/." as dockerd makes it
		{path: ".", name: ".", mode: fs.ModeDir | 0o755}, // "/." as dockerd makes it
		{path: "/abs", name: "abs", mode: fs.ModeSymlink | 0o777, size: 11, link: "/etc/shadow"},
		{path: "/rel", name: "rel", mode: fs.ModeSymlink | 0o777, size: 13, link: "/etc/passwd"},
		{path: "/chain", name: "chain", mode: fs.ModeSymlink | 0o777, size: 3, link: "/etc/shadow"},
		{path: "/dangling", name: "dangling", mode: fs.ModeSymlink | 0o777, size: 13, link: "/nowhere/file"},
		{path: "/dirlink", name: "dirlink", mode: fs.ModeSymlink | 0o777, size: 4, link: "/data"},
		{path: "/dirlink/", name: "dirlink", mode: fs.ModeDir | 0o755},
		{path: "/hostlink", name: "hostlink", mode: fs.ModeSymlink | 0o777, size: int64(len(w.canary)), link: w.canary},
		{path: "/suid", name: "suid", mode: 0o755 | fs.ModeSetuid | fs.ModeSticky, size: 4},
		{path: "/fifo", name: "fifo", mode: fs.ModeNamedPipe | 0o600},
	} {
		st, err := Stat(t.Context(), w.root, c.path)
		if err != nil {
			t.Errorf("Stat(%q): %v", c.path, err)
			continue
		}
		if c.mode.IsDir() {
			c.size = st.Size // a directory's size is the filesystem's business
		}
		if st.Name != c.name || st.Mode != c.mode || st.Size != c.size || st.LinkTarget != c.link {
			t.Errorf("Stat(%q) = {%q %v %d %q}, want {%q %v %d %q}", c.path, st.Name, st.Mode, st.Size, st.LinkTarget, c.name, c.mode, c.size, c.link)
		}
	}
	st, err := Stat(t.Context(), w.root, "/data/a")
	if err != nil || !st.Mtime.Equal(mtime) {
		t.Errorf("mtime %v, want %v (%v)", st.Mtime, mtime, err)
	}

	for _, c := range []struct {
		path  string
		class func(error) bool
	}{
		{"/missing", errdefs.IsNotFound},
		{"/data/missing/x", errdefs.IsNotFound},
		{"/dangling/", errdefs.IsNotFound},
		{"/data/a/", errdefs.IsInvalidParameter},
		{"/data/a/x", errdefs.IsInvalidParameter},
		{"/loop/", errdefs.IsInvalidParameter},
		{"", errdefs.IsInvalidParameter},
	} {
		_, err := Stat(t.Context(), w.root, c.path)
		if err == nil || !c.class(err) {
			t.Errorf("Stat(%q): error %v has the wrong class", c.path, err)
		}
	}
	if _, err := Stat(t.Context(), filepath.Join(w.root, "nope"), "/"); err == nil {
		t.Error("Stat in a missing root succeeded")
	}
	// The loop's own stat is fine (it is a symlink); its target is not.
	if _, err := Stat(t.Context(), w.root, "/loop"); !errors.Is(err, unix.ELOOP) || !errdefs.IsInvalidParameter(err) {
		t.Errorf("Stat(/loop): %v, want ELOOP as InvalidParameter", err)
	}
	w.checkHost(t)
}
