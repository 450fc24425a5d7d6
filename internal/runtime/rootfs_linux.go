package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/linux"
	securejoin "github.com/cyphar/filepath-securejoin"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// rootfsSetup prepares the container's root filesystem inside its new mount
// namespace, before pivot_root: the root bind mount, every spec mount,
// devices and /dev symlinks. Every path inside the rootfs is resolved with
// pathrs (openat2 RESOLVE_IN_ROOT or its emulation) and the mount made on
// the resulting O_PATH descriptor through /proc/self/fd, so a symlink
// planted in the rootfs cannot send a mount outside it, even by racing us.
type rootfsSetup struct {
	cfg    *initConfig
	rootfs string
	root   *os.File // O_PATH handle on the rootfs after the self bind mount
	// devRO records that /dev asked for a read-only mount, done after
	// device nodes are in place.
	devRO    bool
	devBound bool // /dev is a bind mount: leave its devices alone
}

func doMount(op, source, target, display, fstype string, flags uintptr, data string) error {
	return linux.Mount(op, source, target, display, fstype, flags, data)
}

// rootPropagation returns the propagation to use while setting up (never
// shared: setup mounts must not leak to the host) and the one to apply to
// the new root afterwards.
func rootPropagation(requested string) (setup, final uintptr) {
	setup = unix.MS_SLAVE | unix.MS_REC
	if requested == "" {
		return setup, 0
	}
	p := propagationOptions.get(requested)
	if p&(unix.MS_PRIVATE) != 0 {
		setup = p | unix.MS_REC
	}
	return setup, p
}

func (r *rootfsSetup) prepare() error {
	setupProp, _ := rootPropagation(r.cfg.RootfsPropagation)
	if err := doMount("propagation", "", "/", "", "", setupProp, ""); err != nil {
		return err
	}
	if r.cfg.Passed > 0 && r.cfg.RootfsFD >= 0 {
		// An adopted spare's namespace predates the root filesystem's
		// mount: the runtime sent it along, detached.
		err := unix.MoveMount(r.cfg.RootfsFD, "", unix.AT_FDCWD, r.rootfs, unix.MOVE_MOUNT_F_EMPTY_PATH)
		unix.Close(r.cfg.RootfsFD)
		if err != nil {
			return fmt.Errorf("attach the root filesystem at %s: %w", r.rootfs, err)
		}
	}
	// pivot_root refuses a new root whose parent mount is shared; after
	// the recursive slave (or private) above, no mount here is shared.
	if err := doMount("bind", r.rootfs, r.rootfs, "", "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	root, err := os.OpenFile(r.rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open rootfs: %w", err)
	}
	r.root = root

	for _, m := range r.cfg.Mounts {
		if filepath.Clean("/"+m.Destination) == "/dev" && mountIsBind(m) {
			r.devBound = true
		}
	}
	for i := range r.cfg.Mounts {
		if err := r.mountEntry(&r.cfg.Mounts[i]); err != nil {
			return err
		}
	}
	if !r.devBound {
		if err := r.createDevices(); err != nil {
			return err
		}
		if err := r.devSymlinks(); err != nil {
			return err
		}
	}
	return nil
}

func mountIsBind(m specs.Mount) bool {
	return m.Type == "bind" || parseMountOptions(m.Options).isBind()
}

// procFD names an open descriptor as a path the mount syscalls accept.
func procFD(f *os.File) string { return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())) }

// openInRoot resolves path inside root as if root were "/", with the
// kernel doing the resolution (openat2 RESOLVE_IN_ROOT): symlinks and ".."
// cannot leave root, even if the rootfs changes under us. It returns an
// O_PATH handle. Kernels without openat2 get pathrs-lite's emulation.
func openInRoot(root *os.File, path string) (*os.File, error) {
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	for range 64 {
		fd, err := unix.Openat2(int(root.Fd()), path, &how)
		switch {
		case err == nil:
			return os.NewFile(uintptr(fd), path), nil
		case errors.Is(err, unix.EAGAIN):
			// A concurrent rename or mount: the kernel asks to retry.
			continue
		case errors.Is(err, unix.ENOSYS):
			return pathrs.OpenatInRoot(root, path)
		}
		return nil, &os.PathError{Op: "openat2", Path: path, Err: err}
	}
	return pathrs.OpenatInRoot(root, path)
}

// mkdirInRoot returns an O_PATH handle on dir inside the rootfs, creating
// it and its parents if needed.
func (r *rootfsSetup) mkdirInRoot(dir string) (*os.File, error) {
	if h, err := openInRoot(r.root, dir); err == nil {
		return h, nil
	}
	if h, err := mkdirNoSymlinks(r.root, dir); err == nil {
		return h, nil
	}
	h, err := pathrs.MkdirAllHandle(r.root, dir, 0o755)
	if err != nil {
		return nil, fmt.Errorf("create %s in rootfs: %w", dir, err)
	}
	return h, nil
}

// mkdirNoSymlinks creates dir below root one component at a time, never
// following a symlink (O_NOFOLLOW on every step, relative to the handle of
// the step before), so nothing can lead it outside root. It fails on any
// symlink on the way; pathrs-lite then resolves those, at several times
// the cost. Most missing mount points are plain directories to make in a
// fresh tmpfs (/dev/pts, /sys/fs/cgroup/memory, ...), which this covers.
func mkdirNoSymlinks(root *os.File, dir string) (*os.File, error) {
	fd, err := unix.Openat(int(root.Fd()), ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	for _, part := range strings.Split(filepath.Clean("/"+dir), "/") {
		if part == "" {
			continue
		}
		next, err := unix.Openat(fd, part, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			if err = unix.Mkdirat(fd, part, 0o755); err == nil || errors.Is(err, unix.EEXIST) {
				next, err = unix.Openat(fd, part, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			}
		}
		unix.Close(fd)
		if err != nil {
			return nil, err
		}
		fd = next
	}
	return os.NewFile(uintptr(fd), dir), nil
}

// mountTarget resolves dest inside the rootfs, creating a directory, or an
// empty file when wantFile, if nothing is there.
func (r *rootfsSetup) mountTarget(dest string, wantFile bool) (*os.File, error) {
	h, err := openInRoot(r.root, dest)
	if err == nil {
		return h, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("resolve %s in rootfs: %w", dest, err)
	}
	// Missing, perhaps behind a dangling symlink (an image's
	// /etc/resolv.conf -> ../run/...): create it where the link points,
	// as seen from inside the rootfs, as runc does.
	if resolved, err := securejoin.SecureJoin(r.rootfs, dest); err == nil {
		if rel, err := filepath.Rel(r.rootfs, resolved); err == nil && !strings.HasPrefix(rel, "..") {
			dest = "/" + rel
		}
	}
	if !wantFile {
		return r.mkdirInRoot(dest)
	}
	parent, err := r.mkdirInRoot(filepath.Dir(dest))
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	fd, err := unix.Openat(int(parent.Fd()), filepath.Base(dest), unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_WRONLY, 0o644)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("create mount point %s: %w", dest, err)
	}
	if err == nil {
		unix.Close(fd)
	}
	h, err = openInRoot(r.root, dest)
	if err != nil {
		return nil, fmt.Errorf("resolve %s in rootfs: %w", dest, err)
	}
	return h, nil
}

func (r *rootfsSetup) mountEntry(m *specs.Mount) error {
	dest := filepath.Clean("/" + m.Destination)
	opts := parseMountOptions(m.Options)
	if m.Type == "cgroup" || m.Type == "cgroup2" {
		return r.mountCgroups(dest, opts)
	}
	if dest == "/dev" && opts.flags&unix.MS_RDONLY != 0 && !mountIsBind(*m) {
		opts.flags &^= unix.MS_RDONLY
		r.devRO = true
	}
	if m.Type == "bind" {
		opts.flags |= unix.MS_BIND
	}
	if opts.isBind() {
		return r.bindMount(m, dest, opts)
	}
	target, err := r.mountTarget(dest, false)
	if err != nil {
		return err
	}
	defer target.Close()
	if m.Type == "proc" || m.Type == "sysfs" {
		// Mounting procfs or sysfs on a symlink or a file would let a
		// rootfs hide or redirect them.
		var st unix.Stat_t
		if err := unix.Fstat(int(target.Fd()), &st); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return fmt.Errorf("mount %s: %s is not a directory", m.Type, dest)
		}
	}
	err = doMount("mount", m.Source, procFD(target), dest, m.Type, opts.flags, opts.dataString())
	if err != nil && m.Type == "sysfs" && errors.Is(err, unix.EPERM) && r.cfg.InUserNS {
		// A user namespace that does not own the network namespace may
		// not mount sysfs; show the host's read-only instead.
		err = doMount("bind", "/sys", procFD(target), dest, "", unix.MS_BIND|unix.MS_REC, "")
		if err == nil {
			err = r.remountAt(dest, unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC)
		}
	}
	if err != nil {
		return err
	}
	return r.applyMountExtras(dest, opts)
}

func (r *rootfsSetup) bindMount(m *specs.Mount, dest string, opts mountOptions) error {
	src := m.Source
	if !filepath.IsAbs(src) {
		src = filepath.Join(r.cfg.Bundle, src)
	}
	st, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("bind mount source %s for %s: %w", src, dest, err)
	}
	target, err := r.mountTarget(dest, !st.IsDir())
	if err != nil {
		return err
	}
	defer target.Close()
	if err := doMount("bind", src, procFD(target), dest, "", unix.MS_BIND|(opts.flags&unix.MS_REC), ""); err != nil {
		return err
	}
	if opts.flags&^(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT) != 0 || len(opts.data) > 0 {
		mounted, err := r.reopen(dest)
		if err != nil {
			return err
		}
		defer mounted.Close()
		if err := remountBind(mounted, dest, opts.flags&^(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT), opts.dataString()); err != nil {
			return err
		}
	}
	return r.applyMountExtras(dest, opts)
}

// remountAt applies flags to the bind mount just made at dest.
func (r *rootfsSetup) remountAt(dest string, flags uintptr) error {
	h, err := r.reopen(dest)
	if err != nil {
		return err
	}
	defer h.Close()
	return remountBind(h, dest, flags, "")
}

// reopen resolves dest again after a mount on it: the handle taken before
// the mount points at the covered directory, not at the new mount.
func (r *rootfsSetup) reopen(dest string) (*os.File, error) {
	h, err := openInRoot(r.root, dest)
	if err != nil {
		return nil, fmt.Errorf("resolve %s after mounting it: %w", dest, err)
	}
	return h, nil
}

// remountBind applies flags to a bind mount. In a user namespace the
// kernel locks the flags inherited from the host (nosuid, nodev, noexec,
// read-only, atime) and refuses a remount that would clear them, so they
// are kept.
func remountBind(target *os.File, dest string, flags uintptr, data string) error {
	var sf unix.Statfs_t
	if err := unix.Fstatfs(int(target.Fd()), &sf); err == nil {
		flags |= lockedFlags(sf.Flags)
	}
	return doMount("remount", "", procFD(target), dest, "", unix.MS_BIND|unix.MS_REMOUNT|flags, data)
}

func lockedFlags(f int64) uintptr {
	var out uintptr
	for _, m := range []struct {
		st int64
		ms uintptr
	}{
		{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if f&m.st != 0 {
			out |= m.ms
		}
	}
	return out
}

// applyMountExtras sets propagation and recursive attributes on the mount
// just made at dest.
func (r *rootfsSetup) applyMountExtras(dest string, opts mountOptions) error {
	if len(opts.propagation) == 0 && opts.attrSet == 0 && opts.attrClr == 0 {
		return nil
	}
	target, err := r.reopen(dest)
	if err != nil {
		return err
	}
	defer target.Close()
	for _, p := range opts.propagation {
		if err := doMount("propagation", "", procFD(target), dest, "", p, ""); err != nil {
			return err
		}
	}
	if opts.attrSet != 0 || opts.attrClr != 0 {
		attr := unix.MountAttr{Attr_set: opts.attrSet, Attr_clr: opts.attrClr}
		if opts.attrSet&unix.MOUNT_ATTR__ATIME != 0 {
			attr.Attr_clr |= unix.MOUNT_ATTR__ATIME
		}
		if err := unix.MountSetattr(int(target.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
			return &linux.MountError{Op: "mount_setattr", Target: dest, Flags: fmt.Sprintf("set %#x clear %#x", opts.attrSet, opts.attrClr), Err: err}
		}
	}
	return nil
}

// mountCgroups builds /sys/fs/cgroup: with a cgroup namespace, real cgroup
// filesystems rooted at the container's cgroup; without one, bind mounts of
// the container's cgroup directories, so it never sees its siblings.
func (r *rootfsSetup) mountCgroups(dest string, opts mountOptions) error {
	newNS := r.cfg.NewCgroupNS
	flags := opts.flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT)
	target, err := r.mountTarget(dest, false)
	if err != nil {
		return err
	}
	defer target.Close()

	cgs := r.cfg.Cgroups
	if len(cgs) == 1 && cgs[0].V2 && cgs[0].Dir == "" {
		if newNS {
			return doMount("mount", "cgroup2", procFD(target), dest, "cgroup2", flags, "")
		}
		if err := doMount("bind", cgs[0].HostPath, procFD(target), dest, "", unix.MS_BIND, ""); err != nil {
			return err
		}
		return r.remountAt(dest, flags)
	}

	shared := r.bindCgroupSkeleton(target, dest, flags)
	if !shared {
		if err := doMount("mount", "tmpfs", procFD(target), dest, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=755"); err != nil {
			return err
		}
	}
	for i, cg := range cgs {
		sub := filepath.Join(dest, cg.Dir)
		h, err := r.mountTarget(sub, false)
		if err != nil {
			return err
		}
		if i == 0 {
			keepEmptyDir(h)
		}
		switch {
		case newNS && cg.V2:
			err = doMount("mount", "cgroup2", procFD(h), sub, "cgroup2", flags, "")
		case newNS:
			err = doMount("mount", "cgroup", procFD(h), sub, "cgroup", flags, cg.Options)
		default:
			err = doMount("bind", cg.HostPath, procFD(h), sub, "", unix.MS_BIND, "")
			if err == nil {
				err = r.remountAt(sub, flags)
			}
		}
		h.Close()
		if err != nil {
			return err
		}
		if shared {
			continue // the skeleton has the symlinks
		}
		for _, link := range cg.Symlinks {
			if err := r.symlinkInRoot(cg.Dir, filepath.Join(dest, link)); err != nil {
				return err
			}
		}
	}
	if flags&unix.MS_RDONLY != 0 && !shared {
		// The tmpfs itself read-only too, now that its directories exist.
		h, err := openInRoot(r.root, dest)
		if err != nil {
			return err
		}
		defer h.Close()
		return doMount("remount", "", procFD(h), dest, "", unix.MS_REMOUNT|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|unix.MS_RDONLY, "mode=755")
	}
	return nil
}

// bindCgroupSkeleton binds the shared skeleton of /sys/fs/cgroup
// (CgroupSkeletonAnnotation) at dest, read-only, when the container is to
// see it read-only and the skeleton is there. It reports whether it did;
// if not, dest gets a tmpfs of its own. A spare init's mount namespace
// may predate the skeleton: it does not see it.
func (r *rootfsSetup) bindCgroupSkeleton(target *os.File, dest string, flags uintptr) bool {
	base := r.cfg.Annotations[CgroupSkeletonAnnotation]
	if base == "" || !wantsCgroupSkeleton(r.cfg.Cgroups, flags&unix.MS_RDONLY != 0) {
		return false
	}
	skeleton := cgroupSkeletonPath(base, r.cfg.Cgroups)
	if !cgroupSkeletonReady(skeleton) {
		return false
	}
	if doMount("bind", skeleton, procFD(target), dest, "", unix.MS_BIND, "") != nil {
		return false
	}
	if r.remountAt(dest, flags|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC) != nil {
		// Not read-only as asked: off again, for a tmpfs.
		if h, err := r.reopen(dest); err == nil {
			unix.Unmount(procFD(h), unix.MNT_DETACH)
			h.Close()
		}
		return false
	}
	return true
}

// symlinkInRoot makes link (inside the rootfs) point at target, replacing
// whatever non-directory is there.
func (r *rootfsSetup) symlinkInRoot(target, link string) error {
	parent, err := r.mkdirInRoot(filepath.Dir(link))
	if err != nil {
		return err
	}
	defer parent.Close()
	base := filepath.Base(link)
	err = unix.Symlinkat(target, int(parent.Fd()), base)
	if errors.Is(err, unix.EEXIST) {
		if err := unix.Unlinkat(int(parent.Fd()), base, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("replace %s: %w", link, err)
		}
		err = unix.Symlinkat(target, int(parent.Fd()), base)
	}
	if err != nil {
		return fmt.Errorf("symlink %s -> %s: %w", link, target, err)
	}
	return nil
}

// pivotRoot makes the rootfs the root. The old root is stacked under the
// new one by pivot_root(".", ".") and then detached, so no directory for it
// is needed in the rootfs.
func pivotRoot(rootfs string) error {
	oldRoot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open old root: %w", err)
	}
	defer unix.Close(oldRoot)
	newRoot, err := unix.Open(rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open new root: %w", err)
	}
	defer unix.Close(newRoot)
	if err := unix.Fchdir(newRoot); err != nil {
		return fmt.Errorf("chdir to rootfs: %w", err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return &os.SyscallError{Syscall: "pivot_root " + rootfs, Err: err}
	}
	if err := unix.Fchdir(oldRoot); err != nil {
		return fmt.Errorf("chdir to old root: %w", err)
	}
	// Keep the detach from propagating to the host's mounts.
	if err := doMount("propagation", "", ".", "old root", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return err
	}
	if err := linux.Unmount(".", unix.MNT_DETACH); err != nil {
		return err
	}
	return unix.Chdir("/")
}

// moveRoot is the fallback where pivot_root cannot work (a rootfs on the
// initramfs): move the rootfs over / and chroot into it.
func moveRoot(rootfs string) error {
	if err := unix.Chdir(rootfs); err != nil {
		return fmt.Errorf("chdir to rootfs: %w", err)
	}
	if err := doMount("move", rootfs, "/", "", "", unix.MS_MOVE, ""); err != nil {
		return err
	}
	if err := unix.Chroot("."); err != nil {
		return &os.SyscallError{Syscall: "chroot", Err: err}
	}
	return unix.Chdir("/")
}

// finishRootfs runs after pivot_root: final propagation, masked and
// read-only paths, and the read-only root.
func finishRootfs(propagation string, devRO bool) error {
	if devRO {
		if err := doMount("remount", "", "/dev", "", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|lockedOf("/dev"), ""); err != nil {
			return err
		}
	}
	if _, final := rootPropagation(propagation); final != 0 {
		if err := doMount("propagation", "", "/", "", "", final|unix.MS_REC, ""); err != nil {
			return err
		}
	}
	return nil
}

func lockedOf(path string) uintptr {
	var sf unix.Statfs_t
	if unix.Statfs(path, &sf) != nil {
		return 0
	}
	return lockedFlags(sf.Flags)
}

// emptyDirFD is a detached mount of an empty directory of the
// container's /sys/fs/cgroup tmpfs (keepEmptyDir), for maskPaths; -1 if
// there is none.
var emptyDirFD = -1

// keepEmptyDir keeps a detached copy of the mount at h, a directory of
// /sys/fs/cgroup's tmpfs made empty for a cgroup hierarchy and not yet
// mounted on: the copy goes on seeing the empty directory, whatever is
// mounted on the original.
func keepEmptyDir(h *os.File) {
	if emptyDirFD >= 0 {
		return
	}
	fd, err := unix.OpenTree(int(h.Fd()), "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	if err != nil {
		return // maskPaths makes a tmpfs of its own
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		unix.Close(fd)
		return
	}
	emptyDirFD = fd
}

// maskPaths hides paths: a read-only empty directory over directories,
// /dev/null over anything else. Paths the rootfs does not have are
// skipped.
//
// The directories get no tmpfs of their own, as they do with runc: an
// empty directory of the container's /sys/fs/cgroup tmpfs
// (keepEmptyDir) is mounted, read-only, on the first, and bound on the
// others; without one, the first gets a tmpfs, which the others share.
// Every superblock is a shrinker the kernel tracks per memory cgroup:
// each cgroup made on the host holds a slot for every one that exists,
// so each superblock less per container is, at a thousand containers,
// some 16 KiB less per container besides the superblock itself.
func maskPaths(paths []string) error {
	empty := ""
	defer func() {
		if emptyDirFD >= 0 {
			unix.Close(emptyDirFD)
			emptyDirFD = -1
		}
	}()
	for _, p := range paths {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return fmt.Errorf("mask %s: %w", p, err)
		}
		var err error
		switch {
		case st.Mode&unix.S_IFMT != unix.S_IFDIR:
			err = doMount("bind", "/dev/null", p, "", "", unix.MS_BIND, "")
		case empty == "" && emptyDirFD >= 0:
			if err = unix.MoveMount(emptyDirFD, "", unix.AT_FDCWD, p, unix.MOVE_MOUNT_F_EMPTY_PATH); err == nil {
				empty = p
			} else {
				err = &linux.MountError{Op: "move_mount", Target: p, Err: err}
			}
		case empty == "":
			if err = doMount("mount", "tmpfs", p, "", "tmpfs", unix.MS_RDONLY, "size=0k"); err == nil {
				empty = p
			}
		default:
			if err = doMount("bind", empty, p, "", "", unix.MS_BIND, ""); err == nil {
				flags := unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | lockedOf(p)
				err = doMount("remount", "", p, "", "", flags, "")
			}
		}
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("mask %s: %w", p, err)
		}
	}
	return nil
}

// readonlyPaths bind mounts each path on itself read-only.
func readonlyPaths(paths []string) error {
	for _, p := range paths {
		if err := doMount("bind", p, p, "", "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return err
		}
		flags := unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | lockedOf(p)
		if err := doMount("remount", "", p, "", "", flags, ""); err != nil {
			return err
		}
	}
	return nil
}

func remountRootReadonly() error {
	flags := unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | lockedOf("/")
	return doMount("remount", "", "/", "", "", flags, "")
}

// writeSysctls sets each key under /proc/sys; dots separate levels unless
// the key uses slashes, as sysctl(8) reads them.
func writeSysctls(sysctl map[string]string) error {
	for key, value := range sysctl {
		path := key
		if !strings.Contains(key, "/") {
			path = strings.ReplaceAll(key, ".", "/")
		}
		path = filepath.Join("/proc/sys", filepath.Clean("/"+path))
		if err := os.WriteFile(path, []byte(value), 0); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", key, value, err)
		}
	}
	return nil
}
