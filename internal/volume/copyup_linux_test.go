package volume

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/testenv"
)

const secret = "SECRET-OUTSIDE-THE-ROOT"

// hostileRootfs builds a container root whose /data holds every kind of
// entry, links that point out of the root among them, and a file outside
// the root that nothing may copy.
func hostileRootfs(t *testing.T) (rootfs, outside string) {
	t.Helper()
	base := t.TempDir()
	rootfs = filepath.Join(base, "rootfs")
	outside = filepath.Join(base, "outside")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(outside, 0o755))
	must(os.WriteFile(filepath.Join(outside, "secret"), []byte(secret), 0o644))
	data := filepath.Join(rootfs, "data")
	must(os.MkdirAll(filepath.Join(data, "sub", "dir"), 0o755))
	must(os.MkdirAll(filepath.Join(data, "emptydir"), 0o700))
	must(os.MkdirAll(filepath.Join(rootfs, "etc"), 0o755))
	must(os.WriteFile(filepath.Join(rootfs, "etc", "inside"), []byte("in the image"), 0o644))
	must(os.WriteFile(filepath.Join(data, "file.txt"), []byte("hello"), 0o640))
	must(os.Chown(filepath.Join(data, "file.txt"), 1001, 1002))
	must(unix.Lsetxattr(filepath.Join(data, "file.txt"), "user.test", []byte("val"), 0))
	must(os.WriteFile(filepath.Join(data, "setuid"), []byte("#!/bin/sh\n"), 0o755))
	must(unix.Chmod(filepath.Join(data, "setuid"), 0o4755))
	must(os.WriteFile(filepath.Join(data, "sub", "dir", "deep.txt"), []byte("deep"), 0o600))
	must(os.WriteFile(filepath.Join(data, "hard1"), []byte("linked"), 0o644))
	must(os.Link(filepath.Join(data, "hard1"), filepath.Join(data, "hard2")))
	must(os.Link(filepath.Join(data, "hard1"), filepath.Join(data, "sub", "hard3")))
	must(os.Symlink("/etc/shadow", filepath.Join(data, "shadow")))
	must(os.Symlink(filepath.Join(outside, "secret"), filepath.Join(data, "abs")))
	must(os.Symlink(strings.Repeat("../", 12)+strings.TrimPrefix(filepath.Join(outside, "secret"), "/"), filepath.Join(data, "up")))
	must(os.Symlink("../", filepath.Join(data, "dotdot")))
	must(os.Symlink("/etc", filepath.Join(data, "linkdir")))
	must(os.Symlink(outside, filepath.Join(data, "sub", "out")))
	must(unix.Mkfifo(filepath.Join(data, "fifo"), 0o600))
	must(os.Chmod(filepath.Join(data, "fifo"), 0o620))
	must(unix.Mknod(filepath.Join(data, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	// A socket: bound, then its fd closed; the file stays.
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	must(err)
	must(unix.Bind(fd, &unix.SockaddrUnix{Name: filepath.Join(data, "sock")}))
	unix.Close(fd)
	must(os.Symlink("/etc", filepath.Join(rootfs, "mnt")))
	must(os.Chown(data, 1000, 1000))
	must(os.Chmod(data, 0o750))
	stamp := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, p := range []string{"file.txt", "sub/dir/deep.txt", "sub/dir", "sub", "emptydir", "."} {
		must(os.Chtimes(filepath.Join(data, p), stamp, stamp))
	}
	must(unix.Lutimes(filepath.Join(data, "shadow"), []unix.Timeval{unix.NsecToTimeval(stamp.UnixNano()), unix.NsecToTimeval(stamp.UnixNano())}))
	return rootfs, outside
}

// assertNothingFromOutside fails if any regular file under dst holds the
// secret.
func assertNothingFromOutside(t *testing.T, dst string) {
	t.Helper()
	_ = filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds content from outside the root", p)
		}
		return nil
	})
}

func TestCopyUpHostileTree(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	ctx := context.Background()
	rootfs, outside := hostileRootfs(t)
	dst := t.TempDir()
	if err := CopyUp(ctx, rootfs, "/data", dst); err != nil {
		t.Fatal(err)
	}
	assertNothingFromOutside(t, dst)
	lstat := func(rel string) *unix.Stat_t {
		t.Helper()
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(dst, rel), &st); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		return &st
	}
	// Links are copied as links, targets untouched.
	for rel, target := range map[string]string{
		"shadow":  "/etc/shadow",
		"abs":     filepath.Join(outside, "secret"),
		"up":      strings.Repeat("../", 12) + strings.TrimPrefix(filepath.Join(outside, "secret"), "/"),
		"dotdot":  "../",
		"linkdir": "/etc",
		"sub/out": outside,
	} {
		got, err := os.Readlink(filepath.Join(dst, rel))
		if err != nil || got != target {
			t.Errorf("%s: link to %q (%v), want %q", rel, got, err, target)
		}
	}
	stamp := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC).Unix()
	if st := lstat("shadow"); st.Mtim.Sec != stamp {
		t.Errorf("symlink mtime %d, want %d", st.Mtim.Sec, stamp)
	}
	// Regular files with content, owner, mode, times, xattrs.
	if b, _ := os.ReadFile(filepath.Join(dst, "file.txt")); string(b) != "hello" {
		t.Errorf("file.txt: %q", b)
	}
	if st := lstat("file.txt"); st.Uid != 1001 || st.Gid != 1002 || st.Mode&0o7777 != 0o640 || st.Mtim.Sec != stamp {
		t.Errorf("file.txt metadata: uid %d gid %d mode %o mtime %d", st.Uid, st.Gid, st.Mode&0o7777, st.Mtim.Sec)
	}
	buf := make([]byte, 16)
	if n, err := unix.Lgetxattr(filepath.Join(dst, "file.txt"), "user.test", buf); err != nil || string(buf[:n]) != "val" {
		t.Errorf("xattr: %q %v", buf[:n], err)
	}
	if st := lstat("setuid"); st.Mode&0o7777 != 0o4755 {
		t.Errorf("setuid mode %o", st.Mode&0o7777)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "sub", "dir", "deep.txt")); string(b) != "deep" {
		t.Errorf("deep.txt: %q", b)
	}
	for _, rel := range []string{"sub/dir", "sub", "emptydir"} {
		if st := lstat(rel); st.Mode&unix.S_IFMT != unix.S_IFDIR || st.Mtim.Sec != stamp {
			t.Errorf("%s: mode %o mtime %d", rel, st.Mode, st.Mtim.Sec)
		}
	}
	if st := lstat("emptydir"); st.Mode&0o7777 != 0o700 {
		t.Errorf("emptydir mode %o", st.Mode&0o7777)
	}
	// Hard links stay hard links, within the tree.
	h1, h2, h3 := lstat("hard1"), lstat("hard2"), lstat("sub/hard3")
	if h1.Ino != h2.Ino || h1.Ino != h3.Ino || h1.Nlink != 3 {
		t.Errorf("hard links: inodes %d %d %d, nlink %d", h1.Ino, h2.Ino, h3.Ino, h1.Nlink)
	}
	// Special files are made, never opened.
	if st := lstat("fifo"); st.Mode&unix.S_IFMT != unix.S_IFIFO || st.Mode&0o777 != 0o620 {
		t.Errorf("fifo: mode %o", st.Mode)
	}
	if st := lstat("null"); st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("null: mode %o rdev %d", st.Mode, st.Rdev)
	}
	if _, err := os.Lstat(filepath.Join(dst, "sock")); !os.IsNotExist(err) {
		t.Errorf("socket copied: %v", err)
	}
	// The top directory takes the image directory's owner and mode.
	if st := lstat("."); st.Uid != 1000 || st.Gid != 1000 || st.Mode&0o7777 != 0o750 || st.Mtim.Sec != stamp {
		t.Errorf("top: uid %d gid %d mode %o mtime %d", st.Uid, st.Gid, st.Mode&0o7777, st.Mtim.Sec)
	}
}

func TestCopyUpResolvesInsideRoot(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	ctx := context.Background()
	rootfs, _ := hostileRootfs(t)
	for _, p := range []string{"/mnt", "mnt/", "/../../mnt", "/data/linkdir", "/data/dotdot/data/dotdot/etc"} {
		dst := t.TempDir()
		if err := CopyUp(ctx, rootfs, p, dst); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		entries, _ := os.ReadDir(dst)
		if len(entries) != 1 || entries[0].Name() != "inside" {
			t.Errorf("%s copied %v, want the image's /etc (inside only)", p, entries)
		}
	}
	// ../ in the path stays in the root.
	dst := t.TempDir()
	if err := CopyUp(ctx, rootfs, "/../../../data/sub/dir/..", dst); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dst, "dir")); err != nil {
		t.Errorf("/../../../data/sub/dir/.. should be /data/sub inside the root: %v", err)
	}
	// A link to outside, resolved in the root, leads to nothing there.
	dst = t.TempDir()
	if err := CopyUp(ctx, rootfs, "/data/sub/out", dst); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dst); len(entries) != 0 {
		t.Errorf("copied from outside the root: %v", entries)
	}
}

func TestCopyUpOnlyIntoEmpty(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	ctx := context.Background()
	rootfs, _ := hostileRootfs(t)
	dst := t.TempDir()
	if err := os.WriteFile(filepath.Join(dst, "mine"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CopyUp(ctx, rootfs, "/data", dst); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dst); len(entries) != 1 {
		t.Fatalf("copied into a volume that has data: %v", entries)
	}
	if fi, _ := os.Stat(dst); fi.Mode().Perm() == 0o750 {
		t.Fatal("a used volume's top directory was changed")
	}
	empty := t.TempDir()
	if err := CopyUp(ctx, rootfs, "/no/such/dir", empty); err != nil {
		t.Fatalf("missing source: %v", err)
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Fatalf("missing source copied %v", entries)
	}
	if err := CopyUp(ctx, rootfs, "/data/file.txt", empty); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("file source: %v", err)
	}
}

// TestCopyUpRace swaps a directory of the tree with a symlink to outside
// the root while copying: whatever each copy sees, it never copies what
// is outside.
func TestCopyUpRace(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	ctx := context.Background()
	rootfs, outside := hostileRootfs(t)
	data := filepath.Join(rootfs, "data")
	for i := range 20 {
		d := filepath.Join(data, "sw", "d"+string(rune('a'+i)))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "ok"), []byte("fine"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(data, "swalt")); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = unix.Renameat2(unix.AT_FDCWD, filepath.Join(data, "sw"), unix.AT_FDCWD, filepath.Join(data, "swalt"), unix.RENAME_EXCHANGE)
		}
	}()
	deadline := time.Now().Add(500 * time.Millisecond)
	for n := 0; n < 200 && time.Now().Before(deadline); n++ {
		dst := t.TempDir()
		// A copy may fail (an entry changed under it); it must never
		// take anything from outside.
		_ = CopyUp(ctx, rootfs, "/data", dst)
		assertNothingFromOutside(t, dst)
		if _, err := os.Lstat(filepath.Join(dst, "swalt", "secret")); err == nil {
			if fi, _ := os.Lstat(filepath.Join(dst, "swalt")); fi.Mode()&fs.ModeSymlink == 0 {
				t.Fatal("followed a swapped-in symlink")
			}
		}
	}
	close(stop)
	wg.Wait()
}

func TestCopyUpCancelled(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	rootfs, _ := hostileRootfs(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := CopyUp(ctx, rootfs, "/data", t.TempDir()); err == nil {
		t.Fatal("a cancelled copy-up succeeded")
	}
}
