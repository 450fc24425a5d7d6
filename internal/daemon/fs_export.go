package daemon

import (
	"context"
	"errors"
	"io"
	"os"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/archive"
	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/mount"
)

// ContainerExport is GET /containers/{id}/export (docker export): the
// container's root filesystem, its image with its layer on top, as one
// tar; volumes and binds are not in it, the runtime's mount points are
// (empty), as in docker's.
func (d *Daemon) ContainerExport(ctx context.Context, name string, out io.Writer) error {
	c, r, err := d.get(name)
	if err != nil {
		return err
	}
	err = d.withRootfs(ctx, c, r, func(root string) error {
		return archive.WriteTar(ctx, out, root)
	})
	if err != nil {
		return err
	}
	c.Lock()
	d.emit(c, "export", nil)
	c.Unlock()
	return nil
}

// withRootfs calls fn with the path of c's root filesystem alone. A
// running container's is its own mount (the daemon's, not the
// container's view, which has its volumes in it), pinned by an fd; a
// stopped one's snapshot is mounted read-only in a private namespace,
// and the container cannot start until fn returns.
func (d *Daemon) withRootfs(ctx context.Context, c *container.Container, r *run, fn func(root string) error) error {
	for range 5 {
		c.Lock()
		running := c.State.HasProcess()
		exited := r.exited
		c.Unlock()
		if running {
			fd, err := pinMount(d.rootfsDir(c.ID))
			if err == nil {
				defer unix.Close(fd)
				return fn(fdPath(fd))
			}
			if !errors.Is(err, errProcessGone) {
				return err
			}
			// The exit's cleanup unmounted it: the container is
			// stopped once that is recorded.
			select {
			case <-exited:
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		r.op.Lock()
		c.Lock()
		running = c.State.HasProcess()
		key := c.SnapshotKey
		err := removedError(c, r)
		c.Unlock()
		if err != nil {
			r.op.Unlock()
			return err
		}
		if running {
			r.op.Unlock()
			continue
		}
		d.dropPrestart(ctx, c, r)
		err = d.withStoppedRootfs(ctx, key, fn)
		r.op.Unlock()
		return err
	}
	return errdefs.Errorf(errdefs.ErrConflict, "container %s keeps starting and stopping: try again", c.ID)
}

func (d *Daemon) withStoppedRootfs(ctx context.Context, key string, fn func(root string) error) error {
	d.unpark(key) // one writer of a layer at a time
	mounts, err := d.snapshots.Mounts(ctx, key)
	if err != nil {
		return err
	}
	ro := make([]mount.Mount, len(mounts))
	for i, m := range mounts {
		m.Options = append(slices.Clone(m.Options), "ro")
		ro[i] = m
	}
	return d.withPrivateMount(ctx, ro, func(root string, _ int) error { return fn(root) })
}

// pinMount opens dir, which must be a mount point (a running container's
// rootfs): errProcessGone when nothing is mounted there any more.
func pinMount(dir string) (int, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return -1, errProcessGone
	}
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	var in, parent unix.Statx_t
	err = unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID, &in)
	if err == nil {
		err = unix.Statx(fd, "..", 0, unix.STATX_MNT_ID, &parent)
	}
	if err != nil {
		unix.Close(fd)
		return -1, &os.PathError{Op: "statx", Path: dir, Err: err}
	}
	if in.Mnt_id == parent.Mnt_id {
		unix.Close(fd)
		return -1, errProcessGone
	}
	return fd, nil
}
