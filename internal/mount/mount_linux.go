package mount

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/linux"
)

// maxData is the most filesystem data mount(2) takes: the kernel copies
// one page, NUL included, and silently drops the rest.
var maxData = os.Getpagesize() - 1

// Mount mounts m on target, an existing directory.
//
// A bind mount is made detached with open_tree(2), given its flags with
// mount_setattr(2) and only then attached, so a read-only bind is never
// writable, not even for a moment; with "rbind" the flags apply to every
// mount below Source too. Kernels before 5.12 get mount(2) and a remount,
// which changes the top mount only.
//
// An overlay mount uses mount(2), which is the faster call, while its
// options fit in the page mount(2) takes. A longer lowerdir (hundreds of
// layers) goes through the new mount API instead (fsopen, one fsconfig per
// option and one "lowerdir+" per lower layer, fsmount, move_mount), on
// kernels that have it (6.8 and later); elsewhere it fails with a
// MountError that wraps errdefs.ErrInvalidParameter.
//
// Propagation options ("private", "rslave", ...) are applied after the
// mount, in the order given.
func (m Mount) Mount(target string) error {
	o := parseOptions(m.Options)
	var err error
	switch {
	case o.flags&unix.MS_REMOUNT != 0:
		// A remount changes the mount already at target: nothing to
		// clone or create, so no new-API path applies.
		err = mountData(m, o, target)
	case m.Type == "bind" || o.flags&unix.MS_BIND != 0:
		err = mountBind(m.Source, target, o.flags)
	case m.Type == "overlay":
		err = mountOverlay(m, o, target)
	default:
		err = mountData(m, o, target)
	}
	if err != nil {
		return err
	}
	for _, p := range o.propagation {
		if err := linux.Mount("propagation", "", target, "", "", p, ""); err != nil {
			return err
		}
	}
	return nil
}

// All mounts mounts on target in order: the first on target itself, each
// later one on its Target inside target (resolved within target, so a
// symlink in the tree cannot send it elsewhere). If one fails, the ones
// already mounted are unmounted again, last first, so All mounts all or
// nothing; whatever was mounted at target before stays.
func All(mounts []Mount, target string) error {
	done := make([]string, 0, len(mounts))
	for _, m := range mounts {
		dst := target
		if m.Target != "" {
			var err error
			if dst, err = securejoin.SecureJoin(target, m.Target); err != nil {
				return undo(done, fmt.Errorf("mount %s on %s: %w", m.Source, m.Target, err))
			}
		}
		if err := m.Mount(dst); err != nil {
			return undo(done, err)
		}
		done = append(done, dst)
	}
	return nil
}

// undo unmounts the mounts All made before one failed with err.
func undo(done []string, err error) error {
	for i := len(done) - 1; i >= 0; i-- {
		uerr := unmount(done[i], 0)
		if errors.Is(uerr, unix.EBUSY) {
			// Something already uses the new mount: detach it, so the
			// caller's directory is not left with half of what it
			// asked for.
			uerr = unmount(done[i], unix.MNT_DETACH)
		}
		if uerr != nil {
			return errors.Join(err, uerr)
		}
	}
	return err
}

var bindNewAPI atomic.Bool

func init() { bindNewAPI.Store(true) }

func mountBind(source, target string, flags uintptr) error {
	if bindNewAPI.Load() {
		err := bindDetached(source, target, flags)
		if !errors.Is(err, unix.ENOSYS) {
			return err
		}
		bindNewAPI.Store(false)
	}
	if err := linux.Mount("bind", source, target, "", "", flags&unix.MS_REC|unix.MS_BIND, ""); err != nil {
		return err
	}
	if flags&perMountFlags == 0 {
		return nil
	}
	// A bind mount takes its source's flags; its own come with a remount.
	remount := unix.MS_BIND | unix.MS_REMOUNT | flags&perMountFlags
	if err := linux.Mount("remount", "", target, "", "", remount, ""); err != nil {
		// Leave nothing mounted rather than a mount without the flags
		// (say, writable where "ro" was asked).
		_ = unmount(target, unix.MNT_DETACH)
		return err
	}
	return nil
}

// bindDetached makes a bind mount with the new mount API: clone source's
// mount (tree) detached, set the flags on the clone, then attach it.
func bindDetached(source, target string, flags uintptr) error {
	otFlags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	otNames := "OPEN_TREE_CLONE"
	setattrFlags := uint(unix.AT_EMPTY_PATH)
	if flags&unix.MS_REC != 0 {
		otFlags |= unix.AT_RECURSIVE
		otNames += "|AT_RECURSIVE"
		setattrFlags |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, source, otFlags)
	if err != nil {
		return &linux.MountError{Op: "open_tree", Source: source, Target: target, Flags: otNames, Err: err}
	}
	defer unix.Close(fd)
	if flags&perMountFlags != 0 {
		attr := unix.MountAttr{Attr_set: mountAttr(flags)}
		if flags&(unix.MS_NOATIME|unix.MS_STRICTATIME|unix.MS_RELATIME) != 0 {
			// The atime modes are one field: the kernel takes a new
			// one only with the whole field cleared.
			attr.Attr_clr = unix.MOUNT_ATTR__ATIME
		} else {
			attr.Attr_set &^= unix.MOUNT_ATTR__ATIME
		}
		if err := unix.MountSetattr(fd, "", setattrFlags, &attr); err != nil {
			return &linux.MountError{Op: "mount_setattr", Source: source, Target: target, Flags: linux.MountAttrNames(attr.Attr_set), Err: err}
		}
	}
	if err := unix.MoveMount(fd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return &linux.MountError{Op: "move_mount", Source: source, Target: target, Flags: linux.MountFlagNames(flags), Err: err}
	}
	return nil
}

// mountData is a plain mount(2): flags and a comma-separated data string.
func mountData(m Mount, o options, target string) error {
	data := strings.Join(o.data, ",")
	if len(data) > maxData {
		return &linux.MountError{Op: "mount", Source: m.Source, Target: target, Type: m.Type, Flags: linux.MountFlagNames(o.flags),
			Data: data[:64] + "...",
			Err:  fmt.Errorf("%d bytes of options, more than mount(2) takes (%d): %w", len(data), maxData, errdefs.ErrInvalidParameter)}
	}
	return linux.Mount("mount", m.Source, target, "", m.Type, o.flags, data)
}

// Unmount unmounts the mount on top of target, retrying when interrupted.
// A target that is not a mount point (EINVAL) is not an error, so cleanup
// can call Unmount whether or not the mount was made; EINVAL from flags
// umount2(2) rejects is still returned. Errors are *linux.MountError.
func Unmount(target string, flags int) error {
	err := unmount(target, flags)
	if errors.Is(err, unix.EINVAL) && flags&^(unix.MNT_FORCE|unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW) == 0 {
		return nil
	}
	return err
}

func unmount(target string, flags int) error {
	for {
		err := unix.Unmount(target, flags)
		if err == nil {
			return nil
		}
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return &linux.MountError{Op: "umount", Target: target, Flags: linux.UnmountFlagNames(flags), Err: err}
	}
}

// maxStacked bounds UnmountAll's loop, so a target that keeps getting
// mounts (a propagation loop) gets an error instead of a hang.
const maxStacked = 4096

// UnmountAll unmounts every mount at target, stacked ones included, and
// every mount below it (the later mounts of All), deepest first. Like
// Unmount, it succeeds when nothing is mounted there. Mounts below a
// target that is not itself a mount point are not looked for: that would
// cost a read of /proc/self/mountinfo on every call. With MNT_DETACH the
// whole tree goes at once.
func UnmountAll(target string, flags int) error {
	for range maxStacked {
		err := unmount(target, flags)
		switch {
		case err == nil:
			continue
		case errors.Is(err, unix.EINVAL) && flags&^(unix.MNT_FORCE|unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW) == 0:
			return nil // nothing (more) mounted there
		case errors.Is(err, unix.EBUSY):
			// Busy because of mounts below it, or because it is in
			// use; only mountinfo tells which.
			n, uerr := unmountBelow(target, flags)
			if uerr != nil {
				return uerr
			}
			if n == 0 {
				return err
			}
		default:
			return err
		}
	}
	return &linux.MountError{Op: "umount", Target: target, Flags: linux.UnmountFlagNames(flags),
		Err: fmt.Errorf("still mounted after %d unmounts: %w", maxStacked, unix.EBUSY)}
}

// unmountBelow unmounts the mounts strictly below target, last mounted
// first (mountinfo lists a mount after the one it sits on), and returns
// how many it unmounted.
func unmountBelow(target string, flags int) (int, error) {
	points, err := mountPointsBelow(target)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := len(points) - 1; i >= 0; i-- {
		err := unmount(points[i], flags)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			continue // gone with its parent already
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// WithTempMount mounts mounts in a new temporary directory, calls f with
// its path, then unmounts everything and removes the directory, whether
// or not f fails. If the mounts are still busy (f left a file open, or
// started a process in them) they are detached, so nothing stays mounted
// after WithTempMount returns. The directory is removed only once it is
// no longer a mount point, so a failure never deletes the mounted files.
func WithTempMount(ctx context.Context, mounts []Mount, f func(root string) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	root, err := os.MkdirTemp("", "berth-mount-")
	if err != nil {
		return fmt.Errorf("temporary mount point: %w", err)
	}
	defer func() {
		uerr := UnmountAll(root, 0)
		if uerr != nil && UnmountAll(root, unix.MNT_DETACH) == nil {
			uerr = nil
		}
		if uerr != nil {
			err = errors.Join(err, fmt.Errorf("temporary mount %s stays: %w", root, uerr))
			return
		}
		if rerr := os.Remove(root); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}()
	if err := All(mounts, root); err != nil {
		return err
	}
	return f(root)
}
