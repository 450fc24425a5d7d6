//go:build linux

package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// Pending is the directory of a snapshot being made: snapshots/new-<random>
// until Publish renames it to the snapshot's ID. Its maker holds a flock
// on it until Close, so Cleanup leaves it alone while the maker lives.
type Pending struct {
	store *Store
	path  string
	fd    int
	kept  bool
}

// NewPending makes a pending directory. It briefly takes the store's
// shared lock, so a Cleanup (which holds the exclusive one) never sees the
// directory before its flock is taken.
func (s *Store) NewPending(ctx context.Context) (*Pending, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	unlock, err := s.lock(unix.LOCK_SH)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.newPending()
}

// NewPending makes a pending directory within a transaction, whose lock
// already keeps Cleanup out.
func (t *Tx) NewPending() (*Pending, error) { return t.store.newPending() }

func (s *Store) newPending() (*Pending, error) {
	path := filepath.Join(s.root, snapshotsDir, newPrefix+NewID())
	if err := os.Mkdir(path, 0o700); err != nil {
		return nil, err
	}
	fd, err := lockDir(path)
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	return &Pending{store: s, path: path, fd: fd}, nil
}

// Path is where the pending directory is now.
func (p *Pending) Path() string { return p.path }

// Sync flushes the filesystem the directory is on, so what was written in
// it is on disk before a record names it.
func (p *Pending) Sync() error {
	if err := unix.Syncfs(p.fd); err != nil {
		return &os.PathError{Op: "syncfs", Path: p.path, Err: err}
	}
	return nil
}

// Publish renames the directory to the snapshot id's and makes the rename
// durable. Call it within the Update that records the snapshot, last, so
// the directory is in place before the record commits.
func (p *Pending) Publish(id string) error {
	dst := p.store.Dir(id)
	if err := os.Rename(p.path, dst); err != nil {
		return err
	}
	p.path = dst
	return syncDir(filepath.Dir(dst))
}

// Keep marks the directory as owned by a recorded snapshot: Close will
// leave it.
func (p *Pending) Keep() { p.kept = true }

// Close drops the flock and, unless Keep was called, deletes the
// directory wherever it is (Publish may have moved it before its record
// failed to commit).
func (p *Pending) Close() error {
	var err error
	if !p.kept {
		err = os.RemoveAll(p.path)
	}
	unix.Close(p.fd)
	return err
}

// Claim is a flock on a directory about to be deleted, taken while its
// snapshot's record is removed, so Cleanup does not delete it at the
// same time.
type Claim struct {
	path string
	fd   int
}

// Claim locks the directory of snapshot id for deletion. It returns nil
// when there is no such directory or someone else has it.
func (t *Tx) Claim(id string) *Claim {
	return claim(t.store.Dir(id))
}

func claim(path string) *Claim {
	fd, err := lockDir(path)
	if err != nil {
		return nil
	}
	return &Claim{path: path, fd: fd}
}

// Delete deletes the claimed directory and drops the flock. A nil Claim
// deletes nothing.
func (c *Claim) Delete() error {
	if c == nil {
		return nil
	}
	defer unix.Close(c.fd)
	return os.RemoveAll(c.path)
}

// Release drops the flock and keeps the directory.
func (c *Claim) Release() {
	if c != nil {
		unix.Close(c.fd)
	}
}

// lockDir opens dir and takes an exclusive flock on it without waiting.
func lockDir(dir string) (int, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	if err := flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		unix.Close(fd)
		return -1, &os.PathError{Op: "flock", Path: dir, Err: err}
	}
	return fd, nil
}

func syncDir(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Fsync(fd); err != nil {
		return &os.PathError{Op: "fsync", Path: dir, Err: err}
	}
	return nil
}

// SyncDir fsyncs a directory, making the entries made or removed in it
// durable.
func SyncDir(dir string) error { return syncDir(dir) }

// Cleanup deletes what crashes leave: directories under snapshots/ that
// no record names and no live process holds (a snapshot made or removed
// half way). extra, if not nil, runs in the same locked transaction with
// the IDs that are recorded, for what an implementation keeps elsewhere
// (overlay's links). The deleting happens after the lock is released,
// so a large leftover does not stall other operations.
func (s *Store) Cleanup(ctx context.Context, extra func(live map[string]bool) error) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	var garbage []*Claim
	err := func() error {
		unlock, err := s.lock(unix.LOCK_EX)
		if err != nil {
			return err
		}
		defer unlock()
		return s.withDB(true, func(db *bolt.DB) error {
			return db.View(func(btx *bolt.Tx) error {
				tx := newTx(s, btx)
				live, err := tx.IDs()
				if err != nil {
					return err
				}
				dir := filepath.Join(s.root, snapshotsDir)
				entries, err := os.ReadDir(dir)
				if err != nil {
					return err
				}
				for _, e := range entries {
					if live[e.Name()] {
						continue
					}
					if c := claim(filepath.Join(dir, e.Name())); c != nil {
						garbage = append(garbage, c)
					}
				}
				if extra != nil {
					return extra(live)
				}
				return nil
			})
		})
	}()
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	for _, c := range garbage {
		if err := c.Delete(); err != nil {
			errs = append(errs, fmt.Errorf("cleanup: %w", err))
		}
	}
	return errors.Join(errs...)
}
