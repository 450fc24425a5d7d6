// Package mount describes mounts as data (one Mount is one mount(2) or
// mount-API call) and performs them. Snapshotters return Mounts; the
// daemon mounts them at a bundle's rootfs, and the image store mounts them
// for a moment with WithTempMount.
//
// Options follow mount(8): the names it knows as flags ("ro", "nosuid",
// "rbind", "private", ...) become mount flags, and everything else is
// passed to the filesystem as data ("lowerdir=...", "size=64m"). A Mount
// whose Type is "bind", or whose options hold "bind" or "rbind", is a bind
// mount of Source; per-mount flags ("ro", "nosuid", ...) are applied to the
// bind mount itself, never to the mount it was taken from.
//
// On Linux every failure is a *linux.MountError naming the operation
// (mount, bind, remount, open_tree, mount_setattr, fsopen, fsconfig,
// fsmount, move_mount, umount), the source, target, filesystem type and
// flags by name; it unwraps to the errno, so callers test
// errors.Is(err, unix.EBUSY). Elsewhere every call returns
// errdefs.ErrNotImplemented.
package mount

// Mount is one filesystem mount.
type Mount struct {
	// Type is the filesystem type ("overlay", "bind", "tmpfs", ...).
	Type string
	// Source is the device or directory.
	Source string
	// Target is a subdirectory of the mount point to mount on, for the
	// second and later of several mounts; empty for the first.
	Target string
	// Options are mount(8)-style options: flags ("ro", "rbind") and
	// filesystem data ("lowerdir=...", "upperdir=...").
	Options []string
}

// ReadOnly reports whether m mounts read-only: its last "ro" or "rw"
// option is "ro".
func (m Mount) ReadOnly() bool {
	ro := false
	for _, o := range m.Options {
		switch o {
		case "ro":
			ro = true
		case "rw":
			ro = false
		}
	}
	return ro
}
