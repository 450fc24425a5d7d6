package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
)

const (
	whiteoutPrefix    = ".wh."
	whiteoutMetaPfx   = ".wh..wh."
	whiteoutOpaque    = ".wh..wh..opq"
	overlayOpaqueAttr = "trusted.overlay.opaque"
)

// Apply extracts a layer (plain tar, gzip or zstd, told from its magic
// bytes) into root, which must exist, and returns the number of bytes of
// the uncompressed tar stream it read (all of it, trailing padding
// included, on success).
//
// Every entry is checked (a list of named checks, entryChecks) before
// anything of it is written; a rejected entry is an ErrInvalidArchive
// (ErrBreakout for escapes, errdefs.ErrForbidden for refused devices).
// Nothing is ever written outside root: paths are resolved by root (see
// its doc) and every write is made relative to a directory fd with
// O_NOFOLLOW or its *at equivalent.
//
// Files are written in place, not through temporary names, as docker does.
// On error, root is left with the entries before the failing one applied
// (the failing one possibly in part) and the modes and times of the
// directories of this layer not yet set; nothing outside root is touched.
// Callers apply into a fresh snapshot and discard it on error.
func Apply(ctx context.Context, root string, r io.Reader, opts ...ApplyOpt) (int64, error) {
	o, err := makeApplyOptions(opts)
	if err != nil {
		return 0, err
	}
	ds, _, err := DecompressStream(r)
	if err != nil {
		return 0, err
	}
	defer ds.Close()
	cr := &countingReader{r: ds, limit: o.sizeLimit}
	rt, err := openRoot(root)
	if err != nil {
		return 0, err
	}
	defer rt.close()
	a := &applier{o: &o, root: rt, unpacked: map[string]struct{}{}}
	tr := tar.NewReader(cr)
	for {
		if err := ctx.Err(); err != nil {
			return cr.n, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			// ErrInsecurePath (GODEBUG=tarinsecurepath=0) is ours to judge.
			return cr.n, wrapRead(err)
		}
		rt.trim()
		if err := a.apply(hdr, tr, cr); err != nil {
			return cr.n, err
		}
		if o.progress != nil {
			o.progress(cr.n)
		}
	}
	if err := a.finish(); err != nil {
		return cr.n, err
	}
	// Read to the end: the padding after the end-of-archive blocks belongs
	// to the stream the caller digests, and a compressor checks its
	// trailer only at EOF.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return cr.n, wrapRead(err)
	}
	if o.progress != nil {
		o.progress(cr.n)
	}
	return cr.n, nil
}

func wrapRead(err error) error {
	if errors.Is(err, ErrInvalidArchive) {
		return err
	}
	if errors.Is(err, tar.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, tar.ErrFieldTooLong) {
		return fmt.Errorf("reading tar: %v: %w", err, ErrInvalidArchive)
	}
	return fmt.Errorf("reading tar: %w", err)
}

// countingReader counts the uncompressed bytes and enforces the size limit
// on them, so that a decompression bomb stops at the limit.
type countingReader struct {
	r     io.Reader
	n     int64
	limit int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.limit > 0 && c.n > c.limit {
		return n, fmt.Errorf("uncompressed layer longer than the limit of %d bytes: %w", c.limit, ErrInvalidArchive)
	}
	return n, err
}

type applier struct {
	o    *applyOptions
	root *root
	// unpacked holds the paths this layer wrote, for opaque whiteouts in
	// delete mode (which keep them and remove the rest).
	unpacked map[string]struct{}
	dirs     []dirMeta
}

// dirMeta is what is set on a directory only at the end: its mode (so a
// read-only directory can still be filled) and its times (which every
// entry made inside it changes).
type dirMeta struct {
	real         string
	mode         uint32
	atime, mtime time.Time
}

// entry is one tar header with its name cleaned and classified.
type entry struct {
	hdr       *tar.Header
	rel       string // cleaned, relative; "." for root
	dir, base string
	whiteout  string // the name a ".wh." entry hides
	opaque    bool   // ".wh..wh..opq"
	skip      bool   // other ".wh..wh." entries: AUFS metadata
	linkRel   string // hard link target, cleaned
}

// entryChecks are run, in order, on every entry before anything of it is
// written.
var entryChecks = []struct {
	name  string
	check func(a *applier, e *entry) error
}{
	{"name", checkName},
	{"type", checkType},
	{"size", checkSize},
	{"owner", checkOwner},
	{"link", checkLink},
	{"device", checkDevice},
	{"whiteout", checkWhiteout},
}

// cleanName makes an archive path relative to root: leading "/" are
// stripped (docker's rule: "/etc" is root's etc), then the path is
// cleaned; what still starts with ".." would leave root and is refused.
func cleanName(name string) (string, error) {
	if name == "" {
		return "", errors.New("empty name")
	}
	if strings.IndexByte(name, 0) >= 0 {
		return "", errors.New("NUL in name")
	}
	c := path.Clean(strings.TrimLeft(name, "/"))
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", ErrBreakout
	}
	return c, nil
}

func checkName(_ *applier, e *entry) error {
	rel, err := cleanName(e.hdr.Name)
	if errors.Is(err, ErrBreakout) {
		return breakout(e.hdr.Name, "climbs out of the root")
	}
	if err != nil {
		return invalid(e.hdr.Name, "%v", err)
	}
	e.rel = rel
	e.dir, e.base = path.Split(rel)
	e.dir = path.Clean(e.dir)
	if rel == "." {
		e.dir, e.base = ".", "."
	}
	return nil
}

func checkType(_ *applier, e *entry) error {
	switch e.hdr.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse, tar.TypeDir, tar.TypeSymlink,
		tar.TypeLink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
	default:
		return invalid(e.hdr.Name, "unsupported type %q", e.hdr.Typeflag)
	}
	if e.rel == "." && e.hdr.Typeflag != tar.TypeDir {
		return invalid(e.hdr.Name, "names the root but is not a directory")
	}
	return nil
}

func checkSize(a *applier, e *entry) error {
	if e.hdr.Size < 0 {
		return invalid(e.hdr.Name, "negative size %d", e.hdr.Size)
	}
	if a.o.sizeLimit > 0 && e.hdr.Size > a.o.sizeLimit {
		return invalid(e.hdr.Name, "size %d over the limit of %d bytes", e.hdr.Size, a.o.sizeLimit)
	}
	return nil
}

func checkOwner(_ *applier, e *entry) error {
	// -1 would mean "leave unchanged" to chown; past 2^32-2 is no id.
	if e.hdr.Uid < 0 || e.hdr.Gid < 0 || int64(e.hdr.Uid) > math.MaxUint32-1 || int64(e.hdr.Gid) > math.MaxUint32-1 {
		return invalid(e.hdr.Name, "owner %d:%d out of range", e.hdr.Uid, e.hdr.Gid)
	}
	return nil
}

func checkLink(_ *applier, e *entry) error {
	switch e.hdr.Typeflag {
	case tar.TypeLink:
		t, err := cleanName(e.hdr.Linkname)
		if errors.Is(err, ErrBreakout) {
			return breakout(e.hdr.Name, "hard link to %q climbs out of the root", e.hdr.Linkname)
		}
		if err != nil || t == "." {
			return invalid(e.hdr.Name, "hard link to %q: bad target", e.hdr.Linkname)
		}
		e.linkRel = t
	case tar.TypeSymlink:
		if e.hdr.Linkname == "" || strings.IndexByte(e.hdr.Linkname, 0) >= 0 {
			return invalid(e.hdr.Name, "symlink with an empty or NUL target")
		}
		// A relative target that climbs above root, seen from where the
		// link is, is docker's breakout rule. Absolute targets are paths
		// in the container, always inside it.
		if !strings.HasPrefix(e.hdr.Linkname, "/") {
			t := path.Join(e.dir, e.hdr.Linkname)
			if t == ".." || strings.HasPrefix(t, "../") {
				return breakout(e.hdr.Name, "symlink to %q climbs out of the root", e.hdr.Linkname)
			}
		}
	}
	return nil
}

func checkDevice(a *applier, e *entry) error {
	if e.hdr.Typeflag != tar.TypeChar && e.hdr.Typeflag != tar.TypeBlock {
		return nil
	}
	if e.hdr.Devmajor < 0 || e.hdr.Devminor < 0 || e.hdr.Devmajor > math.MaxUint32 || e.hdr.Devminor > math.MaxUint32 {
		return invalid(e.hdr.Name, "device number %d:%d out of range", e.hdr.Devmajor, e.hdr.Devminor)
	}
	switch a.o.devices {
	case DevicesDeny:
		return fmt.Errorf("entry %q: device node %d:%d refused by policy: %w", e.hdr.Name, e.hdr.Devmajor, e.hdr.Devminor, errdefs.ErrForbidden)
	case DevicesSkip:
		e.skip = true
	}
	return nil
}

func checkWhiteout(_ *applier, e *entry) error {
	if !strings.HasPrefix(e.base, whiteoutPrefix) {
		return nil
	}
	switch {
	case e.base == whiteoutOpaque:
		e.opaque = true
	case strings.HasPrefix(e.base, whiteoutMetaPfx):
		// AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs): not content.
		e.skip = true
	default:
		name := e.base[len(whiteoutPrefix):]
		if name == "." || name == ".." || name == "" {
			return breakout(e.hdr.Name, "whiteout of %q", name)
		}
		e.whiteout = name
	}
	return nil
}

func (a *applier) apply(hdr *tar.Header, tr io.Reader, cr *countingReader) error {
	e := &entry{hdr: hdr}
	for _, c := range entryChecks {
		if err := c.check(a, e); err != nil {
			return err
		}
	}
	if a.o.sizeLimit > 0 && cr.n+hdr.Size > a.o.sizeLimit {
		return invalid(hdr.Name, "size %d would pass the limit of %d bytes", hdr.Size, a.o.sizeLimit)
	}
	if a.o.filter != nil {
		h := *hdr
		h.Name = e.rel
		ok, err := a.o.filter(&h)
		if err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
		if !ok {
			return nil
		}
	}
	switch {
	case e.skip:
		return nil
	case e.opaque:
		return a.opaque(e)
	case e.whiteout != "":
		return a.whiteoutEntry(e)
	case e.rel == ".":
		// The root's own metadata belongs to whoever made root (docker
		// skips it too).
		return nil
	}
	pfd, preal, err := a.root.resolve(e.dir, true)
	if err != nil {
		return fmt.Errorf("entry %q: parent: %w", hdr.Name, err)
	}
	real := path.Join(preal, e.base)
	if err := a.create(e, pfd, real, tr); err != nil {
		return err
	}
	a.unpacked[e.rel] = struct{}{}
	return nil
}

// create makes the entry's file in pfd, replacing what is there unless
// both are directories (docker's rule), then sets its metadata.
func (a *applier) create(e *entry, pfd int, real string, tr io.Reader) error {
	hdr := e.hdr
	disp := a.root.disp(real)
	for attempt := 0; ; attempt++ {
		err := a.make(e, pfd, real, disp, tr)
		if !errors.Is(err, unix.EEXIST) || attempt > 0 {
			return err
		}
		var st unix.Stat_t
		if err := fstatat(pfd, e.base, &st, disp); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeDir && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return a.dirMeta(e, pfd, real, disp)
		}
		if hdr.Typeflag == tar.TypeLink && e.linkRel == e.rel {
			return nil // a link to itself: already there
		}
		if err := removeAll(pfd, e.base, disp); err != nil {
			return err
		}
		a.root.removed(real)
		if real != e.rel {
			a.root.removed(e.rel)
		}
	}
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// make creates the file; EEXIST means something is in the way.
func (a *applier) make(e *entry, pfd int, real, disp string, tr io.Reader) error {
	hdr := e.hdr
	mode := uint32(hdr.Mode) & 0o7777
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse: // the reader turns TypeRegA into TypeReg
		fd, err := openat(pfd, e.base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW, 0o600, disp)
		if err != nil {
			return err
		}
		err = a.writeFile(fd, e, disp, tr)
		if cerr := unix.Close(fd); err == nil && cerr != nil {
			err = pathError("close", disp, cerr)
		}
		return err
	case tar.TypeDir:
		// 0700 while the layer fills it; the real mode comes at the end.
		if err := mkdirat(pfd, e.base, 0o700, disp); err != nil {
			return err
		}
		return a.dirMeta(e, pfd, real, disp)
	case tar.TypeSymlink:
		if err := symlinkat(hdr.Linkname, pfd, e.base, disp); err != nil {
			return err
		}
		a.root.layerLinks[real] = struct{}{}
		return a.meta(e, pfd, disp, mode, false)
	case tar.TypeLink:
		tdir, tbase := path.Split(e.linkRel)
		tfd, treal, err := a.root.resolve(path.Clean(tdir), false)
		if err != nil {
			return fmt.Errorf("entry %q: hard link target %q: %w", hdr.Name, hdr.Linkname, err)
		}
		tdisp := a.root.disp(path.Join(treal, tbase))
		var st unix.Stat_t
		if err := fstatat(tfd, tbase, &st, tdisp); err != nil {
			return fmt.Errorf("entry %q: hard link target: %w", hdr.Name, err)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return invalid(hdr.Name, "hard link to directory %q", hdr.Linkname)
		}
		// The link shares the target's inode and so its metadata, which
		// the target's own entry set.
		return linkat(tfd, tbase, pfd, e.base, disp)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		typ := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := mknodat(pfd, e.base, typ|0o600, dev, disp); err != nil {
			return err
		}
		return a.meta(e, pfd, disp, mode, true)
	}
	return invalid(hdr.Name, "unsupported type %q", hdr.Typeflag)
}

func (a *applier) writeFile(fd int, e *entry, disp string, tr io.Reader) error {
	hdr := e.hdr
	if hdr.Size > 0 {
		bp := copyBufs.Get().(*[]byte)
		n, err := io.CopyBuffer(fdWriter{fd: fd, disp: disp}, io.LimitReader(tr, hdr.Size), *bp)
		copyBufs.Put(bp)
		if err != nil {
			return wrapRead(err)
		}
		if n != hdr.Size {
			return invalid(hdr.Name, "truncated: %d of %d bytes", n, hdr.Size)
		}
	}
	if !a.o.noSameOwner {
		if err := fchown(fd, hdr.Uid, hdr.Gid, disp); err != nil {
			return err
		}
	}
	// After chown, which clears setuid and setgid.
	if err := fchmod(fd, uint32(hdr.Mode)&0o7777, disp); err != nil {
		return err
	}
	// After chown too, which clears security.capability.
	if err := a.xattrs(e, func(k string, v []byte) error { return fsetxattr(fd, k, v, disp) }); err != nil {
		return err
	}
	ts := times(hdr)
	return utimensat(fd, "", &ts, disp)
}

// dirMeta sets a directory's owner and xattrs now and queues its mode and
// times for finish.
func (a *applier) dirMeta(e *entry, pfd int, real, disp string) error {
	hdr := e.hdr
	if !a.o.noSameOwner {
		if err := fchownat(pfd, e.base, hdr.Uid, hdr.Gid, disp); err != nil {
			return err
		}
	}
	if xs := paxXattrs(hdr); len(xs) > 0 {
		fd, err := openat(pfd, e.base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0, disp)
		if err != nil {
			return err
		}
		err = a.xattrs(e, func(k string, v []byte) error { return fsetxattr(fd, k, v, disp) })
		unix.Close(fd)
		if err != nil {
			return err
		}
	}
	a.dirs = append(a.dirs, dirMeta{real: real, mode: uint32(hdr.Mode) & 0o7777, atime: atimeOf(hdr), mtime: hdr.ModTime})
	return nil
}

// meta sets the metadata of a file made without an fd (symlink, device,
// fifo).
func (a *applier) meta(e *entry, pfd int, disp string, mode uint32, chmod bool) error {
	hdr := e.hdr
	if !a.o.noSameOwner {
		if err := fchownat(pfd, e.base, hdr.Uid, hdr.Gid, disp); err != nil {
			return err
		}
	}
	if chmod {
		if err := fchmodatNoFollow(pfd, e.base, mode, disp); err != nil {
			return err
		}
	}
	if err := a.xattrs(e, func(k string, v []byte) error { return lsetxattrAt(pfd, e.base, k, v, disp) }); err != nil {
		return err
	}
	ts := times(hdr)
	return utimensat(pfd, e.base, &ts, disp)
}

// paxXattrs returns the SCHILY.xattr records of hdr, without the overlay's
// own (trusted.overlay.*, user.overlay.*): those steer overlayfs
// (opaque, redirect, metacopy) and a layer may only say "opaque" through
// ".wh..wh..opq".
func paxXattrs(hdr *tar.Header) map[string]string {
	var out map[string]string
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok || overlayPrivate(name) {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[name] = v
	}
	return out
}

func overlayPrivate(name string) bool {
	return strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.")
}

func (a *applier) xattrs(e *entry, set func(k string, v []byte) error) error {
	for k, v := range paxXattrs(e.hdr) {
		err := set(k, []byte(v))
		if err == nil {
			continue
		}
		unsupported := errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP)
		denied := errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES)
		if (unsupported && !a.o.strictXattrs) || (denied && a.o.noSameOwner) {
			continue
		}
		return err
	}
	return nil
}

func atimeOf(hdr *tar.Header) time.Time {
	if hdr.AccessTime.IsZero() {
		return hdr.ModTime
	}
	return hdr.AccessTime
}

func timespec(t time.Time) unix.Timespec {
	return unix.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}

func times(hdr *tar.Header) [2]unix.Timespec {
	return [2]unix.Timespec{timespec(atimeOf(hdr)), timespec(hdr.ModTime)}
}

type fdWriter struct {
	fd   int
	disp string
}

func (w fdWriter) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		var k int
		err := ignoringEINTR(func() (err error) { k, err = unix.Write(w.fd, p[n:]); return err })
		if err != nil {
			return n, pathError("write", w.disp, err)
		}
		n += k
	}
	return n, nil
}

// whiteoutEntry carries out ".wh.NAME".
func (a *applier) whiteoutEntry(e *entry) error {
	target := path.Join(e.dir, e.whiteout)
	if a.o.whiteouts == WhiteoutOverlay {
		pfd, preal, err := a.root.resolve(e.dir, true)
		if err != nil {
			return fmt.Errorf("entry %q: parent: %w", e.hdr.Name, err)
		}
		real := path.Join(preal, e.whiteout)
		disp := a.root.disp(real)
		if err := removeAll(pfd, e.whiteout, disp); err != nil {
			return err
		}
		a.root.removed(real)
		// An overlay whiteout is a character device 0/0.
		if err := mknodat(pfd, e.whiteout, unix.S_IFCHR, 0, disp); err != nil {
			return err
		}
		if !a.o.noSameOwner {
			if err := fchownat(pfd, e.whiteout, e.hdr.Uid, e.hdr.Gid, disp); err != nil {
				return err
			}
		}
		return nil
	}
	pfd, preal, err := a.root.resolve(e.dir, false)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil // nothing there to delete
	}
	if err != nil {
		return fmt.Errorf("entry %q: parent: %w", e.hdr.Name, err)
	}
	real := path.Join(preal, e.whiteout)
	if err := removeAll(pfd, e.whiteout, a.root.disp(real)); err != nil {
		return err
	}
	a.root.removed(real)
	a.root.removed(target)
	delete(a.unpacked, target)
	return nil
}

// opaque carries out ".wh..wh..opq" in e.dir.
func (a *applier) opaque(e *entry) error {
	if a.o.whiteouts == WhiteoutOverlay {
		dfd, real, err := a.root.resolve(e.dir, true)
		if err != nil {
			return fmt.Errorf("entry %q: %w", e.hdr.Name, err)
		}
		disp := a.root.disp(real)
		fd, err := openat(dfd, ".", unix.O_RDONLY|unix.O_DIRECTORY, 0, disp)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return fsetxattr(fd, overlayOpaqueAttr, []byte("y"), disp)
	}
	dfd, real, err := a.root.resolve(e.dir, false)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("entry %q: %w", e.hdr.Name, err)
	}
	return a.removeNotUnpacked(dfd, e.dir, real)
}

// removeNotUnpacked removes what is in directory dir (open as dfd) and
// was not written by this layer, descending into the directories the
// layer did write, whose older content the opaque directory hides too.
func (a *applier) removeNotUnpacked(dfd int, dir, real string) error {
	disp := a.root.disp(real)
	fd, err := openat(dfd, ".", unix.O_RDONLY|unix.O_DIRECTORY, 0, disp)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	names, err := readDirNames(fd, disp)
	if err != nil {
		return err
	}
	for _, n := range names {
		child, childReal := path.Join(dir, n), path.Join(real, n)
		if _, ok := a.unpacked[child]; !ok {
			if err := removeAll(fd, n, a.root.disp(childReal)); err != nil {
				return err
			}
			a.root.removed(childReal)
			continue
		}
		var st unix.Stat_t
		if err := fstatat(fd, n, &st, a.root.disp(childReal)); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			cfd, err := openat(fd, n, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0, a.root.disp(childReal))
			if err != nil {
				return err
			}
			err = a.removeNotUnpacked(cfd, child, childReal)
			unix.Close(cfd)
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// finish sets the modes and times of this layer's directories, deepest
// (latest) first, skipping those a later entry replaced.
func (a *applier) finish() error {
	for i := len(a.dirs) - 1; i >= 0; i-- {
		d := a.dirs[i]
		dir, base := path.Split(d.real)
		// Through the no-symlink fast path only: a directory that is no
		// longer a real directory at its real path was replaced.
		fd, err := unix.Openat2(a.root.fd, path.Join(path.Clean(dir), base), &unix.OpenHow{
			Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC | unix.O_NOFOLLOW,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		})
		if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
			fd, err = a.openDirNoFollow(d.real)
		}
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
			continue
		}
		disp := a.root.disp(d.real)
		if err != nil {
			return pathError("openat2", disp, err)
		}
		err = fchmod(fd, d.mode, disp)
		if err == nil {
			ts := [2]unix.Timespec{timespec(d.atime), timespec(d.mtime)}
			err = utimensat(fd, "", &ts, disp)
		}
		unix.Close(fd)
		if err != nil {
			return err
		}
	}
	return nil
}

// openDirNoFollow opens directory rel under root one component at a time,
// refusing any symlink: finish's path for kernels without openat2.
func (a *applier) openDirNoFollow(rel string) (int, error) {
	fd, err := unix.FcntlInt(uintptr(a.root.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	for _, c := range strings.Split(rel, "/") {
		if c == "" || c == "." {
			continue
		}
		nfd, err := unix.Openat(fd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = nfd
	}
	return fd, nil
}
