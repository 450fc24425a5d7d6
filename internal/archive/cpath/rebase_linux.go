package cpath

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/archive"
	"github.com/berth-project/berth/internal/errdefs"
)

// rebaser turns the archive a client sent, whose names are relative to
// the extraction point, into one whose names are relative to the
// container's root, which archive.Apply then extracts from root's fd.
// Applying from the root (not from the extraction point) is what makes an
// existing symlink inside the extraction point mean what it means in the
// container, as in dockerd's chrooted untar.
//
// It is a pull-based io.Reader: headers are checked and rewritten when
// Apply asks for them, so the NoOverwriteDirNonDir check sees the tree as
// the entries before have left it, and content bytes are read straight
// from the client's tar into Apply's buffer, never copied twice.
type rebaser struct {
	tr     *tar.Reader
	prefix string // the extraction point in root, relative: "" for the root itself
	dst    string // the extraction point as the container names it, for errors
	o      *ExtractOptions
	probe  prober

	buf     bytes.Buffer // header bytes, padding, trailer
	left    int64        // content bytes of the current entry still to pass
	pad     int
	started bool
	done    bool
	err     error
}

func newRebaser(r *root, in io.Reader, real string, o *ExtractOptions) *rebaser {
	return &rebaser{
		tr:     tar.NewReader(in),
		prefix: strings.TrimLeft(real, "/"),
		dst:    real,
		o:      o,
		probe:  prober{r: r, fd: -1},
	}
}

func (b *rebaser) close() { b.probe.close() }

var zeros [1024]byte

func (b *rebaser) Read(p []byte) (int, error) {
	for {
		if b.buf.Len() > 0 {
			return b.buf.Read(p)
		}
		if b.left > 0 {
			if int64(len(p)) > b.left {
				p = p[:b.left]
			}
			n, err := b.tr.Read(p)
			b.left -= int64(n)
			if b.left == 0 {
				b.buf.Write(zeros[:b.pad])
			}
			if err == io.EOF {
				if b.left > 0 {
					err = io.ErrUnexpectedEOF
				} else {
					err = nil
				}
			}
			if err != nil {
				b.err = fmt.Errorf("reading archive: %w", err)
				if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, tar.ErrHeader) {
					b.err = fmt.Errorf("reading archive: %v: %w", err, archive.ErrInvalidArchive)
				}
				return n, b.err
			}
			if n > 0 {
				return n, nil
			}
			continue
		}
		if b.err != nil {
			return 0, b.err
		}
		if b.done {
			return 0, io.EOF
		}
		if err := b.next(); err != nil {
			b.err = err
			return 0, err
		}
	}
}

// next queues the next entry's header (or the end of the archive).
func (b *rebaser) next() error {
	if !b.started {
		b.started = true
		// A first entry for root itself, which Apply leaves alone: Apply
		// tells compression from the first bytes, and a first file named
		// "BZh..." at the root would otherwise read as bzip2.
		return b.writeHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "./", Mode: 0o755, ModTime: time.Unix(0, 0), Format: tar.FormatPAX})
	}
	hdr, err := b.tr.Next()
	if err == io.EOF {
		b.buf.Write(zeros[:])
		b.done = true
		return nil
	}
	if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
		// ErrInsecurePath (GODEBUG=tarinsecurepath=0) is ours to judge.
		if errors.Is(err, tar.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, tar.ErrFieldTooLong) {
			return fmt.Errorf("reading archive: %v: %w", err, archive.ErrInvalidArchive)
		}
		return fmt.Errorf("reading archive: %w", err)
	}
	keep, err := b.rewrite(hdr)
	if err != nil || !keep {
		return err
	}
	if err := b.writeHeader(hdr); err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
		b.left = hdr.Size
		b.pad = int(-hdr.Size & 511)
	}
	return nil
}

func (b *rebaser) writeHeader(hdr *tar.Header) error {
	// A tar.Writer per header: it writes the header blocks at once, and
	// the content goes past it (a writer would want the content too).
	if err := tar.NewWriter(&b.buf).WriteHeader(hdr); err != nil {
		return fmt.Errorf("entry %q: %v: %w", hdr.Name, err, archive.ErrInvalidArchive)
	}
	return nil
}

// inside cleans an archive name relative to the extraction point, as
// docker's untar does (a leading "/" is the extraction point), and
// refuses one that climbs out of it.
func inside(name string) (string, bool) {
	c := path.Clean(strings.TrimLeft(name, "/"))
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", false
	}
	return c, true
}

func (b *rebaser) full(rel string) string {
	if rel == "." {
		return b.prefix
	}
	if b.prefix == "" {
		return rel
	}
	return b.prefix + "/" + rel
}

// rewrite checks hdr and renames it relative to root; false skips it.
func (b *rebaser) rewrite(hdr *tar.Header) (bool, error) {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return false, nil // docker's untar ignores them too
	}
	if hdr.Name == "" || strings.IndexByte(hdr.Name, 0) >= 0 {
		return false, fmt.Errorf("entry %q: empty name or NUL in name: %w", hdr.Name, archive.ErrInvalidArchive)
	}
	rel, ok := inside(hdr.Name)
	if !ok {
		return false, fmt.Errorf("%q is outside of %q: %w", hdr.Name, b.dst, archive.ErrBreakout)
	}
	if base := path.Base(rel); strings.HasPrefix(base, ".wh.") {
		return false, errdefs.Errorf(errdefs.ErrInvalidParameter,
			"entry %q: names starting with .wh. are whiteouts of image layers and cannot be copied into a container", hdr.Name)
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse:
		// The reader has already expanded a sparse file to its size.
		hdr.Typeflag = tar.TypeReg
	case tar.TypeSymlink:
		// Absolute targets are paths in the container, inside it
		// whatever they name; a relative one may not climb above the
		// extraction point from where the link is (dockerd's rule).
		if !strings.HasPrefix(hdr.Linkname, "/") {
			if t := path.Join(path.Dir(rel), hdr.Linkname); t == ".." || strings.HasPrefix(t, "../") {
				return false, fmt.Errorf("invalid symlink %q -> %q: %w", path.Join(b.dst, rel), hdr.Linkname, archive.ErrBreakout)
			}
		}
		hdr.Size = 0
	case tar.TypeLink:
		t, ok := inside(hdr.Linkname)
		if !ok || hdr.Linkname == "" {
			return false, fmt.Errorf("invalid hardlink %q -> %q: %w", path.Join(b.dst, rel), hdr.Linkname, archive.ErrBreakout)
		}
		hdr.Linkname = b.full(t)
		hdr.Size = 0
	default:
		hdr.Size = 0
	}
	if rel == "." {
		if hdr.Typeflag == tar.TypeDir {
			return false, nil // the extraction point itself: dockerd keeps it as it is
		}
		return false, errdefs.Errorf(errdefs.ErrInvalidParameter, "entry %q names the extraction point %s but is not a directory", hdr.Name, b.dst)
	}
	full := b.full(rel)
	if b.o.NoOverwriteDirNonDir {
		if err := b.checkOverwrite(full, hdr); err != nil {
			return false, err
		}
	}
	if o := b.o.Owner; o != nil {
		hdr.Uid, hdr.Gid = o.UID, o.GID
	}
	hdr.Name = full
	// PAX: the new names may be too long for USTAR (docker/for-linux#484).
	hdr.Format = tar.FormatPAX
	return true, nil
}

// checkOverwrite is dockerd's NoOverwriteDirNonDir, with its texts.
func (b *rebaser) checkOverwrite(full string, hdr *tar.Header) error {
	st, ok := b.probe.lstat(full)
	if !ok {
		return nil
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	switch {
	case isDir && hdr.Typeflag != tar.TypeDir:
		return errdefs.Errorf(errdefs.ErrConflict, "cannot overwrite directory %q with non-directory %q", "/"+full, b.dst)
	case !isDir && hdr.Typeflag == tar.TypeDir:
		return errdefs.Errorf(errdefs.ErrConflict, "cannot overwrite non-directory %q with directory %q", "/"+full, b.dst)
	}
	return nil
}

// prober stats what is already at a path in root, keeping the fd of the
// last directory asked about: tar writers keep a directory's entries
// together.
type prober struct {
	r   *root
	dir string
	fd  int
}

func (p *prober) close() {
	if p.fd >= 0 {
		unix.Close(p.fd)
		p.fd = -1
	}
}

// lstat is the lstat of full (relative to root), parents followed inside
// root as Apply follows them; false when nothing is there.
func (p *prober) lstat(full string) (unix.Stat_t, bool) {
	var st unix.Stat_t
	dir, base := path.Split(full)
	dir = path.Clean(dir)
	if p.fd < 0 || dir != p.dir {
		p.close()
		fd, err := p.r.open("/"+dir, unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			// No parent (Apply makes it), or not a directory (Apply says
			// why): nothing to overwrite.
			return st, false
		}
		p.fd, p.dir = fd, dir
	}
	err := unix.Fstatat(p.fd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	for errors.Is(err, unix.EINTR) {
		err = unix.Fstatat(p.fd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	}
	return st, err == nil
}
