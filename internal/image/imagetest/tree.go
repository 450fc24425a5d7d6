package imagetest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// CompareOpt configures CompareTrees.
type CompareOpt func(*compareOptions)

type compareOptions struct {
	mtimes, content bool
	ignore          []string
	ignoreXattrs    []string
}

// CompareMtimes also compares modification times (to the nanosecond),
// of every entry including directories and symlinks.
func CompareMtimes() CompareOpt { return func(o *compareOptions) { o.mtimes = true } }

// CompareContent also compares the SHA-256 of regular files.
func CompareContent() CompareOpt { return func(o *compareOptions) { o.content = true } }

// Ignore skips paths matching any pattern (path.Match syntax, on
// slash-separated paths relative to the tree's root, such as "proc" or
// "data/*"), and everything under a matching directory.
func Ignore(patterns ...string) CompareOpt {
	return func(o *compareOptions) { o.ignore = append(o.ignore, patterns...) }
}

// IgnoreXattrs skips extended attributes with any of these name prefixes,
// such as "security.selinux" that a host may add on its own.
func IgnoreXattrs(prefixes ...string) CompareOpt {
	return func(o *compareOptions) { o.ignoreXattrs = append(o.ignoreXattrs, prefixes...) }
}

// CompareTrees fails t, listing every difference, unless the directory
// trees a and b hold the same paths with the same type, permission and
// setuid/setgid/sticky bits, owner, size (regular files), symlink target,
// device number, extended attributes and hard-link grouping (two paths
// that share an inode in one tree must share one in the other), and, with
// options, mtimes and content. It is how a test checks that Berth unpacks
// an image into the same tree as umoci does (UmociUnpack).
func CompareTrees(t testing.TB, a, b string, opts ...CompareOpt) {
	t.Helper()
	diffs, err := compareTrees(a, b, opts...)
	if err != nil {
		t.Fatalf("imagetest: CompareTrees: %v", err)
	}
	if len(diffs) == 0 {
		return
	}
	const show = 100
	more := ""
	if len(diffs) > show {
		more = fmt.Sprintf("\n... and %d more", len(diffs)-show)
		diffs = diffs[:show]
	}
	t.Errorf("imagetest: trees differ (a=%s, b=%s):\n%s%s", a, b, strings.Join(diffs, "\n"), more)
}

// node is what CompareTrees compares of one path.
type node struct {
	typ      fs.FileMode
	perm     fs.FileMode // permission, setuid, setgid, sticky
	uid, gid uint32
	size     int64
	target   string
	rdev     uint64
	xattrs   map[string]string
	linkedTo string // the first path (sorted) sharing this inode, if another does
	mtime    time.Time
	sum      string
}

func compareTrees(a, b string, opts ...CompareOpt) ([]string, error) {
	var o compareOptions
	for _, opt := range opts {
		opt(&o)
	}
	ta, err := scanTree(a, o)
	if err != nil {
		return nil, err
	}
	tb, err := scanTree(b, o)
	if err != nil {
		return nil, err
	}
	var diffs []string
	paths := slices.Sorted(func(yield func(string) bool) {
		seen := map[string]bool{}
		for _, m := range []map[string]*node{ta, tb} {
			for p := range m {
				if !seen[p] {
					seen[p] = true
					if !yield(p) {
						return
					}
				}
			}
		}
	})
	for _, p := range paths {
		na, nb := ta[p], tb[p]
		switch {
		case nb == nil:
			diffs = append(diffs, p+": only in a")
			continue
		case na == nil:
			diffs = append(diffs, p+": only in b")
			continue
		}
		add := func(what string, x, y any) {
			diffs = append(diffs, fmt.Sprintf("%s: %s %v != %v", p, what, x, y))
		}
		if na.typ != nb.typ {
			add("type", typeName(na.typ), typeName(nb.typ))
			continue
		}
		if na.perm != nb.perm {
			add("mode", fmt.Sprintf("%#o", modeBits(na.perm)), fmt.Sprintf("%#o", modeBits(nb.perm)))
		}
		if na.uid != nb.uid || na.gid != nb.gid {
			add("owner", fmt.Sprintf("%d:%d", na.uid, na.gid), fmt.Sprintf("%d:%d", nb.uid, nb.gid))
		}
		if na.size != nb.size {
			add("size", na.size, nb.size)
		}
		if na.target != nb.target {
			add("symlink target", fmt.Sprintf("%q", na.target), fmt.Sprintf("%q", nb.target))
		}
		if na.rdev != nb.rdev {
			add("device", fmt.Sprintf("%d:%d", unix.Major(na.rdev), unix.Minor(na.rdev)),
				fmt.Sprintf("%d:%d", unix.Major(nb.rdev), unix.Minor(nb.rdev)))
		}
		if fmt.Sprint(na.xattrs) != fmt.Sprint(nb.xattrs) { // fmt sorts map keys
			add("xattrs", na.xattrs, nb.xattrs)
		}
		if na.linkedTo != nb.linkedTo {
			add("hard link to", fmt.Sprintf("%q", na.linkedTo), fmt.Sprintf("%q", nb.linkedTo))
		}
		if o.mtimes && !na.mtime.Equal(nb.mtime) {
			add("mtime", na.mtime.UTC().Format(time.RFC3339Nano), nb.mtime.UTC().Format(time.RFC3339Nano))
		}
		if o.content && na.sum != nb.sum {
			add("content sha256", na.sum, nb.sum)
		}
	}
	return diffs, nil
}

func modeBits(m fs.FileMode) uint32 {
	bits := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		bits |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		bits |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		bits |= 0o1000
	}
	return bits
}

func typeName(m fs.FileMode) string {
	switch {
	case m == 0:
		return "file"
	case m&fs.ModeDir != 0:
		return "directory"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "char device"
	case m&fs.ModeDevice != 0:
		return "block device"
	}
	return m.String()
}

func (o compareOptions) ignored(rel string) bool {
	for _, pat := range o.ignore {
		// A pattern also covers everything under a matching directory.
		for p := rel; p != "."; p = path.Dir(p) {
			if ok, _ := path.Match(pat, p); ok {
				return true
			}
		}
		if ok, _ := path.Match(pat, rel); ok {
			return true
		}
	}
	return false
}

func scanTree(root string, o compareOptions) (map[string]*node, error) {
	tree := map[string]*node{}
	type inode struct{ dev, ino uint64 }
	byInode := map[inode][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if o.ignored(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no stat_t", p)
		}
		n := &node{
			typ:   fi.Mode().Type(),
			perm:  fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky),
			uid:   st.Uid,
			gid:   st.Gid,
			mtime: fi.ModTime(),
		}
		switch {
		case fi.Mode().IsRegular():
			n.size = fi.Size()
			if st.Nlink > 1 {
				k := inode{uint64(st.Dev), st.Ino}
				byInode[k] = append(byInode[k], rel)
			}
			if o.content {
				if n.sum, err = fileSum(p); err != nil {
					return err
				}
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			if n.target, err = os.Readlink(p); err != nil {
				return err
			}
		case fi.Mode()&fs.ModeDevice != 0:
			n.rdev = st.Rdev
		}
		if n.xattrs, err = readXattrs(p, o.ignoreXattrs); err != nil {
			return err
		}
		tree[rel] = n
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, paths := range byInode {
		if len(paths) < 2 {
			continue // its other names are outside the tree (or ignored)
		}
		slices.Sort(paths)
		for _, p := range paths {
			tree[p].linkedTo = paths[0]
		}
	}
	return tree, nil
}

func fileSum(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func readXattrs(p string, ignore []string) (map[string]string, error) {
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(p, buf)
	if errors.Is(err, unix.ERANGE) {
		if n, err = unix.Llistxattr(p, nil); err == nil {
			buf = make([]byte, n)
			n, err = unix.Llistxattr(p, buf)
		}
	}
	if errors.Is(err, unix.ENOTSUP) {
		return nil, nil
	}
	if err != nil {
		return nil, &fs.PathError{Op: "llistxattr", Path: p, Err: err}
	}
	var xattrs map[string]string
	for name := range strings.SplitSeq(string(buf[:n]), "\x00") {
		if name == "" || slices.ContainsFunc(ignore, func(pre string) bool { return strings.HasPrefix(name, pre) }) {
			continue
		}
		val := make([]byte, 4096)
		vn, err := unix.Lgetxattr(p, name, val)
		if errors.Is(err, unix.ERANGE) {
			if vn, err = unix.Lgetxattr(p, name, nil); err == nil {
				val = make([]byte, vn)
				vn, err = unix.Lgetxattr(p, name, val)
			}
		}
		if err != nil {
			return nil, &fs.PathError{Op: "lgetxattr " + name, Path: p, Err: err}
		}
		if xattrs == nil {
			xattrs = map[string]string{}
		}
		xattrs[name] = string(val[:vn])
	}
	return xattrs, nil
}
