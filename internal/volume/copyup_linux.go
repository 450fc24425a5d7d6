package volume

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// CopyUp seeds a volume with an image's content, as docker does when a
// new volume is first mounted on a path the image has files at: the tree
// at pathInRootfs inside the container's root filesystem rootfs (its
// mounted snapshot) is copied into dst, the volume's host directory, when
// dst is empty; otherwise nothing happens, so a volume is seeded once.
//
// pathInRootfs is resolved inside rootfs, as the container would see it
// (symlinks followed, but never out of rootfs: openat2 RESOLVE_IN_ROOT or
// its emulation). Below it nothing is ever followed: every entry is
// opened relative to its parent directory's fd with O_NOFOLLOW, symlinks
// are copied as symlinks with their targets unchanged, and a directory
// swapped for a symlink during the copy fails the copy rather than lead
// outside. Copied: regular files, directories, symlinks, device nodes,
// fifos, hard links within the tree (as hard links), owners, modes
// (setuid and sticky bits included), times and extended attributes;
// the top directory's owner, mode and times go to dst too, so a volume
// on /var/lib/postgresql is owned by the image's postgres user. Sockets
// are skipped. A missing pathInRootfs copies nothing; one that is not a
// directory is an error, as in docker.
func CopyUp(ctx context.Context, rootfs, pathInRootfs, dst string) error {
	root, err := os.OpenFile(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer root.Close()
	handle, err := pathrs.OpenatInRoot(root, pathInRootfs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("copy-up: %s in the container: %w", pathInRootfs, err)
	}
	defer handle.Close()
	src, err := pathrs.Reopen(handle, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		if errors.Is(err, unix.ENOTDIR) {
			return fmt.Errorf("copy-up: %s in the container is not a directory", pathInRootfs)
		}
		return fmt.Errorf("copy-up: %s in the container: %w", pathInRootfs, err)
	}
	defer src.Close()
	d, err := os.OpenFile(dst, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer d.Close()
	if names, err := d.Readdirnames(1); len(names) > 0 {
		return nil // seeded already, or written to: never overwrite
	} else if err != nil && err != io.EOF {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(src.Fd()), &st); err != nil {
		return &os.PathError{Op: "fstat", Path: pathInRootfs, Err: err}
	}
	c := &copier{dstRoot: int(d.Fd()), base: path.Clean("/" + pathInRootfs), links: map[inode]string{}}
	if err := c.copyDir(ctx, src, int(d.Fd()), "."); err != nil {
		return fmt.Errorf("copy-up: %w", err)
	}
	if err := c.setMeta(int(src.Fd()), "", int(d.Fd()), "", ".", &st); err != nil {
		return fmt.Errorf("copy-up: %w", err)
	}
	return nil
}

type inode struct{ dev, ino uint64 }

// copier is one CopyUp's state.
type copier struct {
	dstRoot int              // the destination's top directory
	base    string           // pathInRootfs, for messages
	links   map[inode]string // source inode -> its first copy, relative to dstRoot
}

// disp names rel (relative to the copied tree) as the container sees it.
func (c *copier) disp(rel string) string { return path.Join(c.base, rel) }

// copyDir copies the entries of src into the directory dstfd; rel is
// src's path relative to the top of the copy.
func (c *copier) copyDir(ctx context.Context, src *os.File, dstfd int, rel string) error {
	names, err := src.Readdirnames(-1)
	if err != nil {
		return &os.PathError{Op: "readdir", Path: c.disp(rel), Err: err}
	}
	slices.Sort(names)
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := c.copyEntry(ctx, int(src.Fd()), dstfd, name, path.Join(rel, name)); err != nil {
			return err
		}
	}
	return nil
}

// copyEntry copies one entry, name in srcfd, to name in dstfd.
func (c *copier) copyEntry(ctx context.Context, srcfd, dstfd int, name, rel string) error {
	var st unix.Stat_t
	if err := retry(func() error { return unix.Fstatat(srcfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil // removed since listed
		}
		return &os.PathError{Op: "lstat", Path: c.disp(rel), Err: err}
	}
	typ := st.Mode & unix.S_IFMT
	key := inode{st.Dev, st.Ino}
	if typ != unix.S_IFDIR && st.Nlink > 1 {
		if first, ok := c.links[key]; ok {
			err := retry(func() error { return unix.Linkat(c.dstRoot, first, dstfd, name, 0) })
			if err != nil {
				return &os.LinkError{Op: "link", Old: c.disp(first), New: c.disp(rel), Err: err}
			}
			return nil
		}
	}
	var err error
	switch typ {
	case unix.S_IFDIR:
		return c.copySubdir(ctx, srcfd, dstfd, name, rel, &st)
	case unix.S_IFREG:
		err = c.copyFile(srcfd, dstfd, name, rel, &st)
	case unix.S_IFLNK:
		err = c.copySymlink(srcfd, dstfd, name, rel)
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
		err = retry(func() error { return unix.Mknodat(dstfd, name, st.Mode&unix.S_IFMT|0o600, int(st.Rdev)) })
		if err != nil {
			err = &os.PathError{Op: "mknod", Path: c.disp(rel), Err: err}
		}
	default:
		return nil // a socket: only meaningful to the process that bound it
	}
	if err != nil {
		return err
	}
	if err := c.setMeta(srcfd, name, dstfd, name, rel, &st); err != nil {
		return err
	}
	if typ != unix.S_IFDIR && st.Nlink > 1 {
		c.links[key] = rel
	}
	return nil
}

func (c *copier) copySubdir(ctx context.Context, srcfd, dstfd int, name, rel string, st *unix.Stat_t) error {
	fd, err := openat(srcfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		// ELOOP or ENOTDIR: replaced by something else since lstat.
		return &os.PathError{Op: "open", Path: c.disp(rel), Err: err}
	}
	src := os.NewFile(uintptr(fd), c.disp(rel))
	defer src.Close()
	if err := sameInode(fd, st); err != nil {
		return &os.PathError{Op: "open", Path: c.disp(rel), Err: err}
	}
	if err := retry(func() error { return unix.Mkdirat(dstfd, name, 0o700) }); err != nil {
		return &os.PathError{Op: "mkdir", Path: c.disp(rel), Err: err}
	}
	dfd, err := openat(dstfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: c.disp(rel), Err: err}
	}
	defer unix.Close(dfd)
	if err := c.copyDir(ctx, src, dfd, rel); err != nil {
		return err
	}
	// Last, so that copying the entries does not change the times.
	return c.setMeta(srcfd, name, dstfd, name, rel, st)
}

func (c *copier) copyFile(srcfd, dstfd int, name, rel string, st *unix.Stat_t) error {
	// O_NONBLOCK: if a fifo took the file's place since lstat, opening
	// it must not hang; sameInode then refuses it.
	fd, err := openat(srcfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: c.disp(rel), Err: err}
	}
	in := os.NewFile(uintptr(fd), c.disp(rel))
	defer in.Close()
	if err := sameInode(fd, st); err != nil {
		return &os.PathError{Op: "open", Path: c.disp(rel), Err: err}
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		return &os.PathError{Op: "fcntl", Path: c.disp(rel), Err: err}
	}
	dfd, err := openat(dstfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &os.PathError{Op: "create", Path: c.disp(rel), Err: err}
	}
	out := os.NewFile(uintptr(dfd), c.disp(rel))
	defer out.Close()
	// *os.File to *os.File: copy_file_range, a reflink where the
	// filesystem can.
	if _, err := io.Copy(out, in); err != nil {
		return err
	}
	return out.Close()
}

func (c *copier) copySymlink(srcfd, dstfd int, name, rel string) error {
	buf := make([]byte, unix.PathMax)
	var n int
	err := retry(func() (err error) { n, err = unix.Readlinkat(srcfd, name, buf); return err })
	if err != nil {
		return &os.PathError{Op: "readlink", Path: c.disp(rel), Err: err}
	}
	target := string(buf[:n])
	if err := retry(func() error { return unix.Symlinkat(target, dstfd, name) }); err != nil {
		return &os.PathError{Op: "symlink", Path: c.disp(rel), Err: err}
	}
	return nil
}

// setMeta gives name in dstfd the owner, mode, extended attributes and
// times of name in srcfd (st); name "" means the directories themselves.
// Owner first (chown clears setuid bits and file capabilities), then
// mode and xattrs, times last.
func (c *copier) setMeta(srcfd int, srcName string, dstfd int, name, rel string, st *unix.Stat_t) error {
	disp := c.disp(rel)
	isLink := st.Mode&unix.S_IFMT == unix.S_IFLNK
	flags := unix.AT_SYMLINK_NOFOLLOW
	if name == "" {
		flags = unix.AT_EMPTY_PATH
	}
	if err := retry(func() error { return unix.Fchownat(dstfd, name, int(st.Uid), int(st.Gid), flags) }); err != nil {
		return &os.PathError{Op: "chown", Path: disp, Err: err}
	}
	if !isLink {
		mode := st.Mode & 0o7777
		var err error
		if name == "" {
			err = retry(func() error { return unix.Fchmod(dstfd, mode) })
		} else {
			// dstfd is a directory of the new volume, made by this
			// copy: name is what was just created there.
			err = retry(func() error { return unix.Fchmodat(dstfd, name, mode, 0) })
		}
		if err != nil {
			return &os.PathError{Op: "chmod", Path: disp, Err: err}
		}
	}
	if err := copyXattrs(srcfd, srcName, dstfd, name, isLink); err != nil {
		return &os.PathError{Op: "xattr", Path: disp, Err: err}
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	var err error
	if name == "" {
		err = retry(func() error { return unix.UtimesNanoAt(unix.AT_FDCWD, procFd(dstfd), ts, 0) })
	} else {
		err = retry(func() error { return unix.UtimesNanoAt(dstfd, name, ts, unix.AT_SYMLINK_NOFOLLOW) })
	}
	if err != nil {
		return &os.PathError{Op: "utimes", Path: disp, Err: err}
	}
	return nil
}

// sameInode checks that fd is the inode st describes: the entry was not
// replaced between lstat and open.
func sameInode(fd int, st *unix.Stat_t) error {
	var now unix.Stat_t
	if err := unix.Fstat(fd, &now); err != nil {
		return err
	}
	if now.Dev != st.Dev || now.Ino != st.Ino || now.Mode&unix.S_IFMT != st.Mode&unix.S_IFMT {
		return errors.New("changed during the copy")
	}
	return nil
}

func openat(dirfd int, name string, flags int, mode uint32) (int, error) {
	var fd int
	err := retry(func() (err error) { fd, err = unix.Openat(dirfd, name, flags, mode); return err })
	return fd, err
}

func procFd(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// retry calls fn again while it is interrupted.
func retry(fn func() error) error {
	for {
		if err := fn(); err != unix.EINTR {
			return err
		}
	}
}
