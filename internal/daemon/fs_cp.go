package daemon

import (
	"context"
	"errors"
	"io"
	pathpkg "path"
	"sync"

	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/archive/cpath"
	"github.com/berth-project/berth/internal/errdefs"
)

// docker cp's engine side: the archive endpoints over a view of the
// container's filesystem (fsView), with cpath doing every path resolution
// inside the container's root.

// ContainerStatPath is HEAD /containers/{id}/archive.
func (d *Daemon) ContainerStatPath(ctx context.Context, name, path string) (containertypes.PathStat, error) {
	c, r, err := d.get(name)
	if err != nil {
		return containertypes.PathStat{}, err
	}
	v, err := d.openFS(ctx, c, r, fsRead)
	if err != nil {
		return containertypes.PathStat{}, err
	}
	defer v.Close()
	st, err := cpath.Stat(ctx, v.root, path)
	if err != nil {
		return containertypes.PathStat{}, fileError(err, path, name)
	}
	return st, nil
}

// ContainerArchivePath is GET /containers/{id}/archive: the view stays
// open (for a container that does not run, it cannot start) until the
// caller closes the reader.
func (d *Daemon) ContainerArchivePath(ctx context.Context, name, path string) (io.ReadCloser, containertypes.PathStat, error) {
	c, r, err := d.get(name)
	if err != nil {
		return nil, containertypes.PathStat{}, err
	}
	v, err := d.openFS(ctx, c, r, fsRead)
	if err != nil {
		return nil, containertypes.PathStat{}, err
	}
	// The stream outlives the request's handler call, not its context:
	// the server reads it within the request.
	rc, st, err := cpath.Archive(ctx, v.root, path, cpath.ArchiveOptions{})
	if err != nil {
		v.Close()
		return nil, containertypes.PathStat{}, fileError(err, path, name)
	}
	c.Lock()
	d.emit(c, "archive-path", nil)
	c.Unlock()
	return &viewReader{ReadCloser: rc, v: v}, st, nil
}

// viewReader closes its view after its stream.
type viewReader struct {
	io.ReadCloser
	v    *fsView
	once sync.Once
	err  error
}

func (r *viewReader) Close() error {
	r.once.Do(func() {
		r.err = r.ReadCloser.Close()
		r.v.Close()
	})
	return r.err
}

// ContainerExtractToDir is PUT /containers/{id}/archive. With
// CopyUIDGID the entries belong to the container's user (looked up in its
// own /etc/passwd and /etc/group), as dockerd's copyUIDGID; otherwise
// they keep the archive's owners.
func (d *Daemon) ContainerExtractToDir(ctx context.Context, name, path string, opts server.ExtractOptions, content io.Reader) error {
	c, r, err := d.get(name)
	if err != nil {
		return err
	}
	v, err := d.openFS(ctx, c, r, fsWrite)
	if err != nil {
		return err
	}
	defer v.Close()
	eo := cpath.ExtractOptions{
		NoOverwriteDirNonDir: opts.NoOverwriteDirNonDir,
		CheckWritable:        checkWritable(v.mounts, v.readonlyRootfs),
	}
	if opts.CopyUIDGID && v.user != "" {
		o, err := cpath.LookupOwner(ctx, v.root, v.user)
		if err != nil {
			return err
		}
		eo.Owner = &o
	}
	if err := cpath.Extract(ctx, v.root, path, content, eo); err != nil {
		if errors.Is(err, cpath.ErrReadOnly) {
			// cpath finds a read-only extraction point before it asks
			// CheckWritable; the words are docker's all the same. The
			// path is not resolved here: a link into a read-only mount
			// gets the rootfs's words or cpath's.
			if werr := eo.CheckWritable(pathpkg.Join("/", path)); werr != nil {
				return werr
			}
		}
		return fileError(err, path, name)
	}
	c.Lock()
	d.emit(c, "extract-to-dir", nil)
	c.Unlock()
	return nil
}

// fileError words a missing path as dockerd does, with the path and
// the container's name as the request gave them.
func fileError(err error, path, name string) error {
	if errdefs.IsNotFound(err) {
		return cpath.FileNotFound(path, name)
	}
	return err
}
