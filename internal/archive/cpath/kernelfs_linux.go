package cpath

import (
	"os"
	"path"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/archive"
	"github.com/berth-project/berth/internal/errdefs"
)

// checkVisible refuses, as missing, a path inside a kernel filesystem
// (proc, sysfs, devpts, ...) mounted in the root: dockerd's view of a
// container has only its rootfs and volumes mounted, where those are
// empty directories, and the same request must give the same answer
// whether root is that view or /proc/PID/root of the running container.
// The mountpoint itself stays visible, as the empty directory it is
// there.
func (t target) checkVisible(abs string) error {
	fd := int(t.dir.Fd())
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil {
		return &os.PathError{Op: "fstatfs", Path: t.dir.Name(), Err: err}
	}
	if !archive.KernelFilesystem(sfs.Type) {
		return nil
	}
	if t.name == "." {
		var stx unix.Statx_t
		err := unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS, &stx)
		if err != nil {
			return &os.PathError{Op: "statx", Path: t.dir.Name(), Err: err}
		}
		if stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0 {
			return nil
		}
	}
	return errdefs.Errorf(errdefs.ErrNotFound, "%w", &os.PathError{Op: "lstat", Path: path.Clean(abs), Err: unix.ENOENT})
}
