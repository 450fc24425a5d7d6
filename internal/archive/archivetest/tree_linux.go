// Package archivetest compares directory trees exactly, for tests of
// anything that writes trees: layer apply, snapshot commit, image unpack.
//
//	if err := archivetest.Compare(want, got); err != nil {
//		t.Fatal(err) // lists every path that differs and how
//	}
package archivetest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Node is what Compare sees of one path.
type Node struct {
	Path   string // relative to the tree, "." for its root
	Type   fs.FileMode
	Mode   uint32 // permission bits with setuid, setgid, sticky
	UID    uint32
	GID    uint32
	Size   int64 // regular files only
	Mtime  time.Time
	Link   string // symlink target
	Rdev   uint64 // devices only
	Xattrs map[string]string
	Digest string   // sha256 of a regular file's content
	Links  []string // the other paths of the tree with the same inode
}

// Option relaxes Compare.
type Option func(*options)

type options struct {
	root       bool
	dirTimes   bool
	times      bool
	owner      bool
	xattrSkips []string
}

// WithRoot compares the metadata of the two roots too (not by default:
// the root is the caller's directory, not part of what was written).
func WithRoot() Option { return func(o *options) { o.root = true } }

// IgnoreDirTimes skips the mtimes of directories.
func IgnoreDirTimes() Option { return func(o *options) { o.dirTimes = false } }

// IgnoreTimes skips every mtime.
func IgnoreTimes() Option { return func(o *options) { o.times = false } }

// IgnoreOwner skips uid and gid.
func IgnoreOwner() Option { return func(o *options) { o.owner = false } }

// IgnoreXattrs skips xattrs whose name starts with prefix.
func IgnoreXattrs(prefix string) Option {
	return func(o *options) { o.xattrSkips = append(o.xattrSkips, prefix) }
}

func makeOptions(opts []Option) options {
	o := options{dirTimes: true, times: true, owner: true}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// ReadTree reads every path under root, never following symlinks.
func ReadTree(root string, opts ...Option) (map[string]Node, error) {
	o := makeOptions(opts)
	out := map[string]Node{}
	inodes := map[[2]uint64][]string{}
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		n, ino, err := readNode(p, rel, o)
		if err != nil {
			return err
		}
		if n.Type.IsRegular() {
			inodes[ino] = append(inodes[ino], rel)
		}
		out[rel] = n
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, paths := range inodes {
		if len(paths) < 2 {
			continue
		}
		for _, p := range paths {
			n := out[p]
			for _, q := range paths {
				if q != p {
					n.Links = append(n.Links, q)
				}
			}
			slices.Sort(n.Links)
			out[p] = n
		}
	}
	return out, nil
}

func readNode(p, rel string, o options) (Node, [2]uint64, error) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return Node{}, [2]uint64{}, &os.PathError{Op: "lstat", Path: p, Err: err}
	}
	n := Node{
		Path:  rel,
		Mode:  st.Mode & 0o7777,
		UID:   st.Uid,
		GID:   st.Gid,
		Mtime: time.Unix(st.Mtim.Sec, st.Mtim.Nsec),
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		n.Size = st.Size
		d, err := digest(p)
		if err != nil {
			return n, [2]uint64{}, err
		}
		n.Digest = d
	case unix.S_IFDIR:
		n.Type = fs.ModeDir
	case unix.S_IFLNK:
		n.Type = fs.ModeSymlink
		n.Mode = 0 // not settable on Linux
		l, err := os.Readlink(p)
		if err != nil {
			return n, [2]uint64{}, err
		}
		n.Link = l
	case unix.S_IFCHR:
		n.Type, n.Rdev = fs.ModeDevice|fs.ModeCharDevice, st.Rdev
	case unix.S_IFBLK:
		n.Type, n.Rdev = fs.ModeDevice, st.Rdev
	case unix.S_IFIFO:
		n.Type = fs.ModeNamedPipe
	case unix.S_IFSOCK:
		n.Type = fs.ModeSocket
	}
	xs, err := xattrs(p)
	if err != nil {
		return n, [2]uint64{}, err
	}
	for k, v := range xs {
		if !skipped(k, o.xattrSkips) {
			if n.Xattrs == nil {
				n.Xattrs = map[string]string{}
			}
			n.Xattrs[k] = v
		}
	}
	return n, [2]uint64{uint64(st.Dev), st.Ino}, nil
}

func skipped(name string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func digest(p string) (string, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
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

func xattrs(p string) (map[string]string, error) {
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(p, buf)
	if errors.Is(err, unix.ENOTSUP) {
		return nil, nil
	}
	if err != nil {
		return nil, &os.PathError{Op: "llistxattr", Path: p, Err: err}
	}
	out := map[string]string{}
	for _, name := range strings.Split(string(buf[:n]), "\x00") {
		if name == "" {
			continue
		}
		vb := make([]byte, 64<<10)
		m, err := unix.Lgetxattr(p, name, vb)
		if err != nil {
			return nil, &os.PathError{Op: "lgetxattr " + name, Path: p, Err: err}
		}
		out[name] = string(vb[:m])
	}
	return out, nil
}

// Compare reports every difference between the trees at want and got, one
// path a line; nil when they are the same.
func Compare(want, got string, opts ...Option) error {
	o := makeOptions(opts)
	a, err := ReadTree(want, opts...)
	if err != nil {
		return err
	}
	b, err := ReadTree(got, opts...)
	if err != nil {
		return err
	}
	var diffs []string
	for _, p := range sortedKeys(a, b) {
		if p == "." && !o.root {
			continue
		}
		x, inA := a[p]
		y, inB := b[p]
		switch {
		case !inA:
			diffs = append(diffs, fmt.Sprintf("%s: unexpected %s", p, describe(y)))
		case !inB:
			diffs = append(diffs, fmt.Sprintf("%s: missing (want %s)", p, describe(x)))
		default:
			if d := nodeDiff(x, y, o); d != "" {
				diffs = append(diffs, p+": "+d)
			}
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	return fmt.Errorf("trees %s and %s differ:\n  %s", want, got, strings.Join(diffs, "\n  "))
}

func sortedKeys(a, b map[string]Node) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func describe(n Node) string {
	switch {
	case n.Type.IsDir():
		return "directory"
	case n.Type&fs.ModeSymlink != 0:
		return "symlink -> " + n.Link
	case n.Type.IsRegular():
		return fmt.Sprintf("file of %d bytes", n.Size)
	}
	return n.Type.String()
}

func nodeDiff(x, y Node, o options) string {
	var d []string
	add := func(what string, want, got any) {
		d = append(d, fmt.Sprintf("%s %v, want %v", what, got, want))
	}
	if x.Type != y.Type {
		add("type", x.Type, y.Type)
		return strings.Join(d, "; ")
	}
	if x.Mode != y.Mode {
		add("mode", fmt.Sprintf("%#o", x.Mode), fmt.Sprintf("%#o", y.Mode))
	}
	if o.owner && (x.UID != y.UID || x.GID != y.GID) {
		add("owner", fmt.Sprintf("%d:%d", x.UID, x.GID), fmt.Sprintf("%d:%d", y.UID, y.GID))
	}
	if x.Size != y.Size {
		add("size", x.Size, y.Size)
	} else if x.Digest != y.Digest {
		d = append(d, "content differs")
	}
	if o.times && (o.dirTimes || !x.Type.IsDir()) && !x.Mtime.Equal(y.Mtime) {
		add("mtime", x.Mtime.Format(time.RFC3339Nano), y.Mtime.Format(time.RFC3339Nano))
	}
	if x.Link != y.Link {
		add("target", x.Link, y.Link)
	}
	if x.Rdev != y.Rdev {
		add("device", fmt.Sprintf("%d:%d", unix.Major(x.Rdev), unix.Minor(x.Rdev)), fmt.Sprintf("%d:%d", unix.Major(y.Rdev), unix.Minor(y.Rdev)))
	}
	if !mapsEqual(x.Xattrs, y.Xattrs) {
		add("xattrs", x.Xattrs, y.Xattrs)
	}
	if !slices.Equal(x.Links, y.Links) {
		add("hard links", x.Links, y.Links)
	}
	return strings.Join(d, "; ")
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
