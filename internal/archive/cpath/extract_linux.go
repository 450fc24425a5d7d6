package cpath

import (
	"context"
	"errors"
	"io"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/archive"
	"github.com/berth-project/berth/internal/errdefs"
)

// Extract is PUT /containers/{id}/archive: it extracts the tar (plain,
// gzip, bzip2 or zstd) in content into the directory at dst in the
// container under root.
//
// dst is resolved as dockerd resolves it, every symlink followed (inside
// root), and must exist (errdefs.ErrNotFound) and be a directory
// (errdefs.ErrInvalidParameter "extraction point is not a directory"). A
// read-only filesystem there is ErrReadOnly before anything is read.
//
// Entries are extracted as docker's untar does: names relative to dst
// (a leading "/" too), parents made as needed (0755), what is in the way
// replaced unless both are directories (or refused, with
// NoOverwriteDirNonDir), owners kept (or opts.Owner), modes, times,
// xattrs, hard links and device nodes made. An entry whose name, hard
// link or relative symlink target climbs out of dst is refused
// (archive.ErrBreakout), as dockerd refuses it; so is, beyond dockerd, a
// write through a symlink the same archive made and a name starting with
// ".wh." (a whiteout to the layer code). On error the entries before the
// failing one stay extracted, as with dockerd.
func Extract(ctx context.Context, root, dst string, content io.Reader, opts ExtractOptions) error {
	if err := checkPath(ctx, dst); err != nil {
		return err
	}
	if o := opts.Owner; o != nil && (o.UID < 0 || o.GID < 0 || int64(o.UID) >= 1<<32-1 || int64(o.GID) >= 1<<32-1) {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "owner %d:%d out of range", o.UID, o.GID)
	}
	r, err := openRoot(root)
	if err != nil {
		return err
	}
	defer r.close()

	real, err := r.extractionPoint(absPath(dst))
	if err != nil {
		return err
	}
	if opts.CheckWritable != nil {
		if err := opts.CheckWritable(real); err != nil {
			return err
		}
	}

	ds, err := decompress(content)
	if err != nil {
		return err
	}
	defer ds.Close()
	rb := newRebaser(r, ds, real, &opts)
	defer rb.close()
	applyOpts := []archive.ApplyOpt{archive.WithDevicePolicy(archive.DevicesAllow)}
	if opts.SizeLimit > 0 {
		applyOpts = append(applyOpts, archive.WithSizeLimit(opts.SizeLimit))
	}
	_, err = archive.Apply(ctx, r.procPath(), rb, applyOpts...)
	if rb.err != nil && err != nil {
		// The rebaser's own refusal, which Apply wraps as a read error.
		return rb.err
	}
	if err != nil {
		return classifyExtract(err)
	}
	return nil
}

// extractionPoint resolves abs to the directory entries go to, as a path
// in the container with no symlink left, and checks it is one and
// writable.
func (r *root) extractionPoint(abs string) (string, error) {
	real, err := r.resolve(path.Clean(abs))
	if err != nil {
		return "", classify(err)
	}
	// RESOLVE_NO_SYMLINKS: real has none, so one now on the way was
	// swapped in since resolve; better to fail than to write elsewhere.
	fd, err := retry(func() (int, error) {
		return unix.Openat2(r.fd, "./"+strings.TrimLeft(real, "/"), &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS,
		})
	})
	switch {
	case errors.Is(err, unix.ENOTDIR):
		return "", errdefs.Errorf(errdefs.ErrInvalidParameter, "extraction point is not a directory")
	case err != nil:
		return "", classify(&os.PathError{Op: "open", Path: real, Err: err})
	}
	defer unix.Close(fd)
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil {
		return "", &os.PathError{Op: "fstatfs", Path: real, Err: err}
	}
	if archive.KernelFilesystem(sfs.Type) {
		// /proc, /sys, /dev/pts of a running container: not files.
		return "", errdefs.Errorf(errdefs.ErrInvalidParameter, "extraction point %s is on a kernel filesystem", real)
	}
	if sfs.Flags&unix.ST_RDONLY != 0 {
		return "", errdefs.Errorf(ErrReadOnly, "extraction point %s is on a read-only file system", real)
	}
	return real, nil
}

// classifyExtract tags what the layer code and the kernel said with the
// classes of this package.
func classifyExtract(err error) error {
	switch {
	case errors.Is(err, errdefs.ErrInvalidParameter), errors.Is(err, errdefs.ErrConflict),
		errors.Is(err, errdefs.ErrNotFound), errors.Is(err, errdefs.ErrForbidden):
		return err
	case errors.Is(err, unix.EROFS):
		return errdefs.Errorf(ErrReadOnly, "%w", err)
	}
	return classify(err)
}
