package archive_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/archive"
	"github.com/berth-project/berth/internal/archive/archivetest"
	"github.com/berth-project/berth/internal/testenv"
)

// capNetBindService is a security.capability value (VFS_CAP_REVISION_2,
// effective) granting cap_net_bind_service, as setcap writes it.
var capNetBindService = string([]byte{
	0x01, 0x00, 0x00, 0x02, // magic v2 | effective
	0x00, 0x04, 0x00, 0x00, // permitted, low word: bit 10
	0x00, 0x00, 0x00, 0x00, // inheritable, low
	0x00, 0x00, 0x00, 0x00, // permitted, high
	0x00, 0x00, 0x00, 0x00, // inheritable, high
})

// node describes one path of a test tree.
type node struct {
	path   string
	kind   byte // 'f' file, 'd' dir, 'l' symlink, 'h' hard link, 'p' fifo, 'c' char, 'b' block, 's' sparse file
	data   string
	mode   uint32
	uid    int
	gid    int
	target string // symlink target or hard link source
	dev    [2]uint32
	xattrs map[string]string
	mtime  time.Time
}

// makeTree builds nodes under root in order (parents first), then sets
// owners, modes, xattrs and, last and deepest first, times.
func makeTree(t *testing.T, root string, nodes []node) {
	t.Helper()
	for _, n := range nodes {
		p := filepath.Join(root, n.path)
		err := os.MkdirAll(filepath.Dir(p), 0o755)
		switch {
		case err != nil:
		case n.kind == 'd':
			err = os.Mkdir(p, 0o700)
		}
		if err != nil && !errors.Is(err, fs.ErrExist) {
			t.Fatalf("make %s: %v", n.path, err)
		}
		err = nil
		switch n.kind {
		case 'f':
			err = os.WriteFile(p, []byte(n.data), 0o600)
		case 's':
			var f *os.File
			if f, err = os.Create(p); err == nil {
				if _, err = f.WriteAt([]byte(n.data), 1<<20); err == nil {
					err = f.Truncate(3 << 20)
				}
				f.Close()
			}
		case 'l':
			err = os.Symlink(n.target, p)
		case 'h':
			err = os.Link(filepath.Join(root, n.target), p)
		case 'p':
			err = unix.Mkfifo(p, 0o600)
		case 'c':
			err = unix.Mknod(p, unix.S_IFCHR|0o600, int(unix.Mkdev(n.dev[0], n.dev[1])))
		case 'b':
			err = unix.Mknod(p, unix.S_IFBLK|0o600, int(unix.Mkdev(n.dev[0], n.dev[1])))
		}
		if err != nil {
			t.Fatalf("make %s: %v", n.path, err)
		}
	}
	for _, n := range nodes {
		if n.kind == 'h' {
			continue
		}
		p := filepath.Join(root, n.path)
		if err := os.Lchown(p, n.uid, n.gid); err != nil {
			t.Fatal(err)
		}
		if n.kind != 'l' {
			if err := unix.Chmod(p, n.mode); err != nil {
				t.Fatal(err)
			}
		}
		for k, v := range n.xattrs {
			if err := unix.Lsetxattr(p, k, []byte(v), 0); err != nil {
				t.Fatalf("setxattr %s %s: %v", n.path, k, err)
			}
		}
	}
	for i := len(nodes) - 1; i >= 0; i-- {
		n := nodes[i]
		if n.kind == 'h' {
			continue
		}
		ts := []unix.Timespec{unix.NsecToTimespec(n.mtime.UnixNano()), unix.NsecToTimespec(n.mtime.UnixNano())}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(root, n.path), ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			t.Fatal(err)
		}
	}
}

// everyType is a tree with every kind of entry a layer can hold.
func everyType() []node {
	ts := func(i int) time.Time { return time.Date(2023, 5, 6, 7, 8, 9, 123456789+i, time.UTC) }
	long := strings.Repeat("long-directory-name/", 6)
	return []node{
		{path: "etc", kind: 'd', mode: 0o755, mtime: ts(1), xattrs: map[string]string{"trusted.dir": "t"}},
		{path: "etc/passwd", kind: 'f', data: "root:x:0:0::/root:/bin/sh\n", mode: 0o644, mtime: ts(2)},
		{path: "etc/shadow", kind: 'f', data: "root:*:1::::::\n", mode: 0o640, gid: 42, mtime: ts(3)},
		{path: "empty", kind: 'f', mode: 0o600, uid: 1000, gid: 1000, mtime: ts(4)},
		{path: "bin", kind: 'd', mode: 0o755, mtime: ts(5)},
		{path: "bin/su", kind: 'f', data: "#!setuid", mode: 0o4755, mtime: ts(6)},
		{path: "bin/wall", kind: 'f', data: "#!setgid", mode: 0o2755, gid: 5, mtime: ts(7)},
		{path: "bin/ping", kind: 'f', data: "#!caps", mode: 0o755, mtime: ts(8), xattrs: map[string]string{"security.capability": capNetBindService}},
		{path: "bin/user", kind: 'f', data: "x", mode: 0o644, uid: 1234, gid: 5678, mtime: ts(9), xattrs: map[string]string{"user.mime_type": "text/plain", "trusted.md5": "abc\x00def"}},
		{path: "tmp", kind: 'd', mode: 0o1777, mtime: ts(10)},
		{path: "shared", kind: 'd', mode: 0o2775, gid: 100, mtime: ts(11)},
		{path: "ro", kind: 'd', mode: 0o555, uid: 7, gid: 7, mtime: ts(12)},
		{path: "ro/inside", kind: 'f', data: "in a read-only directory", mode: 0o444, mtime: ts(13)},
		{path: "ro/sub", kind: 'd', mode: 0o500, mtime: ts(14)},
		{path: "ro/sub/deep", kind: 'f', data: "deep", mode: 0o400, mtime: ts(15)},
		{path: "links", kind: 'd', mode: 0o755, mtime: ts(16)},
		{path: "links/rel", kind: 'l', target: "../etc/passwd", uid: 3, gid: 4, mtime: ts(17)},
		{path: "links/abs", kind: 'l', target: "/etc/passwd", mtime: ts(18)},
		{path: "links/dangling", kind: 'l', target: "nowhere/at/all", mtime: ts(19)},
		{path: "links/dir", kind: 'l', target: "../etc", mtime: ts(20), xattrs: map[string]string{"trusted.onlink": "yes"}},
		{path: "links/long", kind: 'l', target: strings.Repeat("x/", 120) + "end", mtime: ts(21)},
		{path: "big", kind: 'f', data: strings.Repeat("0123456789abcdef", 1<<16), mode: 0o644, mtime: ts(22)},
		{path: "sparse", kind: 's', data: "in the middle", mode: 0o644, mtime: ts(23)},
		{path: "hard1", kind: 'f', data: "linked three times", mode: 0o640, uid: 9, gid: 9, mtime: ts(24)},
		{path: "links/hard2", kind: 'h', target: "hard1"},
		{path: "etc/hard3", kind: 'h', target: "hard1"},
		{path: "dev", kind: 'd', mode: 0o755, mtime: ts(25)},
		{path: "dev/null", kind: 'c', dev: [2]uint32{1, 3}, mode: 0o666, mtime: ts(26)},
		{path: "dev/loop0", kind: 'b', dev: [2]uint32{7, 0}, mode: 0o660, gid: 6, mtime: ts(27)},
		{path: "dev/big", kind: 'c', dev: [2]uint32{4095, 1048575}, mode: 0o600, mtime: ts(28)},
		{path: "fifo", kind: 'p', mode: 0o620, uid: 11, mtime: ts(29)},
		{path: "name with spaces & ünïcødé", kind: 'f', data: "ok", mode: 0o644, mtime: ts(30)},
		{path: "a-very-" + strings.Repeat("long-", 40) + "name", kind: 'f', data: "long name", mode: 0o644, mtime: ts(31)},
		{path: strings.TrimSuffix(long, "/"), kind: 'd', mode: 0o755, mtime: ts(32)},
		{path: long + "file", kind: 'f', data: "deep and long", mode: 0o644, mtime: ts(33)},
		{path: ".wh-not-a-whiteout", kind: 'f', data: "a dot name", mode: 0o644, mtime: ts(34)},
		{path: "old", kind: 'f', data: "before 1970", mode: 0o644, mtime: time.Date(1960, 1, 1, 0, 0, 0, 5, time.UTC)},
	}
}

func buildEveryType(t *testing.T) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	makeTree(t, src, everyType())
	return src
}

func TestRoundTripEveryType(t *testing.T) {
	testenv.RequireRoot(t)
	src := buildEveryType(t)
	var layer bytes.Buffer
	if err := archive.WriteTar(context.Background(), &layer, src); err != nil {
		t.Fatal(err)
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			dst := t.TempDir()
			n, err := archive.Apply(context.Background(), dst, bytes.NewReader(layer.Bytes()), m.opt)
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(layer.Len()) {
				t.Errorf("Apply read %d bytes of %d", n, layer.Len())
			}
			// The long parent directories were implied, not entries.
			if err := archivetest.Compare(src, dst, archivetest.IgnoreXattrs("security.selinux")); err != nil {
				t.Fatal(err)
			}
		})
	}
	// The same layer again: every entry now replaces an existing one.
	t.Run("over itself", func(t *testing.T) {
		dst := t.TempDir()
		for range 2 {
			if _, err := archive.Apply(context.Background(), dst, bytes.NewReader(layer.Bytes())); err != nil {
				t.Fatal(err)
			}
		}
		if err := archivetest.Compare(src, dst); err != nil {
			t.Fatal(err)
		}
	})
}

// TestGNUTarInterop checks that GNU tar reads what WriteTar writes and
// that Apply reads what GNU tar writes, with xattrs and nanoseconds.
func TestGNUTarInterop(t *testing.T) {
	testenv.RequireRoot(t)
	src := buildEveryType(t)
	xattrFlags := []string{"--xattrs", "--xattrs-include=*", "--numeric-owner"}

	t.Run("gnu reads ours", func(t *testing.T) {
		var layer bytes.Buffer
		if err := archive.WriteTar(context.Background(), &layer, src); err != nil {
			t.Fatal(err)
		}
		dst := t.TempDir()
		cmd := exec.Command("tar", slices.Concat([]string{"-x", "-p", "-C", dst}, xattrFlags)...)
		cmd.Stdin = &layer
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("tar -x: %v\n%s", err, out)
		}
		// GNU tar sets directory times but leaves symlinks' own times.
		if err := archivetest.Compare(src, dst, archivetest.IgnoreTimes()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ours reads gnu", func(t *testing.T) {
		cmd := exec.Command("tar", slices.Concat([]string{"-c", "--format=pax", "-C", src, "."}, xattrFlags)...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("tar -c: %v", err)
		}
		dst := t.TempDir()
		if _, err := archive.Apply(context.Background(), dst, bytes.NewReader(out)); err != nil {
			t.Fatal(err)
		}
		if err := archivetest.Compare(src, dst); err != nil {
			t.Fatal(err)
		}
	})
}
