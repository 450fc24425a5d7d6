package cpath

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
)

// root is a container's "/" held by an fd: once open, every lookup is
// made from it by the kernel (openat2 RESOLVE_IN_ROOT) or by a walk of
// O_NOFOLLOW opens from it, never by joining strings onto a host path.
type root struct {
	path string // the caller's, for errors
	fd   int    // O_PATH|O_DIRECTORY
}

func openRoot(p string) (*root, error) {
	if p == "" {
		return nil, fmt.Errorf("cpath: empty root: %w", errdefs.ErrInvalidParameter)
	}
	// The root path is the caller's and trusted: it may itself be a magic
	// link (/proc/PID/root, /proc/self/fd/N), which is followed.
	fd, err := retry(func() (int, error) {
		return unix.Open(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, fmt.Errorf("container root: %w", &os.PathError{Op: "open", Path: p, Err: err})
	}
	return &root{path: p, fd: fd}, nil
}

func (r *root) close() { unix.Close(r.fd) }

// procPath names root's fd for code that takes a path: the kernel
// resolves it to the directory the fd holds, whatever happens to r.path.
func (r *root) procPath() string { return "/proc/self/fd/" + strconv.Itoa(r.fd) }

// maxRetries bounds the EAGAIN retries of openat2: RESOLVE_IN_ROOT fails
// with EAGAIN when a rename or mount anywhere raced the lookup.
const maxRetries = 64

func retry(fn func() (int, error)) (int, error) {
	var err error
	for i := 0; i < maxRetries; i++ {
		var fd int
		fd, err = fn()
		if !errors.Is(err, unix.EINTR) && !errors.Is(err, unix.EAGAIN) {
			return fd, err
		}
	}
	return -1, err
}

// open opens abs, an absolute path in the container, following symlinks
// inside root only; magic links (/proc/self/root in a container that has
// its /proc mounted) are refused.
func (r *root) open(abs string, flags int) (int, error) {
	rel := strings.TrimLeft(abs, "/")
	if rel == "" {
		rel = "."
	}
	fd, err := retry(func() (int, error) {
		return unix.Openat2(r.fd, rel, &unix.OpenHow{
			Flags:   uint64(flags | unix.O_CLOEXEC),
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		})
	})
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: abs, Err: err}
	}
	return fd, nil
}

// maxLinks is the number of symlinks resolve follows, as
// moby/sys/symlink.FollowSymlinkInScope does.
const maxLinks = 255

// resolve is dockerd's FollowSymlinkInScope(abs, "/"): abs with every
// symlink on the way followed inside root, as far as it exists; what does
// not exist is kept as named. It only computes a name (a PathStat's
// linkTarget, an extraction point): what is then opened is opened again
// from root, so a race between the two cannot lead out of it.
func (r *root) resolve(abs string) (string, error) {
	type frame struct {
		fd   int // -1 below a component that does not exist
		name string
	}
	var stack []frame
	closeFrame := func(f frame) {
		if f.fd >= 0 {
			unix.Close(f.fd)
		}
	}
	defer func() {
		for _, f := range stack {
			closeFrame(f)
		}
	}()
	current := func() int {
		if len(stack) == 0 {
			return r.fd
		}
		return stack[len(stack)-1].fd
	}
	todo := strings.Split(abs, "/")
	links := 0
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			if len(stack) > 0 {
				closeFrame(stack[len(stack)-1])
				stack = stack[:len(stack)-1]
			}
			continue
		}
		dir := current()
		if dir < 0 {
			stack = append(stack, frame{fd: -1, name: name})
			continue
		}
		fd, err := retry(func() (int, error) {
			return unix.Openat(dir, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		})
		if errors.Is(err, unix.ENOENT) {
			stack = append(stack, frame{fd: -1, name: name})
			continue
		}
		if err != nil {
			return "", &os.PathError{Op: "open", Path: abs, Err: err}
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return "", &os.PathError{Op: "fstat", Path: abs, Err: err}
		}
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			stack = append(stack, frame{fd: fd, name: name})
			continue
		}
		target, err := readlinkat(fd, "")
		unix.Close(fd)
		if err != nil {
			return "", &os.PathError{Op: "readlink", Path: abs, Err: err}
		}
		links++
		if links > maxLinks {
			return "", &os.PathError{Op: "resolve", Path: abs, Err: unix.ELOOP}
		}
		if strings.HasPrefix(target, "/") {
			for _, f := range stack {
				closeFrame(f)
			}
			stack = stack[:0]
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	names := make([]string, len(stack))
	for i, f := range stack {
		names[i] = f.name
	}
	return "/" + path.Join(names...), nil
}

func readlinkat(dirfd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// target is a file to stat or archive: name in the directory dir, not
// followed if it is a symlink. For a path that asserts a directory (or
// the root), dir is that directory and name is ".".
type target struct {
	dir  *os.File
	name string
}

func (t target) close() { t.dir.Close() }

// lookup finds abs (from absPath) as dockerd's os.Lstat(abs) would: the
// last element is not followed unless a trailing "/" or "/." asks for a
// directory.
func (r *root) lookup(abs string) (target, error) {
	var t target
	if abs == "/" || assertsDir(abs) {
		fd, err := r.open(abs, unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			return target{}, classify(err)
		}
		t = target{dir: os.NewFile(uintptr(fd), abs), name: "."}
	} else {
		dir, name := path.Split(abs)
		fd, err := r.open(dir, unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			return target{}, classify(err)
		}
		t = target{dir: os.NewFile(uintptr(fd), path.Clean(dir)), name: name}
	}
	if err := t.checkVisible(abs); err != nil {
		t.close()
		return target{}, err
	}
	return t, nil
}

// stat is the lstat of t.
func (t target) stat() (unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Fstatat(int(t.dir.Fd()), t.name, &st, unix.AT_SYMLINK_NOFOLLOW)
	for errors.Is(err, unix.EINTR) {
		err = unix.Fstatat(int(t.dir.Fd()), t.name, &st, unix.AT_SYMLINK_NOFOLLOW)
	}
	if err != nil {
		return st, classify(&os.PathError{Op: "lstat", Path: path.Join(t.dir.Name(), t.name), Err: err})
	}
	return st, nil
}

// classify tags a lookup's error with its errdefs class.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.ENOENT):
		return errdefs.Errorf(errdefs.ErrNotFound, "%w", err)
	case errors.Is(err, unix.ENOTDIR), errors.Is(err, unix.ELOOP), errors.Is(err, unix.ENAMETOOLONG):
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "%w", err)
	case errors.Is(err, unix.EROFS):
		return errdefs.Errorf(ErrReadOnly, "%w", err)
	}
	return err
}
