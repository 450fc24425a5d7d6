package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// privateNS is a mount namespace of the daemon's own, held by one OS
// thread, for mounts nobody else may see: a container's filesystem while
// it does not run (its snapshot, its volumes and binds on their
// destinations), or the read-only view of an image's layers. It is how
// dockerd's openContainerFS keeps such mounts private.
//
// Mounts made by setup live only in the namespace; fds opened on them
// stay usable from any thread (a path walk from an fd crosses the mounts
// of the namespace the fd's mount belongs to). Close ends the thread, and
// the kernel tears down the namespace with every mount in it; a daemon
// that dies does the same, so nothing is ever left mounted in the host's
// view.
type privateNS struct {
	stop chan struct{}
	done chan struct{}
}

// fsMountDir is the directory privateNS mounts on: the same path in every
// namespace, since each sees only its own mount there. It stays empty in
// the host's view.
func (d *Daemon) fsMountDir() string { return filepath.Join(d.execRoot, "fs") }

// newPrivateNS starts the thread, enters a new mount namespace whose
// mounts propagate nowhere, and runs setup there with the mount point
// (an empty directory). When setup fails the namespace is gone by the
// time newPrivateNS returns.
func (d *Daemon) newPrivateNS(setup func(dir string) error) (*privateNS, error) {
	dir := d.fsMountDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &privateNS{stop: make(chan struct{}), done: make(chan struct{})}
	res := make(chan error, 1)
	go func() {
		defer close(p.done)
		// Never unlocked: when this goroutine returns, the runtime ends
		// the thread rather than reuse it, and the namespace with it.
		runtime.LockOSThread()
		// CLONE_NEWNS implies CLONE_FS: the thread gets its own root
		// and cwd too, which a thread may unshare alone.
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			res <- os.NewSyscallError("unshare(CLONE_NEWNS)", err)
			return
		}
		// Private, not slave: no mount made here may reach the host,
		// and none of the host's later mounts matters here.
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			res <- fmt.Errorf("make the private mount namespace rprivate: %w", err)
			return
		}
		if err := setup(dir); err != nil {
			res <- err
			return
		}
		res <- nil
		<-p.stop
	}()
	if err := <-res; err != nil {
		<-p.done
		return nil, err
	}
	return p, nil
}

// Close ends the namespace. The caller closes its fds into it first.
func (p *privateNS) Close() {
	close(p.stop)
	<-p.done
}

// fdPath names an open fd for code that takes a path. The kernel follows
// it to the file the fd holds, so a rename or symlink swap of the path it
// was opened by changes nothing.
func fdPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// openat2 retries openat2(2) when interrupted, or when RESOLVE_IN_ROOT
// reports a concurrent rename or mount (EAGAIN).
func openat2(dirfd int, name string, how *unix.OpenHow) (int, error) {
	var err error
	for range 64 {
		var fd int
		fd, err = unix.Openat2(dirfd, name, how)
		if err == nil {
			return fd, nil
		}
		if !errors.Is(err, unix.EINTR) && !errors.Is(err, unix.EAGAIN) {
			break
		}
	}
	return -1, &os.PathError{Op: "openat2", Path: name, Err: err}
}

// inRoot opens p, a path in the tree whose root is rootfd, resolved by
// the kernel inside it (".." and absolute symlinks stop at the root) and
// with magic links refused.
func inRoot(rootfd int, p string, flags uint64) (int, error) {
	rel := "./" + strings.TrimLeft(filepath.Clean("/"+p), "/")
	return openat2(rootfd, rel, &unix.OpenHow{
		Flags:   flags | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
}

// mkdirAllIn makes the directory p (and its parents) in the tree at
// rootfd, resolving each existing component inside it, and returns an
// O_PATH fd of it. Components are made with mkdirat relative to the fd
// of their resolved parent, so nothing is ever made outside the root.
func mkdirAllIn(rootfd int, p string) (int, error) {
	clean := filepath.Clean("/" + p)
	fd, err := inRoot(rootfd, clean, unix.O_PATH|unix.O_DIRECTORY)
	if err == nil || !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	if clean == "/" {
		return -1, err
	}
	parent, err := mkdirAllIn(rootfd, filepath.Dir(clean))
	if err != nil {
		return -1, err
	}
	defer unix.Close(parent)
	name := filepath.Base(clean)
	if err := unix.Mkdirat(parent, name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, &os.PathError{Op: "mkdirat", Path: clean, Err: err}
	}
	// Resolve again from the root: what was made is a directory, or
	// what was there first; either way it is looked up inside root.
	return inRoot(rootfd, clean, unix.O_PATH|unix.O_DIRECTORY)
}

// ensureMountpoint returns an O_PATH fd of p in the tree at rootfd, made
// first as dockerd makes a bind's mount point when missing: a directory,
// or an empty file when the source is not a directory.
func ensureMountpoint(rootfd int, p string, dir bool) (int, error) {
	flags := uint64(unix.O_PATH)
	fd, err := inRoot(rootfd, p, flags)
	if err == nil || !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	if dir {
		return mkdirAllIn(rootfd, p)
	}
	clean := filepath.Clean("/" + p)
	parent, err := mkdirAllIn(rootfd, filepath.Dir(clean))
	if err != nil {
		return -1, err
	}
	defer unix.Close(parent)
	// The parent is an O_PATH fd; open it for real to create in it.
	pfd, err := unix.Openat(parent, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: filepath.Dir(clean), Err: err}
	}
	defer unix.Close(pfd)
	f, err := unix.Openat(pfd, filepath.Base(clean), unix.O_CREAT|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o755)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, &os.PathError{Op: "create", Path: clean, Err: err}
	}
	if err == nil {
		unix.Close(f)
	}
	return inRoot(rootfd, clean, flags)
}

// bindAt binds the host path source (with what is mounted below it) on
// the file the O_PATH fd target holds, read-only all through when ro.
// The clone is made detached and given its flags before it is attached,
// so a read-only bind is never writable, not even for a moment; and it is
// attached on the fd, so no path is resolved again.
func bindAt(source string, target int, ro bool) error {
	tree, err := unix.OpenTree(unix.AT_FDCWD, source, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return &os.PathError{Op: "open_tree", Path: source, Err: err}
	}
	defer unix.Close(tree)
	if ro {
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
		if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
			return &os.PathError{Op: "mount_setattr(MOUNT_ATTR_RDONLY)", Path: source, Err: err}
		}
	}
	if err := unix.MoveMount(tree, "", target, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return &os.PathError{Op: "move_mount", Path: source, Err: err}
	}
	return nil
}

// setReadOnly makes the mount whose root fd holds read-only, that mount
// alone (the binds on it keep their own mode).
func setReadOnly(fd int) error {
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		return os.NewSyscallError("mount_setattr(MOUNT_ATTR_RDONLY)", err)
	}
	return nil
}
