//go:build linux

package native

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// copyTree copies the tree at src to dst, which must not exist, keeping
// everything a layer can hold: file types (devices, fifos and sockets
// too), modes with setuid, setgid and sticky bits, owners, access and
// modification times to the nanosecond, extended attributes (security.*
// and trusted.* included), and the hard links between files of the tree.
// File data is shared with a reflink where the filesystem can (btrfs,
// xfs), copied in the kernel with copy_file_range otherwise, and holes
// stay holes.
//
// Nothing is followed: a symlink in src is copied as a symlink, and every
// lookup is relative to an open directory, so no name in the tree leads
// outside it.
func copyTree(ctx context.Context, src, dst string) error {
	c := copier{ctx: ctx, links: map[fileID]string{}}
	srcDir, err := openDir(unix.AT_FDCWD, src, src)
	if err != nil {
		return err
	}
	defer srcDir.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(srcDir.Fd()), &st); err != nil {
		return &os.PathError{Op: "stat", Path: src, Err: err}
	}
	if err := unix.Mkdir(dst, 0o700); err != nil {
		return &os.PathError{Op: "mkdir", Path: dst, Err: err}
	}
	dstDir, err := openDir(unix.AT_FDCWD, dst, dst)
	if err != nil {
		return err
	}
	defer dstDir.Close()
	if err := c.copyDir(srcDir, dstDir); err != nil {
		return err
	}
	return c.copyMeta(unix.AT_FDCWD, src, dst, &st)
}

type fileID struct{ dev, ino uint64 }

type copier struct {
	ctx context.Context
	// links maps a source inode with more than one link to the path of
	// its first copy, which later names link to.
	links map[fileID]string
}

// openDir opens the directory name in dirfd; path, its full name, is
// what errors and the path-only calls use.
func openDir(dirfd int, name, path string) (*os.File, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// copyDir copies the entries of src into dst; the paths in the two Files'
// names are only for errors and for the calls that have no *at form.
func (c *copier) copyDir(src, dst *os.File) error {
	entries, err := src.ReadDir(-1)
	if err != nil {
		return err
	}
	sfd, dfd := int(src.Fd()), int(dst.Fd())
	for _, e := range entries {
		if err := c.ctx.Err(); err != nil {
			return err
		}
		name := e.Name()
		srcPath, dstPath := filepath.Join(src.Name(), name), filepath.Join(dst.Name(), name)
		var st unix.Stat_t
		if err := unix.Fstatat(sfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return &os.PathError{Op: "stat", Path: srcPath, Err: err}
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR && st.Nlink > 1 {
			id := fileID{st.Dev, st.Ino}
			if first, ok := c.links[id]; ok {
				if err := unix.Linkat(unix.AT_FDCWD, first, dfd, name, 0); err != nil {
					return &os.LinkError{Op: "link", Old: first, New: dstPath, Err: err}
				}
				continue
			}
			c.links[id] = dstPath
		}
		if err := c.copyEntry(sfd, dfd, name, srcPath, dstPath, &st); err != nil {
			return err
		}
	}
	return nil
}

func (c *copier) copyEntry(sfd, dfd int, name, srcPath, dstPath string, st *unix.Stat_t) error {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := unix.Mkdirat(dfd, name, 0o700); err != nil {
			return &os.PathError{Op: "mkdir", Path: dstPath, Err: err}
		}
		sub, err := openDir(sfd, name, srcPath)
		if err != nil {
			return err
		}
		defer sub.Close()
		dsub, err := openDir(dfd, name, dstPath)
		if err != nil {
			return err
		}
		defer dsub.Close()
		if err := c.copyDir(sub, dsub); err != nil {
			return err
		}
	case unix.S_IFREG:
		if err := copyFile(sfd, dfd, name, srcPath, dstPath, st.Size); err != nil {
			return err
		}
	case unix.S_IFLNK:
		target, err := readlinkat(sfd, name)
		if err != nil {
			return &os.PathError{Op: "readlink", Path: srcPath, Err: err}
		}
		if err := unix.Symlinkat(target, dfd, name); err != nil {
			return &os.PathError{Op: "symlink", Path: dstPath, Err: err}
		}
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO, unix.S_IFSOCK:
		if err := unix.Mknodat(dfd, name, st.Mode, int(st.Rdev)); err != nil {
			return &os.PathError{Op: "mknod", Path: dstPath, Err: err}
		}
	default:
		return &os.PathError{Op: "copy", Path: srcPath, Err: fmt.Errorf("unknown file type %#o", st.Mode&unix.S_IFMT)}
	}
	return c.copyMeta(dfd, srcPath, dstPath, st)
}

// copyMeta gives the copy name (in dfd) the source's owner, mode,
// extended attributes and times, in that order: chown clears the setuid
// and setgid bits and file capabilities, so mode and xattrs come after
// it, and anything written changes the times, so they come last.
func (c *copier) copyMeta(dfd int, srcPath, dstPath string, st *unix.Stat_t) error {
	name := filepath.Base(dstPath)
	if dfd == unix.AT_FDCWD {
		name = dstPath
	}
	if err := unix.Fchownat(dfd, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "chown", Path: dstPath, Err: err}
	}
	isLink := st.Mode&unix.S_IFMT == unix.S_IFLNK
	if !isLink {
		// The mode of a symlink is always 0777 and cannot be set.
		if err := unix.Fchmodat(dfd, name, st.Mode&0o7777, 0); err != nil {
			return &os.PathError{Op: "chmod", Path: dstPath, Err: err}
		}
	}
	if err := copyXattrs(srcPath, dstPath); err != nil {
		return err
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(dfd, name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimes", Path: dstPath, Err: err}
	}
	return nil
}

func readlinkat(dirfd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// copyXattrs copies every extended attribute. The l* calls take paths,
// and do not follow a symlink at the end; the paths' directories were
// all opened without following, by us, in trees only we write.
func copyXattrs(src, dst string) error {
	names, err := listXattrs(src)
	if err != nil {
		return err
	}
	for _, n := range names {
		v, err := getXattr(src, n)
		if err != nil {
			return err
		}
		if err := unix.Lsetxattr(dst, n, v, 0); err != nil {
			return &os.PathError{Op: "setxattr " + n, Path: dst, Err: err}
		}
	}
	return nil
}

func listXattrs(path string) ([]string, error) {
	for {
		size, err := unix.Llistxattr(path, nil)
		if err != nil {
			if errors.Is(err, unix.ENOTSUP) {
				return nil, nil
			}
			return nil, &os.PathError{Op: "listxattr", Path: path, Err: err}
		}
		if size == 0 {
			return nil, nil
		}
		buf := make([]byte, size)
		n, err := unix.Llistxattr(path, buf)
		if errors.Is(err, unix.ERANGE) {
			continue // grew in between
		}
		if err != nil {
			return nil, &os.PathError{Op: "listxattr", Path: path, Err: err}
		}
		var names []string
		start := 0
		for i, b := range buf[:n] {
			if b == 0 {
				if i > start {
					names = append(names, string(buf[start:i]))
				}
				start = i + 1
			}
		}
		return names, nil
	}
}

func getXattr(path, name string) ([]byte, error) {
	for {
		size, err := unix.Lgetxattr(path, name, nil)
		if err != nil {
			return nil, &os.PathError{Op: "getxattr " + name, Path: path, Err: err}
		}
		buf := make([]byte, size)
		n, err := unix.Lgetxattr(path, name, buf)
		if errors.Is(err, unix.ERANGE) {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "getxattr " + name, Path: path, Err: err}
		}
		return buf[:n], nil
	}
}

// copyFile copies a regular file's data into a new file.
func copyFile(sfd, dfd int, name, srcPath, dstPath string, size int64) error {
	in, err := unix.Openat(sfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: srcPath, Err: err}
	}
	defer unix.Close(in)
	out, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &os.PathError{Op: "create", Path: dstPath, Err: err}
	}
	defer unix.Close(out)
	if size == 0 {
		return nil
	}
	// A reflink shares the blocks: instant, and no space used until
	// one side changes.
	if unix.IoctlFileClone(out, in) == nil {
		return nil
	}
	if err := copyData(in, out, size); err != nil {
		return &os.PathError{Op: "copy", Path: dstPath, Err: err}
	}
	return nil
}

// copyData copies the data extents of in to the same offsets in out and
// sets out's length, so holes are not filled in.
func copyData(in, out int, size int64) error {
	for off := int64(0); off < size; {
		start, err := unix.Seek(in, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // only a hole is left
		}
		if err != nil {
			// No SEEK_DATA here: all of it is data.
			start = off
		}
		end, err := unix.Seek(in, start, unix.SEEK_HOLE)
		if err != nil || end > size {
			end = size
		}
		if err := copyRange(in, out, start, end-start); err != nil {
			return err
		}
		off = end
	}
	return unix.Ftruncate(out, size)
}

// copyRange copies n bytes at off, in the kernel when it can.
func copyRange(in, out int, off, n int64) error {
	roff, woff := off, off
	for n > 0 {
		c, err := unix.CopyFileRange(in, &roff, out, &woff, int(min(n, 1<<30)), 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EXDEV) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) {
				return copyRangeSlow(in, out, roff, n)
			}
			return err
		}
		if c == 0 {
			return io.ErrUnexpectedEOF // the file shrank under us
		}
		n -= int64(c)
	}
	return nil
}

// copyRangeSlow is copyRange through user space, for filesystems
// copy_file_range refuses.
func copyRangeSlow(in, out int, off, n int64) error {
	buf := make([]byte, min(n, 1<<20))
	for n > 0 {
		r, err := unix.Pread(in, buf[:min(n, int64(len(buf)))], off)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		if r == 0 {
			return io.ErrUnexpectedEOF
		}
		for w := 0; w < r; {
			m, err := unix.Pwrite(out, buf[w:r], off+int64(w))
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				return err
			}
			w += m
		}
		off += int64(r)
		n -= int64(r)
	}
	return nil
}
