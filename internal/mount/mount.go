// Package mount describes mounts as data (one Mount is one mount(2) or
// mount-API call) and performs them. Snapshotters return Mounts; the
// daemon mounts them at a bundle's rootfs.
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
