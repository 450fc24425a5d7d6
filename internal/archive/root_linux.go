package archive

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// root is the directory Apply writes into, held by an fd so that every
// write is made relative to directory fds: once a directory is open, no
// symlink planted or swapped in later can redirect what is written in it.
//
// Directories inside are found by resolve, which never leaves root:
//
//   - fast path: openat2(RESOLVE_IN_ROOT|RESOLVE_NO_SYMLINKS), one system
//     call for the whole path, which fails on any symlink;
//   - slow path (a symlink on the way, a directory to create, or no
//     openat2): a walk one component at a time with O_NOFOLLOW from the
//     root fd, keeping the fds of the directories walked so that ".." pops
//     that stack and can never climb above root, and reading each symlink
//     met to splice its target in, absolute targets restarting at root.
//     This is RESOLVE_IN_ROOT done by hand, and it is done by hand because
//     of one more rule: a symlink this same layer created is never walked
//     through (ErrBreakout). A layer that makes "link -> /etc" and then
//     writes "link/passwd" means to write outside; no tar writer produces
//     such a layer from a real tree. Symlinks from lower layers, in a
//     merged root, are followed inside root, as docker (chrooted) and
//     containerd do, which merged-/usr images need.
type root struct {
	path string // for errors
	fd   int    // O_PATH|O_DIRECTORY

	// cache maps a directory (as the archive names it) to an O_PATH fd of
	// it. Tar writers emit a directory's entries together, so most
	// lookups hit. Entries found by following a symlink are dropped at
	// every removal, since a removal can change where the symlink leads;
	// the others only under the removed path.
	cache map[string]cachedDir

	// layerLinks holds the real in-root paths of the symlinks this layer
	// created.
	layerLinks map[string]struct{}

	// stale holds fds dropped from the cache, closed only between
	// entries: the entry being applied may still hold one.
	stale []int

	noOpenat2 bool
}

type cachedDir struct {
	fd      int
	real    string // the in-root path after following symlinks
	viaLink bool
}

const maxCachedDirs = 512

func openRoot(p string) (*root, error) {
	// The root path itself is the caller's, trusted: follow it.
	fd, err := openat(unix.AT_FDCWD, p, unix.O_PATH|unix.O_DIRECTORY, 0, p)
	if err != nil {
		return nil, err
	}
	return &root{path: p, fd: fd, cache: map[string]cachedDir{}, layerLinks: map[string]struct{}{}}, nil
}

func (r *root) close() {
	r.flush(func(string, cachedDir) bool { return true })
	r.closeStale()
	unix.Close(r.fd)
}

func (r *root) closeStale() {
	for _, fd := range r.stale {
		unix.Close(fd)
	}
	r.stale = r.stale[:0]
}

// disp names rel for errors.
func (r *root) disp(rel string) string { return filepath.Join(r.path, rel) }

// trim keeps the cache bounded; called between entries only, so that fds
// handed out for the current entry stay valid while it is applied.
func (r *root) trim() {
	r.closeStale()
	if len(r.cache) > maxCachedDirs {
		r.flush(func(string, cachedDir) bool { return true })
	}
}

func (r *root) flush(drop func(string, cachedDir) bool) {
	for k, c := range r.cache {
		if drop(k, c) {
			r.stale = append(r.stale, c.fd)
			delete(r.cache, k)
		}
	}
}

// removed tells the caches that rel and everything under it is gone.
func (r *root) removed(rel string) {
	prefix := rel + "/"
	r.flush(func(k string, c cachedDir) bool {
		return c.viaLink || k == rel || strings.HasPrefix(k, prefix) ||
			c.real == rel || strings.HasPrefix(c.real, prefix)
	})
	for l := range r.layerLinks {
		if l == rel || strings.HasPrefix(l, prefix) {
			delete(r.layerLinks, l)
		}
	}
}

// resolve returns an fd (owned by the cache: do not close) of directory
// rel ("." for root) and its real in-root path. With create, missing
// directories are made (mode 0755, as docker and GNU tar make implied
// parents); without, a missing one is an fs.ErrNotExist error.
func (r *root) resolve(rel string, create bool) (int, string, error) {
	if rel == "." || rel == "" {
		return r.fd, ".", nil
	}
	if c, ok := r.cache[rel]; ok {
		return c.fd, c.real, nil
	}
	if !r.noOpenat2 {
		fd, err := unix.Openat2(r.fd, rel, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		})
		switch {
		case err == nil:
			r.cache[rel] = cachedDir{fd: fd, real: rel}
			return fd, rel, nil
		case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM), errors.Is(err, unix.E2BIG):
			// No openat2 (kernel < 5.6), or a seccomp filter refusing it.
			r.noOpenat2 = true
		case errors.Is(err, unix.ENOENT) && !create:
			return -1, "", pathError("openat2", r.disp(rel), err)
		}
		// ELOOP (a symlink), ENOENT (to create), ENOTDIR, EAGAIN (a
		// rename raced the lookup): the walk sorts them out.
	}
	fd, real, viaLink, err := r.walk(rel, create)
	if err != nil {
		return -1, "", err
	}
	r.cache[rel] = cachedDir{fd: fd, real: real, viaLink: viaLink}
	return fd, real, nil
}

// maxSymlinks bounds the symlinks one walk follows, as the kernel's
// MAXSYMLINKS does.
const maxSymlinks = 40

// walk is the slow path of resolve. The fd it returns is the caller's.
func (r *root) walk(rel string, create bool) (fd int, real string, viaLink bool, err error) {
	type frame struct {
		fd   int
		name string
	}
	var stack []frame
	cur := func() int {
		if len(stack) == 0 {
			return r.fd
		}
		return stack[len(stack)-1].fd
	}
	realPath := func() string {
		parts := make([]string, len(stack))
		for i, f := range stack {
			parts[i] = f.name
		}
		if len(parts) == 0 {
			return "."
		}
		return strings.Join(parts, "/")
	}
	defer func() {
		// Close every fd of the walk but the one returned.
		for _, f := range stack {
			if f.fd != fd {
				unix.Close(f.fd)
			}
		}
	}()
	todo := strings.Split(rel, "/")
	links := 0
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			// Pop the stack: ".." of root is root, and the parent is the
			// directory we came from, not whatever ".." now links to.
			if len(stack) > 0 {
				unix.Close(stack[len(stack)-1].fd)
				stack = stack[:len(stack)-1]
			}
			continue
		}
		here := path.Join(realPath(), name)
		cfd, err := openat(cur(), name, unix.O_PATH|unix.O_NOFOLLOW, 0, r.disp(here))
		if errors.Is(err, unix.ENOENT) && create {
			if err := mkdirat(cur(), name, 0o755, r.disp(here)); err != nil && !errors.Is(err, unix.EEXIST) {
				return -1, "", false, err
			}
			// umask may have taken bits off.
			if err := fchmodatNoFollow(cur(), name, 0o755, r.disp(here)); err != nil {
				return -1, "", false, err
			}
			cfd, err = openat(cur(), name, unix.O_PATH|unix.O_NOFOLLOW, 0, r.disp(here))
		}
		if err != nil {
			return -1, "", false, err
		}
		var st unix.Stat_t
		if err := unix.Fstat(cfd, &st); err != nil {
			unix.Close(cfd)
			return -1, "", false, pathError("fstat", r.disp(here), err)
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			stack = append(stack, frame{fd: cfd, name: name})
		case unix.S_IFLNK:
			target, err := readlinkat(cfd, "", r.disp(here))
			unix.Close(cfd)
			if err != nil {
				return -1, "", false, err
			}
			if _, ok := r.layerLinks[here]; ok {
				return -1, "", false, fmt.Errorf("%q goes through symlink %q (-> %q) made by this same layer: %w", rel, here, target, ErrBreakout)
			}
			links++
			if links > maxSymlinks {
				return -1, "", false, pathError("resolve", r.disp(rel), unix.ELOOP)
			}
			viaLink = true
			if strings.HasPrefix(target, "/") {
				for _, f := range stack {
					unix.Close(f.fd)
				}
				stack = stack[:0]
			}
			todo = append(strings.Split(target, "/"), todo...)
		default:
			unix.Close(cfd)
			return -1, "", false, pathError("resolve", r.disp(here), unix.ENOTDIR)
		}
	}
	if len(stack) == 0 {
		// rel led back to root: hand out a duplicate, since the cache
		// closes what it holds.
		d, err := unix.FcntlInt(uintptr(r.fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return -1, "", false, pathError("dup", r.path, err)
		}
		return d, ".", viaLink, nil
	}
	fd = stack[len(stack)-1].fd
	return fd, realPath(), viaLink, nil
}

// removeAll removes name in dirfd and, for a directory, all it holds,
// relative to fds all the way down, never following a symlink.
func removeAll(dirfd int, name, disp string) error {
	err := unlinkat(dirfd, name, 0, disp)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) {
		return err
	}
	fd, err := openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0, disp)
	if err != nil {
		return err
	}
	names, err := readDirNames(fd, disp)
	if err == nil {
		for _, n := range names {
			if err = removeAll(fd, n, disp+"/"+n); err != nil {
				break
			}
		}
	}
	unix.Close(fd)
	if err != nil {
		return err
	}
	err = unlinkat(dirfd, name, unix.AT_REMOVEDIR, disp)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}

// readDirNames lists a directory open for reading, without "." and "..".
func readDirNames(fd int, disp string) ([]string, error) {
	var names []string
	buf := make([]byte, 32<<10)
	for {
		var n int
		err := ignoringEINTR(func() (err error) { n, err = unix.Getdents(fd, buf); return err })
		if err != nil {
			return nil, pathError("getdents", disp, err)
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}
