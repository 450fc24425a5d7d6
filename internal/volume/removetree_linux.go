package volume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// errMountInside stops a removal at a mount point: the files below belong
// to whatever is mounted there (a bind-mounted host directory, a network
// share), never to the volume.
var errMountInside = errors.New("a filesystem is mounted inside")

// removeTree removes name in dir and everything below it, like
// os.RemoveAll, but relative to directory fds opened without following
// symlinks, and it refuses to enter a directory on another mount than
// name's own. A missing name is not an error.
func removeTree(dir, name string) error {
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(dfd)
	top, err := statxAt(dfd, name)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "statx", Path: filepath.Join(dir, name), Err: err}
	}
	parent, err := statxAt(dfd, "")
	if err != nil {
		return &os.PathError{Op: "statx", Path: dir, Err: err}
	}
	if !sameMount(&top, &parent) {
		return fmt.Errorf("remove %s: %w", filepath.Join(dir, name), errMountInside)
	}
	if top.Mode&unix.S_IFMT != unix.S_IFDIR {
		return unlinkAt(dfd, name, 0, filepath.Join(dir, name))
	}
	return removeDirAt(dfd, name, filepath.Join(dir, name), &top)
}

// removeDirAt empties and removes directory name in dfd, staying on the
// mount of top.
func removeDirAt(dfd int, name, disp string, top *unix.Statx_t) error {
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: disp, Err: err}
	}
	f := os.NewFile(uintptr(fd), disp)
	defer f.Close()
	self, err := statxAt(fd, "")
	if err != nil {
		return &os.PathError{Op: "statx", Path: disp, Err: err}
	}
	if !sameMount(&self, top) {
		return fmt.Errorf("remove %s: %w", disp, errMountInside)
	}
	// Entries made while the directory is emptied (a process still
	// writing) make the final rmdir fail with ENOTEMPTY: read again.
	for attempt := 0; ; attempt++ {
		if _, err := f.Seek(0, 0); err != nil {
			return err
		}
		names, err := f.Readdirnames(-1)
		if err != nil {
			return err
		}
		for _, n := range names {
			if err := removeEntryAt(fd, n, filepath.Join(disp, n), top); err != nil {
				return err
			}
		}
		err = unlinkAt(dfd, name, unix.AT_REMOVEDIR, disp)
		if !errors.Is(err, unix.ENOTEMPTY) || attempt == 2 {
			return err
		}
	}
}

// removeEntryAt removes one entry of directory fd, whatever its type.
func removeEntryAt(fd int, name, disp string, top *unix.Statx_t) error {
	st, err := statxAt(fd, name)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "statx", Path: disp, Err: err}
	}
	if !sameMount(&st, top) {
		return fmt.Errorf("remove %s: %w", disp, errMountInside)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return removeDirAt(fd, name, disp, top)
	}
	return unlinkAt(fd, name, 0, disp)
}

func unlinkAt(dfd int, name string, flags int, disp string) error {
	for {
		err := unix.Unlinkat(dfd, name, flags)
		switch {
		case err == unix.EINTR:
			continue
		case err == nil || err == unix.ENOENT:
			return nil
		default:
			return &os.PathError{Op: "unlink", Path: disp, Err: err}
		}
	}
}
