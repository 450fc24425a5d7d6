package cpath

import (
	"context"
	"io/fs"
	"time"

	"golang.org/x/sys/unix"
)

// Stat is HEAD /containers/{id}/archive: what is at p in the container
// under root, not following a symlink at its end (unless p ends in "/" or
// "/."), with LinkTarget, for a symlink, the in-container path it leads
// to with every link followed. A missing path is errdefs.ErrNotFound.
func Stat(ctx context.Context, root, p string) (PathStat, error) {
	if err := checkPath(ctx, p); err != nil {
		return PathStat{}, err
	}
	r, err := openRoot(root)
	if err != nil {
		return PathStat{}, err
	}
	defer r.close()
	abs := absPath(p)
	t, err := r.lookup(abs)
	if err != nil {
		return PathStat{}, err
	}
	defer t.close()
	st, err := t.stat()
	if err != nil {
		return PathStat{}, err
	}
	return r.pathStat(abs, &st)
}

// pathStat fills a PathStat of abs from its lstat.
func (r *root) pathStat(abs string, st *unix.Stat_t) (PathStat, error) {
	ps := PathStat{
		Name:  baseName(abs),
		Size:  st.Size,
		Mode:  fileMode(st.Mode),
		Mtime: time.Unix(st.Mtim.Sec, st.Mtim.Nsec),
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		t, err := r.resolve(abs)
		if err != nil {
			return PathStat{}, classify(err)
		}
		ps.LinkTarget = t
	}
	return ps, nil
}

// fileMode is os.Lstat's FileMode of a st_mode (os.fillFileStatFromSys),
// which is what dockerd puts in a PathStat.
func fileMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
	case unix.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	case unix.S_IFSOCK:
		mode |= fs.ModeSocket
	}
	if m&unix.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&unix.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}
