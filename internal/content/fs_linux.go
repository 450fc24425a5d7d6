package content

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/berth-project/berth/internal/atomicfile"
	"golang.org/x/sys/unix"
)

// tryLock takes an exclusive flock on f without waiting. flock belongs to
// the open file description, so it excludes other processes and other
// opens in this one alike, and the kernel drops it when the holder dies:
// a SIGKILLed writer never leaves a stale lock behind.
func tryLock(f *os.File) (bool, error) {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EWOULDBLOCK):
			return false, nil
		default:
			return false, &os.PathError{Op: "flock LOCK_EX|LOCK_NB", Path: f.Name(), Err: err}
		}
	}
}

// unlockClose drops f's lock, then closes it. Closing alone is not enough:
// a child forked meanwhile (any exec in this process) holds a copy of the
// descriptor until it execs, and with it the lock.
func unlockClose(f *os.File) error {
	_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return f.Close()
}

// lock takes an exclusive flock on f, waiting for it.
func lock(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "flock LOCK_EX", Path: f.Name(), Err: err}
		}
		return nil
	}
}

// lockDir opens dir and locks it without waiting. It answers (nil, nil)
// when someone else holds the lock, and an error wrapping fs.ErrNotExist
// when dir is not there. A lock on a directory that was renamed away
// while we waited to open it is worth nothing, so the path must still name
// the inode we locked; if it does not, lockDir answers errMoved.
func lockDir(dir string) (*os.File, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	ok, err := tryLock(f)
	if err != nil || !ok {
		f.Close()
		return nil, err
	}
	same, err := sameFile(f, dir)
	if err != nil || !same {
		unlockClose(f)
		if err == nil {
			err = errMoved
		}
		return nil, err
	}
	return f, nil
}

// errMoved says a path no longer names the file we opened: someone
// renamed or removed it meanwhile. Callers look again.
var errMoved = errors.New("moved while being locked")

func sameFile(f *os.File, path string) (bool, error) {
	a, err := f.Stat()
	if err != nil {
		return false, err
	}
	b, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(a, b), nil
}

// renameNoReplace moves oldpath to newpath and fails with an error
// wrapping fs.ErrExist if newpath is there, atomically: two committers of
// one digest cannot both win, and a blob that exists is never replaced
// under a reader. Filesystems without RENAME_NOREPLACE get link and
// unlink, which is as atomic for files; directories there fall back to a
// plain rename, which refuses a non-empty target, and our directories are
// never published empty.
func renameNoReplace(oldpath, newpath string) error {
	err := unix.Renameat2(unix.AT_FDCWD, oldpath, unix.AT_FDCWD, newpath, unix.RENAME_NOREPLACE)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) {
		return &os.LinkError{Op: "renameat2 RENAME_NOREPLACE", Old: oldpath, New: newpath, Err: err}
	}
	fi, serr := os.Lstat(oldpath)
	if serr != nil {
		return serr
	}
	if fi.IsDir() {
		return os.Rename(oldpath, newpath)
	}
	if err := os.Link(oldpath, newpath); err != nil {
		return err
	}
	return os.Remove(oldpath)
}

// syncDir makes the entries of dir durable: a rename is only safe across
// a power cut once the directory holding the new name is synced.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// writeFileAtomic replaces dir/name with data so that a reader, or the
// store after a crash, sees the old content or the new, never a torn mix.
// The temporary file carries tmpPrefix, which recovery knows to remove.
func writeFileAtomic(dir, name string, data []byte, perm os.FileMode) error {
	return atomicfile.Write(filepath.Join(dir, name), data, perm,
		atomicfile.WithTempPrefix(tmpPrefix),
		atomicfile.WithBeforeRename(func() { crashPoint("atomic-temp-written") }))
}

// tempName is a fresh name for a temporary file or directory under
// prefix; collisions are only possible in theory, and Mkdir catches them.
func tempName(prefix string) string { return prefix + rand.Text() }
