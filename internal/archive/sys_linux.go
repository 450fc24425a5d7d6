package archive

import (
	"errors"
	"os"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The wrappers below retry EINTR and return *os.PathError naming the
// operation and the path as the user knows it (disp), not the fd-relative
// name the kernel saw.

func ignoringEINTR(fn func() error) error {
	for {
		err := fn()
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

func pathError(op, disp string, err error) error {
	if err == nil {
		return nil
	}
	return &os.PathError{Op: op, Path: disp, Err: err}
}

func openat(dirfd int, name string, flags int, mode uint32, disp string) (int, error) {
	var fd int
	err := ignoringEINTR(func() (err error) {
		fd, err = unix.Openat(dirfd, name, flags|unix.O_CLOEXEC, mode)
		return err
	})
	if err != nil {
		return -1, pathError("openat", disp, err)
	}
	return fd, nil
}

func fstatat(dirfd int, name string, st *unix.Stat_t, disp string) error {
	return pathError("fstatat", disp, ignoringEINTR(func() error {
		return unix.Fstatat(dirfd, name, st, unix.AT_SYMLINK_NOFOLLOW)
	}))
}

func mkdirat(dirfd int, name string, mode uint32, disp string) error {
	return pathError("mkdirat", disp, ignoringEINTR(func() error { return unix.Mkdirat(dirfd, name, mode) }))
}

func mknodat(dirfd int, name string, mode uint32, dev uint64, disp string) error {
	return pathError("mknodat", disp, ignoringEINTR(func() error { return unix.Mknodat(dirfd, name, mode, int(dev)) }))
}

func symlinkat(target string, dirfd int, name, disp string) error {
	return pathError("symlinkat", disp, ignoringEINTR(func() error { return unix.Symlinkat(target, dirfd, name) }))
}

func linkat(olddirfd int, oldname string, newdirfd int, newname, disp string) error {
	// Flags 0: a link to a symlink links the symlink itself, never what it
	// points to.
	return pathError("linkat", disp, ignoringEINTR(func() error {
		return unix.Linkat(olddirfd, oldname, newdirfd, newname, 0)
	}))
}

func unlinkat(dirfd int, name string, flags int, disp string) error {
	return pathError("unlinkat", disp, ignoringEINTR(func() error { return unix.Unlinkat(dirfd, name, flags) }))
}

func readlinkat(dirfd int, name, disp string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		var n int
		err := ignoringEINTR(func() (err error) { n, err = unix.Readlinkat(dirfd, name, buf); return err })
		if err != nil {
			return "", pathError("readlinkat", disp, err)
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

func fchownat(dirfd int, name string, uid, gid int, disp string) error {
	return pathError("fchownat", disp, ignoringEINTR(func() error {
		return unix.Fchownat(dirfd, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
	}))
}

func fchown(fd, uid, gid int, disp string) error {
	return pathError("fchown", disp, ignoringEINTR(func() error { return unix.Fchown(fd, uid, gid) }))
}

func fchmod(fd int, mode uint32, disp string) error {
	return pathError("fchmod", disp, ignoringEINTR(func() error { return unix.Fchmod(fd, mode) }))
}

// fchmodatNoFollow changes the mode of name in dirfd without following a
// symlink that a racing process might have put there: fchmodat2 with
// AT_SYMLINK_NOFOLLOW where the kernel has it (6.6), else an O_PATH
// handle of name, checked not to be a symlink, changed through its
// /proc/self/fd link.
func fchmodatNoFollow(dirfd int, name string, mode uint32, disp string) error {
	err := ignoringEINTR(func() error { return unix.Fchmodat(dirfd, name, mode, unix.AT_SYMLINK_NOFOLLOW) })
	if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.ENOSYS) {
		return pathError("fchmodat2", disp, err)
	}
	fd, err := openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW, 0, disp)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return pathError("fstat", disp, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return nil // symlinks have no mode of their own on Linux
	}
	return pathError("chmod", disp, unix.Chmod(procFd(fd), mode))
}

func procFd(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// utimensat sets the times of name in dirfd, or of dirfd itself when name
// is "", never following a symlink.
func utimensat(dirfd int, name string, ts *[2]unix.Timespec, disp string) error {
	if name != "" {
		return pathError("utimensat", disp, ignoringEINTR(func() error {
			return unix.UtimesNanoAt(dirfd, name, ts[:], unix.AT_SYMLINK_NOFOLLOW)
		}))
	}
	// futimens: utimensat(fd, NULL, ts, 0). x/sys has no wrapper that
	// passes a NULL path.
	return pathError("futimens", disp, ignoringEINTR(func() error {
		_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(dirfd), 0, uintptr(unsafe.Pointer(ts)), 0, 0, 0)
		if e != 0 {
			return e
		}
		return nil
	}))
}

func fsetxattr(fd int, attr string, val []byte, disp string) error {
	err := ignoringEINTR(func() error { return unix.Fsetxattr(fd, attr, val, 0) })
	if err != nil {
		return &os.PathError{Op: "setxattr " + attr, Path: disp, Err: err}
	}
	return nil
}

// lsetxattrAt sets an xattr on name in dirfd, which may be a symlink or a
// device that cannot be opened: through /proc/self/fd/DIRFD/NAME, which
// resolves the directory by its fd and does not follow name.
func lsetxattrAt(dirfd int, name, attr string, val []byte, disp string) error {
	p := procFd(dirfd) + "/" + name
	err := ignoringEINTR(func() error { return unix.Lsetxattr(p, attr, val, 0) })
	if err != nil {
		return &os.PathError{Op: "lsetxattr " + attr, Path: disp, Err: err}
	}
	return nil
}

// listxattrs reads every xattr of path (not following a symlink).
func listxattrs(path, disp string) (map[string][]byte, error) {
	var names []byte
	for size := 1024; ; size *= 4 {
		buf := make([]byte, size)
		n, err := unix.Llistxattr(path, buf)
		if errors.Is(err, unix.ERANGE) {
			continue
		}
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		if err != nil {
			return nil, pathError("llistxattr", disp, err)
		}
		names = buf[:n]
		break
	}
	if len(names) == 0 {
		return nil, nil
	}
	out := map[string][]byte{}
	for _, name := range splitNul(names) {
		val, err := getxattr(path, name, disp)
		if errors.Is(err, unix.ENODATA) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out[name] = val
	}
	return out, nil
}

func getxattr(path, name, disp string) ([]byte, error) {
	for size := 256; ; size *= 4 {
		buf := make([]byte, size)
		n, err := unix.Lgetxattr(path, name, buf)
		if errors.Is(err, unix.ERANGE) {
			if size > 1<<20 {
				return nil, &os.PathError{Op: "lgetxattr " + name, Path: disp, Err: err}
			}
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "lgetxattr " + name, Path: disp, Err: err}
		}
		return buf[:n], nil
	}
}

func splitNul(b []byte) []string {
	var out []string
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != 0 {
			i++
		}
		if i > 0 {
			out = append(out, string(b[:i]))
		}
		if i < len(b) {
			i++
		}
		b = b[i:]
	}
	return out
}
