//go:build linux

package native

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/testenv"
)

// entry is everything copyTree promises to keep about one file.
type entry struct {
	mode       uint32
	uid, gid   uint32
	rdev       uint64
	size       int64
	blocks     int64 // for holes: a sparse copy must not grow much
	atim, mtim unix.Timespec
	link       string
	data       string
	xattrs     map[string]string
	group      string // the first path of the same inode, for hard links
}

func describe(t *testing.T, root string) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	first := map[[2]uint64]string{}
	err := filepath.WalkDir(root, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return err
		}
		e := entry{mode: st.Mode, uid: st.Uid, gid: st.Gid, rdev: st.Rdev, size: st.Size, blocks: st.Blocks,
			atim: st.Atim, mtim: st.Mtim, xattrs: map[string]string{}}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			e.data = string(b)
		case unix.S_IFLNK:
			if e.link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			key := [2]uint64{st.Dev, st.Ino}
			if f, ok := first[key]; ok {
				e.group = f
			} else {
				first[key] = rel
				e.group = rel
			}
		}
		names, err := listXattrs(path)
		if err != nil {
			return err
		}
		for _, n := range names {
			v, err := getXattr(path, n)
			if err != nil {
				return err
			}
			e.xattrs[n] = string(v)
		}
		out[rel] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCopyTree(t *testing.T) {
	testenv.RequireRoot(t)
	src := filepath.Join(t.TempDir(), "src")
	ok := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ok(os.MkdirAll(filepath.Join(src, "a", "b", "c"), 0o755))
	ok(os.WriteFile(filepath.Join(src, "a", "b", "c", "deep"), []byte("deep"), 0o644))
	ok(os.WriteFile(filepath.Join(src, "plain"), []byte("plain"), 0o644))
	ok(unix.Chmod(filepath.Join(src, "plain"), 0o4750))
	ok(os.Lchown(filepath.Join(src, "plain"), 1000, 1001))
	ok(unix.Chmod(filepath.Join(src, "a"), 0o2775))
	ok(os.Lchown(filepath.Join(src, "a"), 1000, 1000))
	ok(os.WriteFile(filepath.Join(src, "nothing"), nil, 0o000))
	ok(unix.Chmod(filepath.Join(src, "nothing"), 0))
	// Hard links across directories, and a hard-linked symlink.
	ok(os.Link(filepath.Join(src, "plain"), filepath.Join(src, "a", "b", "plain-link")))
	ok(os.Symlink(strings.Repeat("long/", 100)+"target", filepath.Join(src, "long-symlink")))
	ok(os.Link(filepath.Join(src, "long-symlink"), filepath.Join(src, "a", "symlink-link")))
	ok(os.Lchown(filepath.Join(src, "long-symlink"), 7, 8))
	ok(unix.Mknod(filepath.Join(src, "chr"), unix.S_IFCHR|0o620, int(unix.Mkdev(5, 1))))
	ok(unix.Mknod(filepath.Join(src, "blk"), unix.S_IFBLK|0o660, int(unix.Mkdev(7, 0))))
	ok(unix.Mkfifo(filepath.Join(src, "fifo"), 0o640))
	ok(unix.Mknod(filepath.Join(src, "sock"), unix.S_IFSOCK|0o755, 0))
	// Extended attributes of each namespace a layer may carry.
	ok(unix.Lsetxattr(filepath.Join(src, "plain"), "user.one", []byte("1"), 0))
	ok(unix.Lsetxattr(filepath.Join(src, "plain"), "trusted.two", []byte("2"), 0))
	ok(unix.Lsetxattr(filepath.Join(src, "a"), "trusted.overlay.opaque", []byte("y"), 0))
	ok(unix.Lsetxattr(filepath.Join(src, "long-symlink"), "trusted.sym", []byte("s"), 0))
	// A file capability, which chown would clear if set before it.
	vfsCap := []byte{0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	ok(unix.Lsetxattr(filepath.Join(src, "plain"), "security.capability", vfsCap, 0))
	// A sparse file: 1 MiB hole, 4 KiB of data, 1 MiB hole.
	sparse, err := os.OpenFile(filepath.Join(src, "sparse"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	ok(err)
	_, err = sparse.WriteAt([]byte(strings.Repeat("d", 4096)), 1<<20)
	ok(err)
	ok(sparse.Truncate(2<<20 + 4096))
	ok(sparse.Close())
	// Times last, directories included.
	for i, p := range []string{"plain", "a", "a/b", "long-symlink", "fifo", "sparse", ""} {
		ts := []unix.Timespec{{Sec: int64(1e9 + i), Nsec: 123}, {Sec: int64(1.1e9 + i), Nsec: 456789}}
		ok(unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(src, p), ts, unix.AT_SYMLINK_NOFOLLOW))
	}

	dst := filepath.Join(t.TempDir(), "dst")
	ok(copyTree(context.Background(), src, dst))

	want, got := describe(t, src), describe(t, dst)
	for p, w := range want {
		g, found := got[p]
		if !found {
			t.Errorf("%s: missing in the copy", p)
			continue
		}
		if p == "sparse" {
			if g.blocks > w.blocks+64 {
				t.Errorf("sparse: %d blocks in the copy, %d in the source: holes were filled", g.blocks, w.blocks)
			}
			g.blocks = w.blocks
		}
		switch w.mode & unix.S_IFMT {
		case unix.S_IFREG, unix.S_IFDIR, unix.S_IFLNK:
			// Reading a file, directory or link (as the copy and
			// describe do) moves its access time on: the copy has
			// the time from before.
			g.atim = w.atim
		}
		if w.mode&unix.S_IFMT == unix.S_IFDIR {
			// Directory sizes and blocks depend on their history.
			g.size, g.blocks = w.size, w.blocks
		}
		if fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("%s:\n copy   %+v\n source %+v", p, g, w)
		}
	}
	for p := range got {
		if _, found := want[p]; !found {
			t.Errorf("%s: in the copy only", p)
		}
	}
}

func TestCopyTreeRefusesExistingTarget(t *testing.T) {
	testenv.RequireRoot(t)
	src, dst := t.TempDir(), t.TempDir()
	if err := copyTree(context.Background(), src, dst); !errors.Is(err, fs.ErrExist) {
		t.Errorf("copy onto an existing directory: %v, want ErrExist", err)
	}
}

func TestCopyTreeCancelled(t *testing.T) {
	testenv.RequireRoot(t)
	src := t.TempDir()
	for i := range 10 {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprint(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := copyTree(ctx, src, filepath.Join(t.TempDir(), "dst")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled copy: %v", err)
	}
}

func BenchmarkCopyTree(b *testing.B) {
	testenv.RequireRoot(b)
	src := b.TempDir()
	for i := range 1000 {
		dir := filepath.Join(src, fmt.Sprint(i%50))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(i)), []byte(strings.Repeat("x", i*10)), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	base := b.TempDir()
	n := 0
	for b.Loop() {
		n++
		if err := copyTree(context.Background(), src, filepath.Join(base, fmt.Sprint(n))); err != nil {
			b.Fatal(err)
		}
	}
}
