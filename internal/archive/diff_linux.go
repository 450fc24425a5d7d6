package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
)

// ChangeKind is what happened to a path between two trees.
type ChangeKind int

const (
	ChangeModify ChangeKind = iota
	ChangeAdd
	ChangeDelete
)

func (k ChangeKind) String() string {
	switch k {
	case ChangeAdd:
		return "A"
	case ChangeModify:
		return "C"
	case ChangeDelete:
		return "D"
	}
	return "?"
}

// Change is one line of `docker diff`: Path is absolute in the container
// ("/etc/passwd").
type Change struct {
	Kind ChangeKind
	Path string
}

func (c Change) String() string { return c.Kind.String() + " " + c.Path }

// Changes lists what turns the tree at lower into the tree at upper, as
// `docker diff` shows it: an added directory and all it holds are A, a
// deleted path is one D (not its children), and a directory that is not
// itself added is C when anything inside it changed. It is the same walk as
// WriteDiff's, with the same options.
func Changes(ctx context.Context, lower, upper string, opts ...DiffOpt) ([]Change, error) {
	o, err := makeDiffOptions(opts)
	if err != nil {
		return nil, err
	}
	var out []Change
	err = diffTrees(ctx, lower, upper, o, func(ev *event) error {
		out = append(out, Change{Kind: ev.kind, Path: "/" + ev.path})
		return nil
	})
	return out, err
}

// WriteDiff writes an uncompressed layer tar that turns the tree at lower
// into the tree at upper (lower "" is the empty tree). Deletions are
// ".wh.NAME" entries; with WithOverlayUpper, an opaque directory of the
// upper is its header followed by ".wh..wh..opq" (AUFS-style whiteouts, as
// docker and containerd write them). Every changed path's parent
// directories come first, so the layer applies onto an empty overlay
// upper. Times are written with nanoseconds (PAX); files are read with
// O_NOFOLLOW relative to directory fds, so a symlink swapped in while the
// tree is read is never followed out of it.
func WriteDiff(ctx context.Context, w io.Writer, lower, upper string, opts ...DiffOpt) error {
	o, err := makeDiffOptions(opts)
	if err != nil {
		return err
	}
	tw := newTarWriter(w)
	if err := diffTrees(ctx, lower, upper, o, tw.event); err != nil {
		return err
	}
	return tw.tw.Close()
}

// WriteTar writes the whole tree at root as an uncompressed tar (docker
// export, a base layer). root itself has no entry.
func WriteTar(ctx context.Context, w io.Writer, root string, opts ...TarOpt) error {
	if _, err := makeTarOptions(opts); err != nil {
		return err
	}
	tw := newTarWriter(w)
	if err := diffTrees(ctx, "", root, diffOptions{}, tw.event); err != nil {
		return err
	}
	return tw.tw.Close()
}

// event is one change found by the walk. dirfd and name locate the
// upper's file (not for deletions); the fds are valid only during the
// callback.
type event struct {
	kind   ChangeKind
	path   string // relative, cleaned
	dirfd  int
	dir    string // dirfd's path, for errors
	name   string
	st     unix.Stat_t
	link   string
	xattrs map[string][]byte
	opaque bool // a directory of an overlay upper marked opaque
	// hidden is a deletion that an opaque directory already implies:
	// Changes lists it, WriteDiff writes nothing for it.
	hidden bool
}

// dirHandle is an open directory of one of the trees, or none (fd < 0).
type dirHandle struct {
	fd   int
	disp string
}

func (d dirHandle) ok() bool { return d.fd >= 0 }

func (d dirHandle) close() {
	if d.fd >= 0 {
		unix.Close(d.fd)
	}
}

// child opens subdirectory name, or returns none when it is not a
// directory (symlinks are never followed).
func (d dirHandle) child(name string) (dirHandle, error) {
	if !d.ok() {
		return dirHandle{fd: -1}, nil
	}
	disp := filepath.Join(d.disp, name)
	fd, err := openat(d.fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0, disp)
	if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOENT) {
		return dirHandle{fd: -1}, nil
	}
	if err != nil {
		return dirHandle{fd: -1}, err
	}
	return dirHandle{fd: fd, disp: disp}, nil
}

func (d dirHandle) names() ([]string, error) {
	if !d.ok() {
		return nil, nil
	}
	// Each walk reads a directory once, from its own fd at offset 0.
	n, err := readDirNames(d.fd, d.disp)
	if err != nil {
		return nil, err
	}
	slices.Sort(n)
	return n, nil
}

func (d dirHandle) stat(name string, st *unix.Stat_t) (bool, error) {
	if !d.ok() {
		return false, nil
	}
	err := fstatat(d.fd, name, st, filepath.Join(d.disp, name))
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	return err == nil, err
}

func openTree(p string) (dirHandle, error) {
	if p == "" {
		return dirHandle{fd: -1}, nil
	}
	fd, err := openat(unix.AT_FDCWD, p, unix.O_RDONLY|unix.O_DIRECTORY, 0, p)
	if err != nil {
		return dirHandle{fd: -1}, err
	}
	return dirHandle{fd: fd, disp: p}, nil
}

// differ walks two trees in step, in lexical order, and reports events.
type differ struct {
	ctx     context.Context
	overlay bool
	emit    func(*event) error
	// pending are the directories on the way down that have no event
	// yet: the first change inside one reports it (C), parents first.
	pending []pendingDir
}

type pendingDir struct {
	path  string
	dirfd int
	dir   string
	name  string
	done  bool
}

func diffTrees(ctx context.Context, lower, upper string, o diffOptions, emit func(*event) error) error {
	lo, err := openTree(lower)
	if err != nil {
		return err
	}
	defer lo.close()
	up, err := openTree(upper)
	if err != nil {
		return err
	}
	defer up.close()
	d := &differ{ctx: ctx, overlay: o.overlay, emit: emit}
	return d.dir(".", lo, up, false)
}

// report emits ev after the events of its pending parents.
func (d *differ) report(ev *event) error {
	for i := range d.pending {
		p := &d.pending[i]
		if p.done {
			continue
		}
		p.done = true
		pev := &event{kind: ChangeModify, path: p.path, dirfd: p.dirfd, dir: p.dir, name: p.name}
		if err := d.fill(pev); err != nil {
			return err
		}
		if err := d.emit(pev); err != nil {
			return err
		}
	}
	return d.emit(ev)
}

// fill reads what a header needs of ev's upper file.
func (d *differ) fill(ev *event) error {
	disp := filepath.Join(ev.dir, ev.name)
	if err := fstatat(ev.dirfd, ev.name, &ev.st, disp); err != nil {
		return err
	}
	if ev.st.Mode&unix.S_IFMT == unix.S_IFLNK {
		l, err := readlinkat(ev.dirfd, ev.name, disp)
		if err != nil {
			return err
		}
		ev.link = l
	}
	xs, err := listxattrs(procFd(ev.dirfd)+"/"+ev.name, disp)
	if err != nil {
		return err
	}
	for k, v := range xs {
		if overlayPrivate(k) {
			if d.overlay && (k == "trusted.overlay.redirect" || k == "trusted.overlay.metacopy") {
				return fmt.Errorf("overlay upper %s has %s: mount the overlay with redirect_dir=off,metacopy=off to diff it: %w", ev.path, k, errdefs.ErrNotImplemented)
			}
			if k == overlayOpaqueAttr && string(v) == "y" && d.overlay {
				ev.opaque = true
			}
			continue
		}
		if ev.xattrs == nil {
			ev.xattrs = map[string][]byte{}
		}
		ev.xattrs[k] = v
	}
	return nil
}

func isWhiteoutDev(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

// dir compares directory rel of both trees (lo may be none). opaque says
// an overlay upper directory at or above rel is opaque, so lower's
// entries not in the upper are hidden, which Changes lists as deletions.
func (d *differ) dir(rel string, lo, up dirHandle, opaque bool) error {
	if err := d.ctx.Err(); err != nil {
		return err
	}
	unames, err := up.names()
	if err != nil {
		return err
	}
	var lnames []string
	if !d.overlay || lo.ok() {
		if lnames, err = lo.names(); err != nil {
			return err
		}
	}
	i, j := 0, 0
	for i < len(lnames) || j < len(unames) {
		var name string
		inLower, inUpper := false, false
		switch {
		case j >= len(unames) || (i < len(lnames) && lnames[i] < unames[j]):
			name, inLower = lnames[i], true
			i++
		case i >= len(lnames) || unames[j] < lnames[i]:
			name, inUpper = unames[j], true
			j++
		default:
			name, inLower, inUpper = unames[j], true, true
			i++
			j++
		}
		p := path.Join(rel, name)
		if !inUpper {
			if d.overlay {
				if opaque {
					if err := d.report(&event{kind: ChangeDelete, path: p, hidden: true}); err != nil {
						return err
					}
				}
				continue // else the overlay shows lower's file through
			}
			if err := d.report(&event{kind: ChangeDelete, path: p}); err != nil {
				return err
			}
			continue
		}
		if err := d.entry(p, name, lo, up, inLower, opaque); err != nil {
			return err
		}
	}
	return nil
}

// entry handles name, present in the upper.
func (d *differ) entry(p, name string, lo, up dirHandle, inLower, opaque bool) error {
	ev := &event{path: p, dirfd: up.fd, dir: up.disp, name: name}
	if err := d.fill(ev); err != nil {
		if errors.Is(err, unix.ENOENT) {
			// Gone since the directory was read: a running container
			// (commit without pause) removed or renamed it. As docker,
			// the layer is what could still be read.
			return nil
		}
		return err
	}
	upIsDir := ev.st.Mode&unix.S_IFMT == unix.S_IFDIR
	if ev.st.Mode&unix.S_IFMT == unix.S_IFSOCK {
		return nil // tar cannot hold a socket; docker leaves them out too
	}
	if d.overlay {
		if isWhiteoutDev(&ev.st) {
			ev.kind = ChangeDelete
			return d.report(ev)
		}
		ev.kind = ChangeAdd
		if inLower {
			ev.kind = ChangeModify
		}
		if !upIsDir {
			return d.report(ev)
		}
		if err := d.report(ev); err != nil {
			return err
		}
		return d.subdir(p, name, lo, up, opaque || ev.opaque, true)
	}

	var lst unix.Stat_t
	if inLower {
		if _, err := lo.stat(name, &lst); err != nil {
			return err
		}
	}
	if !inLower {
		ev.kind = ChangeAdd
		if err := d.report(ev); err != nil {
			return err
		}
		if upIsDir {
			return d.subdir(p, name, dirHandle{fd: -1}, up, false, true)
		}
		return nil
	}
	sameType := lst.Mode&unix.S_IFMT == ev.st.Mode&unix.S_IFMT
	changed, err := d.changed(ev, lo, name, &lst)
	if err != nil {
		return err
	}
	if changed {
		ev.kind = ChangeModify
		if err := d.report(ev); err != nil {
			return err
		}
	}
	if !upIsDir {
		return nil
	}
	if !sameType {
		// A directory replacing a file: all of it is new.
		return d.subdir(p, name, dirHandle{fd: -1}, up, false, true)
	}
	return d.subdir(p, name, lo, up, false, changed)
}

// subdir descends into directory p. reported says p already has its event;
// if not, it is pending and gets a C at the first change inside.
func (d *differ) subdir(p, name string, lo, up dirHandle, opaque, reported bool) error {
	uc, err := up.child(name)
	if err != nil {
		return err
	}
	defer uc.close()
	if !uc.ok() {
		var st unix.Stat_t
		if _, err := up.stat(name, &st); err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			// Removed (or replaced) by a running container since its
			// event was written: nothing of it is left to read.
			return nil
		}
		return fmt.Errorf("%s: %w", filepath.Join(up.disp, name), unix.ENOTDIR)
	}
	lc, err := lo.child(name)
	if err != nil {
		return err
	}
	defer lc.close()
	d.pending = append(d.pending, pendingDir{path: p, dirfd: up.fd, dir: up.disp, name: name, done: reported})
	defer func() { d.pending = d.pending[:len(d.pending)-1] }()
	return d.dir(p, lc, uc, opaque)
}

// changed compares name in both trees by type, mode, owner, device
// number, symlink target, size, mtime (not for directories: their mtime
// changes with every entry made in them) and xattrs; and, when only the
// mtime of two same-sized files differs, by content.
func (d *differ) changed(ev *event, lo dirHandle, name string, lst *unix.Stat_t) (bool, error) {
	ust := &ev.st
	if lst.Mode != ust.Mode || lst.Uid != ust.Uid || lst.Gid != ust.Gid || lst.Rdev != ust.Rdev {
		return true, nil
	}
	typ := ust.Mode & unix.S_IFMT
	if typ == unix.S_IFLNK {
		l, err := readlinkat(lo.fd, name, filepath.Join(lo.disp, name))
		if err != nil {
			return false, err
		}
		if l != ev.link {
			return true, nil
		}
	}
	if typ == unix.S_IFREG && lst.Size != ust.Size {
		return true, nil
	}
	lx, err := listxattrs(procFd(lo.fd)+"/"+name, filepath.Join(lo.disp, name))
	if err != nil {
		return false, err
	}
	for k := range lx {
		if overlayPrivate(k) {
			delete(lx, k)
		}
	}
	if len(lx) != len(ev.xattrs) {
		return true, nil
	}
	for k, v := range lx {
		if uv, ok := ev.xattrs[k]; !ok || !bytes.Equal(uv, v) {
			return true, nil
		}
	}
	if typ == unix.S_IFDIR || lst.Mtim == ust.Mtim {
		return false, nil
	}
	if typ != unix.S_IFREG {
		return true, nil
	}
	same, err := sameContent(lo, ev, name)
	return !same, err
}

func sameContent(lo dirHandle, ev *event, name string) (bool, error) {
	lf, err := openFile(lo.fd, name, filepath.Join(lo.disp, name))
	if err != nil {
		return false, err
	}
	defer lf.Close()
	uf, err := openFile(ev.dirfd, name, filepath.Join(ev.dir, name))
	if err != nil {
		return false, err
	}
	defer uf.Close()
	a, b := make([]byte, 64<<10), make([]byte, 64<<10)
	for {
		n, errA := io.ReadFull(lf, a)
		m, errB := io.ReadFull(uf, b)
		if n != m || !bytes.Equal(a[:n], b[:m]) {
			return false, nil
		}
		if errA == io.EOF || errA == io.ErrUnexpectedEOF {
			return errB == io.EOF || errB == io.ErrUnexpectedEOF, nil
		}
		if errA != nil {
			return false, errA
		}
		if errB != nil {
			return false, errB
		}
	}
}

func openFile(dirfd int, name, disp string) (*os.File, error) {
	fd, err := openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW, 0, disp)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), disp), nil
}

// tarWriter turns events into tar entries.
type tarWriter struct {
	tw *tar.Writer
	// links maps the inodes of files with several links already written
	// to their first path, so later links are hard link entries.
	links map[devIno]string
	buf   []byte
}

type devIno struct{ dev, ino uint64 }

func newTarWriter(w io.Writer) *tarWriter {
	return &tarWriter{tw: tar.NewWriter(w), links: map[devIno]string{}, buf: make([]byte, 256<<10)}
}

func (t *tarWriter) event(ev *event) error {
	if ev.kind == ChangeDelete {
		if ev.hidden {
			return nil
		}
		dir, base := path.Split(ev.path)
		return t.tw.WriteHeader(&tar.Header{
			Typeflag: tar.TypeReg,
			Name:     dir + whiteoutPrefix + base,
			Mode:     0o600,
			ModTime:  time.Unix(0, 0),
			Format:   tar.FormatPAX,
		})
	}
	st := &ev.st
	hdr := &tar.Header{
		Name:    ev.path,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: time.Unix(st.Mtim.Sec, st.Mtim.Nsec),
		Format:  tar.FormatPAX,
	}
	if len(ev.xattrs) > 0 {
		hdr.PAXRecords = map[string]string{}
		for k, v := range ev.xattrs {
			hdr.PAXRecords["SCHILY.xattr."+k] = string(v)
		}
	}
	var content bool
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		key := devIno{uint64(st.Dev), st.Ino}
		if first, ok := t.links[key]; ok && st.Nlink > 1 {
			hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
			hdr.PAXRecords = nil
			break
		}
		if st.Nlink > 1 {
			t.links[key] = ev.path
		}
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
		content = st.Size > 0
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
	case unix.S_IFLNK:
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, ev.link
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default:
		return nil
	}
	if err := t.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("tar header %s: %w", ev.path, err)
	}
	if content {
		disp := filepath.Join(ev.dir, ev.name)
		var n int64
		f, err := openFile(ev.dirfd, ev.name, disp)
		switch {
		case errors.Is(err, unix.ENOENT):
			// Removed since it was stat'ed: an entry of zeros, as
			// for a file that shrank.
			err = nil
		case err != nil:
			return err
		default:
			n, err = io.CopyBuffer(t.tw, io.LimitReader(f, hdr.Size), t.buf)
			f.Close()
		}
		if err != nil {
			return fmt.Errorf("%s: %w", ev.path, err)
		}
		if n < hdr.Size {
			// The file shrank while read (a running container writes
			// it: commit without pause). As GNU tar, pad the entry to
			// the size its header announced, so the archive stays
			// whole; the file's content was changing anyway.
			if _, err := io.CopyN(t.tw, zeros{}, hdr.Size-n); err != nil {
				return fmt.Errorf("%s: %w", ev.path, err)
			}
		}
	}
	if ev.opaque {
		return t.tw.WriteHeader(&tar.Header{
			Typeflag: tar.TypeReg,
			Name:     ev.path + "/" + whiteoutOpaque,
			Mode:     0o600,
			ModTime:  time.Unix(0, 0),
			Format:   tar.FormatPAX,
		})
	}
	return nil
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
