//go:build linux

package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/snapshot"
)

// The operations below are the same in every snapshotter; only how a
// snapshot's directory is made and mounted differs.

// Stat returns the snapshot named key.
func (s *Store) Stat(ctx context.Context, key string) (Snapshot, error) {
	var sn Snapshot
	err := s.View(ctx, func(tx *Tx) error {
		var err error
		sn, err = tx.Get(key)
		return err
	})
	return sn, err
}

// StatChain returns the snapshot named key and its parents, nearest first.
func (s *Store) StatChain(ctx context.Context, key string) (Snapshot, []Snapshot, error) {
	var (
		sn      Snapshot
		parents []Snapshot
	)
	err := s.View(ctx, func(tx *Tx) error {
		var err error
		if sn, err = tx.Get(key); err != nil {
			return err
		}
		parents, err = tx.Parents(sn)
		return err
	})
	return sn, parents, err
}

// UpdateInfo changes a snapshot's labels; see Tx.UpdateInfo.
func (s *Store) UpdateInfo(ctx context.Context, info snapshot.Info, fieldpaths []string) (snapshot.Info, error) {
	var out snapshot.Info
	err := s.Update(ctx, func(tx *Tx) error {
		var err error
		out, err = tx.UpdateInfo(info, fieldpaths)
		return err
	})
	return out, err
}

// Walk calls fn for every snapshot, in key order. fn runs after the
// metadata is read and the lock released, so it may call the
// snapshotter, even to remove what it is given.
func (s *Store) Walk(ctx context.Context, fn snapshot.WalkFunc) error {
	var infos []snapshot.Info
	if err := s.View(ctx, func(tx *Tx) error {
		return tx.Walk(func(sn Snapshot) error {
			infos = append(infos, sn.Info)
			return nil
		})
	}); err != nil {
		return err
	}
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(ctx, info); err != nil {
			return err
		}
	}
	return nil
}

// Usage returns a snapshot's usage: measured now in dir(id) for an
// active snapshot, as recorded at commit for a committed one, zero for a
// view (it adds nothing of its own).
func (s *Store) Usage(ctx context.Context, key string, dir func(id string) string) (snapshot.Usage, error) {
	sn, err := s.Stat(ctx, key)
	if err != nil {
		return snapshot.Usage{}, err
	}
	switch sn.Info.Kind {
	case snapshot.KindActive:
		u, err := DiskUsage(ctx, dir(sn.ID))
		if errors.Is(err, fs.ErrNotExist) {
			return snapshot.Usage{}, fmt.Errorf("snapshot %q: removed while measured: %w", key, errdefs.ErrNotFound)
		}
		return u, err
	case snapshot.KindView:
		return snapshot.Usage{}, nil
	}
	return sn.Usage, nil
}

// Commit makes the active snapshot key the committed snapshot name. Its
// layer, dir(id), is measured and flushed to disk (syncfs) before the
// record changes, so a committed layer survives a power cut whole. The
// measuring and flushing take time in proportion to the layer, so they
// run without the lock, and the record is checked again under it.
// Nothing may write to the snapshot during Commit.
func (s *Store) Commit(ctx context.Context, name, key string, dir func(id string) string, opts []snapshot.Opt) error {
	if err := ValidateKey(name); err != nil {
		return err
	}
	sn, err := s.Stat(ctx, key)
	if err != nil {
		return err
	}
	if sn.Info.Kind != snapshot.KindActive {
		return fmt.Errorf("commit %q: snapshot is %v, not active: %w", key, sn.Info.Kind, errdefs.ErrInvalidParameter)
	}
	layer := dir(sn.ID)
	usage, err := DiskUsage(ctx, layer)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("commit %q: removed during the commit: %w", key, errdefs.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("commit %q: %w", key, err)
	}
	if err := syncFS(layer); err != nil {
		return fmt.Errorf("commit %q: %w", key, err)
	}
	return s.Update(ctx, func(tx *Tx) error {
		now, err := tx.Get(key)
		if err != nil {
			return err
		}
		if now.ID != sn.ID {
			return fmt.Errorf("commit %q: removed and made again during the commit: %w", key, errdefs.ErrConflict)
		}
		_, err = tx.Commit(name, key, usage, opts)
		return err
	})
}

func syncFS(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return &os.PathError{Op: "syncfs", Path: dir, Err: err}
	}
	return nil
}
