package logs

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// dirLock is an flock(2) on the local driver's log directory, the one
// thing the writer (in the shim) and the readers (in the daemon) share
// besides the files. The writer holds it exclusively while a rotation
// renames and creates files; a reader holds it shared while it opens the
// set of files. So a reader always opens a consistent set: every file
// once, under one name, none missing in the middle of a shift. It is
// never held while data is read or compressed.
//
// Locking the directory itself adds no file to it (docker's layout has
// only container.log and its rotations).
type dirLock struct {
	f *os.File
}

func openDirLock(dir string) (*dirLock, error) {
	f, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &dirLock{f: f}, nil
}

func (l *dirLock) lock(exclusive bool) error {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	for {
		err := unix.Flock(int(l.f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			if err != nil {
				return &fs.PathError{Op: "flock", Path: l.f.Name(), Err: err}
			}
			return nil
		}
	}
}

func (l *dirLock) unlock() {
	unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
}

func (l *dirLock) close() error { return l.f.Close() }
