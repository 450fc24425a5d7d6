package daemon

import (
	"errors"
	"os"
	"path"
	"slices"

	"golang.org/x/sys/unix"
)

// The runtime makes the mount points it needs in the container's layer
// when the image lacks them: empty /etc/hosts, /etc/hostname and
// /etc/resolv.conf for the network files, /proc, /sys, /dev... dockerd
// makes the same paths in an "init" layer of its own between the image
// and the container's layer, so `docker diff` and `docker commit` never
// see them. These are that init layer's paths (dockerd's
// daemon/initlayer): a diff or commit leaves them out while they are what
// the runtime made, an empty file or directory the image did not have.
var (
	stubFiles = []string{"/.dockerenv", "/dev/console", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf"}
	stubDirs  = []string{"/dev/pts", "/dev/shm", "/proc", "/sys"}
	// stubParents are left out too when all they hold in the layer is
	// stubs: made for them, or copied up for them and otherwise the
	// image's.
	stubParents = []string{"/dev", "/etc"}
)

// runtimeStubs lists the paths of the layer at upperfd that exist only as
// the runtime's mount points, comparing with the image's tree at lowerfd
// (-1: no image content). Every lookup stays inside the trees and follows
// no symlink.
func runtimeStubs(upperfd, lowerfd int) (map[string]bool, error) {
	stubs := map[string]bool{}
	for _, p := range stubFiles {
		st, ok, err := statNoFollow(upperfd, p)
		if err != nil {
			return nil, err
		}
		if !ok || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size != 0 {
			continue
		}
		if _, inImage, err := statNoFollow(lowerfd, p); err != nil || inImage {
			continue
		}
		stubs[p] = true
	}
	for _, p := range stubDirs {
		if names, ok, err := plainDir(upperfd, p); err != nil {
			return nil, err
		} else if !ok || len(names) > 0 {
			continue
		}
		if _, inImage, err := statNoFollow(lowerfd, p); err != nil || inImage {
			continue
		}
		stubs[p] = true
	}
	for _, p := range stubParents {
		names, ok, err := plainDir(upperfd, p)
		if err != nil {
			return nil, err
		}
		if !ok || slices.ContainsFunc(names, func(n string) bool { return !stubs[path.Join(p, n)] }) {
			continue
		}
		lst, inImage, err := statNoFollow(lowerfd, p)
		if err != nil {
			continue
		}
		if inImage {
			ust, _, err := statNoFollow(upperfd, p)
			if err != nil || ust.Mode != lst.Mode || ust.Uid != lst.Uid || ust.Gid != lst.Gid {
				continue
			}
		}
		stubs[p] = true
	}
	return stubs, nil
}

// statNoFollow lstats p in the tree at rootfd (-1: an empty tree); ok is
// false when it is missing. With a symlink on the way, p is taken to
// exist, with a zero stat: no stub is ever found through one.
func statNoFollow(rootfd int, p string) (unix.Stat_t, bool, error) {
	var st unix.Stat_t
	if rootfd < 0 {
		return st, false, nil
	}
	fd, err := openNoFollow(rootfd, p, unix.O_PATH|unix.O_NOFOLLOW)
	switch {
	case errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR):
		return st, false, nil
	case errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EXDEV):
		return st, true, nil
	case err != nil:
		return st, false, err
	}
	defer unix.Close(fd)
	if err := unix.Fstat(fd, &st); err != nil {
		return st, false, os.NewSyscallError("fstat", err)
	}
	return st, true, nil
}

// plainDir lists directory p of the layer at rootfd; ok is false when p
// is missing, not a directory, or an opaque directory (which hides the
// image's content: a change of its own).
func plainDir(rootfd int, p string) ([]string, bool, error) {
	fd, err := openNoFollow(rootfd, p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EXDEV) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	for _, attr := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		var b [1]byte
		if n, err := unix.Fgetxattr(fd, attr, b[:]); err == nil && n == 1 && b[0] == 'y' {
			return nil, false, nil
		}
	}
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, false, err
	}
	return names, true, nil
}

// openNoFollow opens p inside the tree at rootfd with no symlink on the
// way.
func openNoFollow(rootfd int, p string, flags uint64) (int, error) {
	rel := "./" + path.Clean("/" + p)[1:]
	return openat2(rootfd, rel, &unix.OpenHow{
		Flags:   flags | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS,
	})
}
