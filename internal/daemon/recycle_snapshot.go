package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/mount"
	"github.com/berth-project/berth/internal/snapshot"
)

// An auto-remove container that wrote nothing leaves its writable
// snapshot as its create made it. Removing it (a metadata transaction
// and its fsync, the directories) and preparing the next spare (another
// transaction and fsync, new directories) cost a `docker run --rm` about
// a millisecond of CPU and two flushes; instead the snapshot goes back to
// the spares of its image (spares.go), for the next auto-remove create.
//
// "Wrote nothing" is checked, not assumed: when the container's create
// is done, before any of its code runs, the daemon records what its
// upper directory holds (the mount targets the runtime made: /etc/hosts,
// /etc/resolv.conf, /etc/hostname) with every attribute a process could
// observe or change (type, mode, owner, size, links, times to the
// nanosecond, extended attributes); at its exit the record must be the
// same, entry for entry. Anything the container created, removed,
// renamed, wrote or touched shows as a difference (a removal from a
// lower layer as a whiteout, a copy-up as a new entry, a change to a
// directory in its times), and the snapshot is removed as before. Only
// the targets every container gets may be there at all, so a recycled
// snapshot shows any container exactly what a fresh one would, once its
// own targets are made. A privileged container, which could reach the
// upper directory from outside the overlay, is never recycled.
//
// The snapshot stays mounted: the check is made before the exit's
// cleanup, and the overlay mount is moved (MS_MOVE) from the container's
// bundle to a directory of its own under the exec root, "parked"; the
// next container's mount moves it into its bundle. An overlay mount and
// its unmount (a new superblock, overlayfs's checks of the work
// directory; an RCU grace period) cost more than the snapshot's own
// bookkeeping. Every process that saw the mount is gone by then: a
// pid namespace's init exits only after the rest of it, and the
// container's mount namespace, with whatever it mounted, went with them.
// A parked mount that is not taken is unmounted before its snapshot is
// removed; the next start unmounts those a crash left.
//
// A recycled snapshot was mounted with overlayfs's "volatile" option:
// its files never had to reach the disk. It is given only to auto-remove
// containers, which mount it the same way and whose snapshot a crash
// discards anyway (the next start removes snapshots no record names).

// upperAllowed are the entries an upper directory may hold to be
// recycled: the mount targets the runtime creates for every container
// (the directories for an image that has none).
var upperAllowed = map[string]bool{
	"etc": true, "etc/hosts": true, "etc/hostname": true, "etc/resolv.conf": true,
	"dev": true, "proc": true, "sys": true,
}

// maxUpperEntries bounds the walk of an upper directory.
const maxUpperEntries = 16

// upperState is what a container's upper directory held when its create
// was done.
type upperState struct {
	key, parent string
	upper, work string
	print       string
	// parked is where the mount was moved to, once checked (parkRootfs).
	parked string
}

// layerDirs are an overlay snapshot's upper and work directories.
type layerDirs struct{ upper, work string }

// noteLayerDirs remembers the directories of key's mounts, for
// recordUpper (saves a metadata lookup).
func (d *Daemon) noteLayerDirs(key string, mounts []mount.Mount) {
	up, err := snapshot.UpperDir(mounts)
	if err != nil || !up.Overlay {
		return
	}
	if work := workDirOf(mounts[0]); work != "" {
		d.spares.dirs.Store(key, layerDirs{upper: up.Dir, work: work})
	}
}

// layerDirsOf returns key's directories, noted at its mount (or looked up).
func (d *Daemon) layerDirsOf(ctx context.Context, key string) (layerDirs, bool) {
	if v, ok := d.spares.dirs.Load(key); ok {
		return v.(layerDirs), true
	}
	mounts, err := d.snapshots.Mounts(ctx, key)
	if err != nil {
		return layerDirs{}, false
	}
	d.noteLayerDirs(key, mounts)
	v, ok := d.spares.dirs.Load(key)
	if !ok {
		return layerDirs{}, false
	}
	return v.(layerDirs), true
}

// recordUpper notes, for an auto-remove container whose snapshot may be
// recycled, the state of its upper directory once its first create is
// done: the reference stays that of before its first start, so that a
// change made by any run of it (a restart) shows at its end. The caller
// must not hold c's lock.
func (d *Daemon) recordUpper(ctx context.Context, c *container.Container, r *run) {
	c.Lock()
	eligible := c.IsAutoRemove() && len(c.MountPoints) == 0 && !c.HostConfig.Privileged &&
		r.upper == nil && c.State.StartedAt.IsZero()
	key := c.SnapshotKey
	c.Unlock()
	parent, ok := d.spares.parents.Load(key)
	if !eligible || !ok {
		return
	}
	ld, ok := d.layerDirsOf(ctx, key)
	if !ok {
		return
	}
	print, err := fingerprintUpper(ld.upper)
	if err != nil {
		d.log.Debug("container snapshot not recyclable", "container", c.ID, "why", err)
		return
	}
	c.Lock()
	r.upper = &upperState{key: key, parent: parent.(string), upper: ld.upper, work: ld.work, print: print}
	c.Unlock()
}

// parkRootfs checks, at an auto-remove container's removal and before its
// exit's cleanup unmounts its layer, whether its snapshot may be recycled
// (recordUpper); if so it moves the mount out of the bundle, to be moved
// into the next container's.
func (d *Daemon) parkRootfs(c *container.Container, r *run) {
	if r == nil {
		return
	}
	c.Lock()
	st := r.upper
	c.Unlock()
	if st == nil || st.parked != "" {
		return
	}
	if print, err := fingerprintUpper(st.upper); err != nil || print != st.print {
		d.log.Debug("container snapshot changed: removed", "container", c.ID, "why", err)
		c.Lock()
		r.upper = nil
		c.Unlock()
		return
	}
	dir := filepath.Join(d.parkedDir(), st.key)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return
	}
	// Only a mount of the layer itself, with nothing mounted on it.
	rootfs := d.rootfsDir(c.ID)
	if err := unix.Mount(rootfs, dir, "", unix.MS_MOVE, ""); err != nil {
		d.log.Debug("park a container's layer", "container", c.ID, "err", err)
		_ = os.Remove(dir)
		return
	}
	d.spares.parked.Store(st.key, dir)
	c.Lock()
	st.parked = dir
	c.Unlock()
}

// unpark unmounts the parked mount of key, if there is one. The layer was
// mounted volatile: its mark is cleared, as after any clean unmount.
func (d *Daemon) unpark(key string) {
	v, ok := d.spares.parked.LoadAndDelete(key)
	if !ok {
		return
	}
	dir := v.(string)
	if err := mount.UnmountAll(dir, 0); err != nil {
		d.log.Warn("unmount a parked container layer", "snapshot", key, "err", err)
		_ = mount.UnmountAll(dir, unix.MNT_DETACH)
	}
	_ = os.Remove(dir)
	if v, ok := d.spares.dirs.Load(key); ok {
		_ = removeVolatileMark(v.(layerDirs).work)
	}
}

// takeParked moves key's parked mount to rootfs; false when there is none
// (or it could not be moved: it is unmounted then).
func (d *Daemon) takeParked(key, rootfs string) bool {
	v, ok := d.spares.parked.Load(key)
	if !ok {
		return false
	}
	dir := v.(string)
	err := os.MkdirAll(rootfs, 0o711)
	if err == nil {
		err = unix.Mount(dir, rootfs, "", unix.MS_MOVE, "")
	}
	if err != nil {
		d.log.Debug("move a parked container layer", "snapshot", key, "err", err)
		d.unpark(key)
		return false
	}
	d.spares.parked.Delete(key)
	_ = os.Remove(dir)
	return true
}

// removeParked unmounts the parked layers a crash left, before their
// snapshots are removed as orphans.
func (d *Daemon) removeParked() {
	entries, err := os.ReadDir(d.parkedDir())
	if err != nil {
		return
	}
	for _, e := range entries {
		dir := filepath.Join(d.parkedDir(), e.Name())
		if err := mount.UnmountAll(dir, unix.MNT_DETACH); err != nil {
			d.log.Warn("unmount a parked container layer", "dir", dir, "err", err)
			continue
		}
		_ = os.Remove(dir)
	}
}

// recycleSnapshot puts c's snapshot back among the spares if its upper
// directory is as its create left it (see recordUpper); false means the
// caller removes it. The snapshot must be unmounted.
func (d *Daemon) recycleSnapshot(c *container.Container, r *run, key string) (recycled bool) {
	d.spares.parents.Delete(key)
	defer func() {
		if !recycled {
			d.unpark(key)
			d.spares.dirs.Delete(key)
		}
	}()
	if r == nil {
		return false
	}
	c.Lock()
	st := r.upper
	r.upper = nil
	c.Unlock()
	if st == nil || st.key != key {
		return false
	}
	if st.parked != "" {
		// Checked before the exit's cleanup (parkRootfs).
		if !d.returnSpare(st.parent, key) {
			return false
		}
		d.log.Debug("container snapshot recycled, mounted", "container", c.ID, "snapshot", key)
		return true
	}
	print, err := fingerprintUpper(st.upper)
	if err != nil || print != st.print {
		d.log.Debug("container snapshot changed: removed", "container", c.ID, "why", err)
		return false
	}
	// The unmount was clean; nothing but the volatile mark may be left in
	// the work directory.
	if err := removeVolatileMark(st.work); err != nil {
		return false
	}
	if entries, err := os.ReadDir(filepath.Join(st.work, "work")); err != nil || len(entries) > 0 {
		return false
	}
	if !d.returnSpare(st.parent, key) {
		return false
	}
	d.log.Debug("container snapshot recycled", "container", c.ID, "snapshot", key)
	return true
}

// workDirOf is an overlay mount's workdir option, "" if it has none.
func workDirOf(m mount.Mount) string {
	for _, o := range m.Options {
		if work, ok := strings.CutPrefix(o, "workdir="); ok {
			return work
		}
	}
	return ""
}

// fingerprintUpper describes dir and everything in it, attribute by
// attribute; an entry outside upperAllowed, or a non-empty file, is an
// error.
func fingerprintUpper(dir string) (string, error) {
	var b strings.Builder
	if err := describeEntry(&b, dir, "."); err != nil {
		return "", err
	}
	n := 0
	var walk func(rel string) error
	walk = func(rel string) error {
		entries, err := os.ReadDir(filepath.Join(dir, rel))
		if err != nil {
			return err
		}
		for _, e := range entries {
			p := filepath.Join(rel, e.Name())
			if rel == "." {
				p = e.Name()
			}
			if n++; n > maxUpperEntries || !upperAllowed[p] {
				return fmt.Errorf("the container wrote %s", p)
			}
			if err := describeEntry(&b, filepath.Join(dir, p), p); err != nil {
				return err
			}
			if e.IsDir() {
				if err := walk(p); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk("."); err != nil {
		return "", err
	}
	return b.String(), nil
}

// describeEntry writes one line for path: its attributes and extended
// attributes. Only directories and empty regular files are allowed.
func describeEntry(b *strings.Builder, path, rel string) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
	case unix.S_IFREG:
		if st.Size != 0 {
			return fmt.Errorf("the container wrote %s", rel)
		}
	default:
		return fmt.Errorf("%s is neither a directory nor a file", rel)
	}
	fmt.Fprintf(b, "%s %o %d:%d %d %d %d.%d %d.%d", rel, st.Mode, st.Uid, st.Gid, st.Size, st.Nlink,
		st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec)
	names, err := listXattrs(path)
	if err != nil {
		return err
	}
	slices.Sort(names)
	val := make([]byte, 256)
	for _, name := range names {
		n, err := unix.Lgetxattr(path, name, val)
		if err != nil {
			return fmt.Errorf("xattr %s of %s: %w", name, rel, err)
		}
		fmt.Fprintf(b, " %s=%q", name, val[:n])
	}
	b.WriteByte('\n')
	return nil
}

func listXattrs(path string) ([]string, error) {
	buf := make([]byte, 1024)
	n, err := unix.Llistxattr(path, buf)
	if err != nil {
		return nil, fmt.Errorf("list xattrs of %s: %w", path, err)
	}
	var names []string
	for _, s := range strings.Split(string(buf[:n]), "\x00") {
		if s != "" {
			names = append(names, s)
		}
	}
	return names, nil
}
