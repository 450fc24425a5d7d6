package daemon

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// ensureTmpfsExecRoot mounts a tmpfs on the exec root when it is on a disk
// filesystem and empty. Execution state (shim and runtime state, bundles,
// namespace mounts) must not outlive a reboot, and on a disk it costs
// dearly: each container creates some twenty files there, and a busy
// ext4's inode allocator takes up to half a millisecond per file. Hosts
// whose /run is a tmpfs (most) need nothing; a non-empty exec root on disk
// (live containers of an earlier daemon) is left as it is.
func (d *Daemon) ensureTmpfsExecRoot() error {
	var st unix.Statfs_t
	if err := unix.Statfs(d.execRoot, &st); err != nil {
		return &os.PathError{Op: "statfs", Path: d.execRoot, Err: err}
	}
	if st.Type == unix.TMPFS_MAGIC || st.Type == unix.RAMFS_MAGIC {
		return nil
	}
	empty, err := isEmptyDir(d.execRoot)
	if err != nil || !empty {
		if err == nil {
			d.log.Info("exec root is on disk and in use: leaving it there", "exec-root", d.execRoot)
		}
		return err
	}
	if err := unix.Mount("tmpfs", d.execRoot, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0711"); err != nil {
		return fmt.Errorf("mount a tmpfs on the exec root %s: %w", d.execRoot, err)
	}
	d.execRootMounted = true
	d.log.Info("mounted a tmpfs on the exec root (it was on disk)", "exec-root", d.execRoot)
	return nil
}

// releaseTmpfsExecRoot unmounts the tmpfs ensureTmpfsExecRoot mounted,
// when the daemon stops with no container's state in it (a daemon that
// failed to start, or one whose containers are all gone): nothing of it is
// needed again, and a daemon on another exec root must not find a stray
// mount. With containers alive (live restore) it stays.
func (d *Daemon) releaseTmpfsExecRoot() {
	if !d.execRootMounted {
		return
	}
	if empty, err := isEmptyDir(d.shimsDir()); err != nil && !os.IsNotExist(err) || err == nil && !empty {
		return
	}
	if err := unix.Unmount(d.execRoot, unix.MNT_DETACH); err != nil {
		d.log.Warn("unmount the exec root's tmpfs", "exec-root", d.execRoot, "err", err)
	}
}

func isEmptyDir(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	if err == io.EOF {
		return true, nil
	}
	return false, err
}
