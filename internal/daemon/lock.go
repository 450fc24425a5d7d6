package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
)

// lockFile is the data root's lock: the running daemon holds an exclusive
// flock on it for its whole life, so a second daemon on the same root
// fails at once instead of sharing stores it does not coordinate with.
// The lock dies with the process (SIGKILL included), so no stale lock
// ever needs removing.
const lockFile = "berthd.lock"

type dataRootLock struct{ f *os.File }

func lockDataRoot(root string) (*dataRootLock, error) {
	path := filepath.Join(root, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder := ""
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
				holder = fmt.Sprintf(" (pid %d)", pid)
			}
		}
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, errdefs.Errorf(errdefs.ErrConflict,
				"data root %s is in use by another berthd%s: one daemon per data root (lock %s)", root, holder, path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// The pid is informational (the lock is the flock, not the content).
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return &dataRootLock{f: f}, nil
}

func (l *dataRootLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	// Unlock before closing: a child forked a moment ago and not yet
	// exec'd (a shim being launched) holds a copy of the descriptor, and
	// the flock would last as long as that copy; LOCK_UN ends it for
	// every copy.
	_ = unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	err := l.f.Close()
	l.f = nil
	return err
}
