package cpath

import (
	"context"
	"io"
	"os"
	"path"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/archive"
)

// Archive is GET /containers/{id}/archive: an uncompressed tar of what is
// at p in the container under root, and its PathStat.
//
// Entries are named as dockerd names them: a file or symlink is one entry
// named as p's last element; a directory is an entry of its own followed
// by its tree, under p's last element ("dir/", "dir/a"), or under "." when
// p ends in "/." ("./", "./a"), or under "/" for the root ("/", "/bin/").
// Owners, modes, times, xattrs and hard links are kept; a symlink is
// archived as a link (anywhere in the tree; at the end of p too, unless
// p ends in "/" or opts.FollowLink).
//
// The stream is written by a goroutine as it is read; an error while
// writing it (a file vanished, ctx cancelled) ends it with that error.
// Close before the end stops the goroutine. The PathStat is taken from
// the same fd the archive is read from.
func Archive(ctx context.Context, root, p string, opts ArchiveOptions) (io.ReadCloser, PathStat, error) {
	if err := checkPath(ctx, p); err != nil {
		return nil, PathStat{}, err
	}
	r, err := openRoot(root)
	if err != nil {
		return nil, PathStat{}, err
	}
	defer r.close()
	abs := absPath(p)
	t, err := r.lookup(abs)
	if err != nil {
		return nil, PathStat{}, err
	}
	st, err := t.stat()
	if err != nil {
		t.close()
		return nil, PathStat{}, err
	}
	if opts.FollowLink && st.Mode&unix.S_IFMT == unix.S_IFLNK {
		t, st, err = r.follow(t, abs)
		if err != nil {
			return nil, PathStat{}, err
		}
	}
	ps, err := r.pathStat(abs, &st)
	if err != nil {
		t.close()
		return nil, PathStat{}, err
	}

	// The names: what dockerd's TarResourceRebaseOpts makes of
	// filepath.Base(absPath).
	as := baseName(abs)

	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	go func() {
		defer t.close()
		pw.CloseWithError(archive.WriteTreeAt(ctx, pw, t.dir, t.name, as))
	}()
	return &archiveReader{PipeReader: pr, cancel: cancel}, ps, nil
}

// follow replaces the symlink t (at abs) by what it leads to inside root.
func (r *root) follow(t target, abs string) (target, unix.Stat_t, error) {
	t.close()
	dest, err := r.resolve(abs)
	if err != nil {
		return target{}, unix.Stat_t{}, classify(err)
	}
	var nt target
	if dest == "/" {
		nt, err = r.lookup("/")
	} else {
		// Not following dest's last element again: if a symlink was
		// swapped in since resolve, it is archived as the link.
		dir, name := path.Split(dest)
		var fd int
		fd, err = r.open(dir, unix.O_PATH|unix.O_DIRECTORY)
		err = classify(err)
		if err == nil {
			nt = target{dir: os.NewFile(uintptr(fd), path.Clean(dir)), name: name}
			if err = nt.checkVisible(dest); err != nil {
				nt.close()
			}
		}
	}
	if err != nil {
		return target{}, unix.Stat_t{}, err
	}
	st, err := nt.stat()
	if err != nil {
		nt.close()
		return target{}, unix.Stat_t{}, err
	}
	return nt, st, nil
}

type archiveReader struct {
	*io.PipeReader
	cancel context.CancelFunc
}

func (a *archiveReader) Close() error {
	a.cancel()
	return a.PipeReader.Close()
}
