package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/mount"
)

// fsView is a container's filesystem as docker cp sees it, held open:
// the container's "/" with its volumes and binds on their destinations.
//
// For a container whose process runs, it is the process's own root
// (/proc/PID/root), pinned by an fd, so its mounts are seen as the
// container sees them, read-only ones read-only. For one that does not
// run, its snapshot is mounted in a private mount namespace (privateNS)
// with its volumes, binds and network files bound on it, as dockerd's
// openContainerFS does; the container cannot start until the view is
// closed (it holds the container's operation lock), so the snapshot is
// never mounted twice.
type fsView struct {
	// root names the container's "/" for the cpath functions: an fd
	// path, which no rename or reused pid can point elsewhere.
	root string
	// mounts are the container's volumes and binds (for checkWritable).
	mounts         []*container.MountPoint
	readonlyRootfs bool
	user           string

	closeOnce sync.Once
	closeFn   func()
}

// Close releases the view (idempotent).
func (v *fsView) Close() {
	v.closeOnce.Do(v.closeFn)
}

// fsAccess says what a view is for.
type fsAccess int

const (
	// fsRead: stat and archive. The rootfs of a container that does not
	// run is mounted read-only once its mount points are made.
	fsRead fsAccess = iota
	// fsWrite: extract.
	fsWrite
)

// errProcessGone: the process whose root was asked for exited (or its
// pid is another's now).
var errProcessGone = errors.New("the container's process is gone")

// openFS opens the view of c's filesystem.
func (d *Daemon) openFS(ctx context.Context, c *container.Container, r *run, access fsAccess) (*fsView, error) {
	// A process that exits between the look at the state and the pin
	// is waited for (its exit handling unmounts the rootfs before the
	// state says exited); then the container is viewed as stopped. A
	// restart policy may start it again meanwhile: a few rounds.
	for range 5 {
		c.Lock()
		running := c.State.HasProcess()
		pid := c.State.Pid
		exited := r.exited
		status := c.State.Status
		v := &fsView{mounts: fsMounts(c), readonlyRootfs: c.HostConfig != nil && c.HostConfig.ReadonlyRootfs}
		if c.Config != nil {
			v.user = c.Config.User
		}
		c.Unlock()
		if status == container.Removing || status == container.Dead {
			return nil, errdefs.Errorf(errdefs.ErrConflict, "container %s is %s", c.ID, status)
		}
		if running {
			fd, err := pinProcessRoot(pid, d.rootfsDir(c.ID))
			if err == nil {
				v.root = fdPath(fd)
				v.closeFn = func() { unix.Close(fd) }
				return v, nil
			}
			if !errors.Is(err, errProcessGone) {
				return nil, err
			}
			select {
			case <-exited:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			continue
		}
		// Nothing may start the container while its snapshot is
		// mounted here: hold its operation lock until Close.
		r.op.Lock()
		c.Lock()
		running = c.State.HasProcess()
		key := c.SnapshotKey
		v.mounts = fsMounts(c)
		files := networkFileBinds(c)
		err := removedError(c, r)
		c.Unlock()
		if err != nil {
			r.op.Unlock()
			return nil, err
		}
		if running {
			r.op.Unlock()
			continue
		}
		d.dropPrestart(ctx, c, r)
		binds, release, err := d.viewBinds(ctx, c.ID, v.mounts, files)
		if err != nil {
			r.op.Unlock()
			return nil, err
		}
		ns, fd, err := d.mountView(ctx, key, binds, access == fsRead)
		if err != nil {
			release()
			r.op.Unlock()
			return nil, err
		}
		v.root = fdPath(fd)
		v.closeFn = func() {
			unix.Close(fd)
			ns.Close()
			release()
			r.op.Unlock()
		}
		return v, nil
	}
	return nil, errdefs.Errorf(errdefs.ErrConflict, "container %s keeps starting and stopping: try again", c.ID)
}

// removedError refuses a container that a removal took (or is taking)
// while its operation lock was awaited. The caller holds c's lock.
func removedError(c *container.Container, r *run) error {
	switch {
	case r.removed:
		return errdefs.Errorf(errdefs.ErrNotFound, "No such container: %s", c.ID)
	case c.State.Status == container.Removing || c.State.Status == container.Dead:
		return errdefs.Errorf(errdefs.ErrConflict, "container %s is %s", c.ID, c.State.Status)
	}
	return nil
}

// pinProcessRoot opens the root directory of process pid as it sees it
// (/proc/PID/root, its mounts included) and checks that it is still that
// process's and that it is the container's rootfs: a pidfd taken first
// must be alive after the open (else the pid may have been reused between
// the two), and the root must be the very directory the daemon mounted
// at rootfs (else the pid was reused before the pidfd was taken). Either
// failure is errProcessGone.
func pinProcessRoot(pid int, rootfs string) (int, error) {
	if pid <= 0 {
		return -1, errProcessGone
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return -1, errProcessGone
	}
	if err != nil {
		return -1, os.NewSyscallError("pidfd_open", err)
	}
	defer unix.Close(pidfd)
	p := "/proc/" + strconv.Itoa(pid) + "/root"
	fd, err := unix.Open(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
		return -1, errProcessGone
	}
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: p, Err: err}
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(fd)
		}
	}()
	if err := unix.PidfdSendSignal(pidfd, 0, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return -1, errProcessGone
		}
		return -1, os.NewSyscallError("pidfd_send_signal", err)
	}
	var got, want unix.Stat_t
	if err := unix.Fstat(fd, &got); err != nil {
		return -1, &os.PathError{Op: "fstat", Path: p, Err: err}
	}
	if err := unix.Stat(rootfs, &want); err != nil {
		return -1, errProcessGone
	}
	if got.Dev != want.Dev || got.Ino != want.Ino {
		return -1, errProcessGone
	}
	ok = true
	return fd, nil
}

// mountView mounts the snapshot key and binds in a private namespace and
// returns it with an O_PATH fd of the root. readOnly makes the rootfs
// read-only once the binds' mount points exist (dockerd makes the ones
// missing, as the runtime does at start).
func (d *Daemon) mountView(ctx context.Context, key string, binds []hostBind, readOnly bool) (*privateNS, int, error) {
	d.unpark(key) // one writer of a layer at a time
	mounts, err := d.snapshots.Mounts(ctx, key)
	if err != nil {
		return nil, -1, fmt.Errorf("container filesystem: %w", err)
	}
	rootfd := -1
	ns, err := d.newPrivateNS(func(dir string) error {
		if err := mount.All(mounts, dir); err != nil {
			return fmt.Errorf("mount the container's filesystem: %w", err)
		}
		fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return &os.PathError{Op: "open", Path: dir, Err: err}
		}
		for _, b := range binds {
			if err := bindInto(fd, b); err != nil {
				unix.Close(fd)
				return err
			}
		}
		if readOnly {
			if err := setReadOnly(fd); err != nil {
				unix.Close(fd)
				return err
			}
		}
		rootfd = fd
		return nil
	})
	if err != nil {
		return nil, -1, err
	}
	return ns, rootfd, nil
}

// bindInto binds b on its destination in the tree at rootfd.
func bindInto(rootfd int, b hostBind) error {
	st, err := os.Stat(b.source)
	if err != nil {
		return fmt.Errorf("mount %s on %s: %w", b.source, b.dest, err)
	}
	t, err := ensureMountpoint(rootfd, b.dest, st.IsDir())
	if err != nil {
		return fmt.Errorf("mount point %s: %w", b.dest, err)
	}
	defer unix.Close(t)
	if err := bindAt(b.source, t, b.ro); err != nil {
		return fmt.Errorf("mount %s on %s: %w", b.source, b.dest, err)
	}
	return nil
}
