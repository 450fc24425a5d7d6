package imagetest

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/berth-project/berth/internal/testenv"
	"golang.org/x/sys/unix"
)

// CheckBusyboxTree fails t unless rootfs is what applying every layer of a
// BusyboxImage gives: the special entries of layer 2 with their exact
// types, modes, owners (when run as root), link targets, xattr and
// SpecialDir's mtime, the whiteouts applied (deleted paths gone, the opaque
// directory holding only layer 2's entry) and no whiteout file left over.
// It is the unpack test every image unpacker of Berth can share.
func CheckBusyboxTree(t testing.TB, rootfs string) {
	t.Helper()
	asRoot := os.Geteuid() == 0
	at := func(p string) string { return filepath.Join(rootfs, p) }
	lstat := func(p string) (fs.FileInfo, *syscall.Stat_t) {
		t.Helper()
		fi, err := os.Lstat(at(p))
		if err != nil {
			t.Errorf("imagetest: %s: %v", p, err)
			return nil, nil
		}
		return fi, fi.Sys().(*syscall.Stat_t)
	}
	wantMode := func(p string, want fs.FileMode) {
		t.Helper()
		if fi, _ := lstat(p); fi != nil && fi.Mode() != want {
			t.Errorf("imagetest: %s: mode %v, want %v", p, fi.Mode(), want)
		}
	}
	wantOwner := func(p string, uid, gid uint32) {
		t.Helper()
		if _, st := lstat(p); asRoot && st != nil && (st.Uid != uid || st.Gid != gid) {
			t.Errorf("imagetest: %s: owner %d:%d, want %d:%d", p, st.Uid, st.Gid, uid, gid)
		}
	}
	wantLink := func(p, target string) {
		t.Helper()
		if got, err := os.Readlink(at(p)); err != nil || got != target {
			t.Errorf("imagetest: %s: symlink to %q (%v), want %q", p, got, err, target)
		}
	}
	wantGone := func(p string) {
		t.Helper()
		if _, err := os.Lstat(at(p)); err == nil {
			t.Errorf("imagetest: %s exists; a whiteout in layer 2 deletes it", p)
		}
	}
	wantContent := func(p, want string) {
		t.Helper()
		if got, err := os.ReadFile(at(p)); err != nil || string(got) != want {
			t.Errorf("imagetest: %s holds %q (%v), want %q", p, got, err, want)
		}
	}

	wantMode("bin/busybox", 0o755)
	wantLink("bin/sh", "busybox")
	wantMode("tmp", fs.ModeDir|fs.ModeSticky|0o777)
	wantMode("root", fs.ModeDir|0o700)
	wantContent("etc/passwd", passwd)
	wantContent(MotdPath, MotdContent)
	if b, err := os.ReadFile(at(PlatformPath)); err != nil || !strings.HasPrefix(string(b), "linux/") {
		t.Errorf("imagetest: %s holds %q (%v), want a platform", PlatformPath, b, err)
	}
	wantOwner("home/berth", testenv.TestUID, testenv.TestGID)

	wantMode(SpecialDir, fs.ModeDir|0o750)
	wantOwner(SpecialDir, SpecialDirUID, SpecialDirGID)
	if fi, _ := lstat(SpecialDir); fi != nil && !fi.ModTime().Equal(SpecialDirMtime) {
		t.Errorf("imagetest: %s: mtime %v, want %v (set after its entries were written)", SpecialDir, fi.ModTime().UTC(), SpecialDirMtime)
	}
	wantMode(OwnedPath, 0o640)
	wantOwner(OwnedPath, testenv.TestUID, testenv.TestGID)
	_, a := lstat(HardlinkPath)
	_, b := lstat(HardlinkTarget)
	if a != nil && b != nil && (a.Ino != b.Ino || a.Dev != b.Dev) {
		t.Errorf("imagetest: %s is not a hard link to %s", HardlinkPath, HardlinkTarget)
	}
	wantLink(SymlinkPath, "hardlink-target")
	wantLink(AbsSymlinkPath, "/"+MotdPath)
	val := make([]byte, 64)
	if n, err := unix.Lgetxattr(at(XattrPath), XattrName, val); err != nil || string(val[:n]) != XattrValue {
		t.Errorf("imagetest: %s: xattr %s = %q (%v), want %q", XattrPath, XattrName, val[:max(n, 0)], err, XattrValue)
	}
	wantMode(SetuidPath, fs.ModeSetuid|0o755)
	wantMode(SetgidPath, fs.ModeSetgid|0o755)
	wantMode(FifoPath, fs.ModeNamedPipe|0o600)

	wantGone(WhiteoutPath)
	wantGone(WhiteoutDir)
	wantMode("var/cache", fs.ModeDir|0o755)
	if entries, err := os.ReadDir(at(OpaqueDir)); err != nil {
		t.Errorf("imagetest: %s: %v", OpaqueDir, err)
	} else if names := dirNames(entries); !slices.Equal(names, []string{"new"}) {
		t.Errorf("imagetest: opaque %s holds %v, want only [new]", OpaqueDir, names)
	}
	_ = filepath.WalkDir(rootfs, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".wh.") {
			t.Errorf("imagetest: whiteout file %s left in the tree", p)
		}
		return nil
	})
}

func dirNames(entries []fs.DirEntry) []string {
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
