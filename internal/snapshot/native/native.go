//go:build linux

// Package native is the snapshotter that copies: Prepare gives each
// active snapshot a full copy of its parent's tree, and every mount is a
// bind mount. It needs nothing of the filesystem but what a copy needs,
// so it serves where overlayfs cannot be mounted (an overlay root, some
// network filesystems), and it keeps the Snapshotter interface honest by
// being its second implementation.
//
// # Layout
//
//	<root>/metadata.db, lock     the metadata (see package storage)
//	<root>/snapshots/<id>/fs     the snapshot's whole tree
//
// A view is a read-only bind mount of its parent's tree (a committed tree
// never changes, so no copy is needed); its own fs stays empty and is
// mounted only for a view without parent.
//
// An active snapshot's Usage counts its whole copy: it really takes that
// much disk (less where the filesystem shares the copy's blocks by
// reflink).
package native

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/mount"
	"github.com/berth-project/berth/internal/snapshot"
	"github.com/berth-project/berth/internal/snapshot/internal/storage"
)

// Snapshotter is the copying snapshotter. Any number of Snapshotters, in
// any number of processes, can share a root.
type Snapshotter struct {
	store *storage.Store
}

var _ snapshot.Snapshotter = (*Snapshotter)(nil)

// NewSnapshotter opens (or makes) the snapshotter at root, an absolute
// path, and deletes what an earlier crash left half made (Cleanup).
func NewSnapshotter(root string) (*Snapshotter, error) {
	store, err := storage.Open(root)
	if err != nil {
		return nil, err
	}
	s := &Snapshotter{store: store}
	if err := s.Cleanup(context.Background()); err != nil {
		return nil, err
	}
	return s, nil
}

// Cleanup deletes the directories no snapshot owns: what a crash in the
// middle of Prepare, View or Remove leaves, in this process or any
// other. NewSnapshotter runs it; a daemon may run it again at any time,
// as it never touches the work of a live operation.
func (s *Snapshotter) Cleanup(ctx context.Context) error {
	return s.store.Cleanup(ctx, nil)
}

func (s *Snapshotter) fsDir(id string) string { return filepath.Join(s.store.Dir(id), "fs") }

// Stat returns the snapshot named key.
func (s *Snapshotter) Stat(ctx context.Context, key string) (snapshot.Info, error) {
	sn, err := s.store.Stat(ctx, key)
	return sn.Info, err
}

// Update changes a snapshot's labels (see snapshot.Snapshotter).
func (s *Snapshotter) Update(ctx context.Context, info snapshot.Info, fieldpaths ...string) (snapshot.Info, error) {
	return s.store.UpdateInfo(ctx, info, fieldpaths)
}

// Usage of an active snapshot walks its whole tree now; a committed
// one's was recorded at commit; a view adds nothing of its own.
func (s *Snapshotter) Usage(ctx context.Context, key string) (snapshot.Usage, error) {
	return s.store.Usage(ctx, key, s.fsDir)
}

// Mounts returns the mounts of an active snapshot or a view, as Prepare or
// View did. A committed snapshot has none: errdefs.ErrInvalidParameter
// (make a View of it).
func (s *Snapshotter) Mounts(ctx context.Context, key string) ([]mount.Mount, error) {
	sn, parents, err := s.store.StatChain(ctx, key)
	if err != nil {
		return nil, err
	}
	if sn.Info.Kind == snapshot.KindCommitted {
		return nil, fmt.Errorf("mounts of %q: a committed snapshot is not mounted, a view of it is: %w", key, errdefs.ErrInvalidParameter)
	}
	return s.mounts(sn, parents), nil
}

func (s *Snapshotter) mounts(sn storage.Snapshot, parents []storage.Snapshot) []mount.Mount {
	if sn.Info.Kind == snapshot.KindView {
		dir := s.fsDir(sn.ID)
		if len(parents) > 0 {
			dir = s.fsDir(parents[0].ID)
		}
		return []mount.Mount{{Type: "bind", Source: dir, Options: []string{"rbind", "ro"}}}
	}
	return []mount.Mount{{Type: "bind", Source: s.fsDir(sn.ID), Options: []string{"rbind", "rw"}}}
}

// Prepare makes the active snapshot key on parent, a copy of parent's
// tree. The copy is made, and flushed to disk, before the snapshot is
// recorded and without holding the store's lock, so a large parent does
// not stall other operations; a crash during the copy leaves only a
// directory Cleanup deletes.
func (s *Snapshotter) Prepare(ctx context.Context, key, parent string, opts ...snapshot.Opt) (_ []mount.Mount, err error) {
	// Fail before copying what would fail after.
	var parentID string
	if err := s.store.View(ctx, func(tx *storage.Tx) error {
		if err := storage.ValidateKey(key); err != nil {
			return err
		}
		if _, err := tx.Get(key); err == nil {
			return fmt.Errorf("snapshot %q: %w", key, errdefs.ErrAlreadyExists)
		}
		p, err := tx.CheckParent(parent)
		parentID = p.ID
		return err
	}); err != nil {
		return nil, err
	}

	pending, err := s.store.NewPending(ctx)
	if err != nil {
		return nil, err
	}
	defer pending.Close()
	fs := filepath.Join(pending.Path(), "fs")
	if parentID == "" {
		if err := os.Mkdir(fs, 0o755); err != nil {
			return nil, err
		}
	} else {
		if err := copyTree(ctx, s.fsDir(parentID), fs); err != nil {
			// The copy runs without the store's lock, so the parent may
			// have been removed under it: that is the parent missing,
			// not a broken store.
			if p, serr := s.store.Stat(ctx, parent); errdefs.IsNotFound(serr) || (serr == nil && p.ID != parentID) {
				return nil, fmt.Errorf("prepare %q: parent %q was removed during the copy: %w", key, parent, errdefs.ErrNotFound)
			}
			return nil, fmt.Errorf("prepare %q: copy of %q: %w", key, parent, err)
		}
		if err := pending.Sync(); err != nil {
			return nil, err
		}
	}

	var (
		sn      storage.Snapshot
		parents []storage.Snapshot
	)
	err = s.store.Update(ctx, func(tx *storage.Tx) error {
		var err error
		if sn, err = tx.Create(snapshot.KindActive, key, parent, opts); err != nil {
			return err
		}
		if parents, err = tx.Parents(sn); err != nil {
			return err
		}
		if len(parents) > 0 && parents[0].ID != parentID {
			return fmt.Errorf("prepare %q: parent %q was removed and made again during the copy: %w", key, parent, errdefs.ErrConflict)
		}
		return pending.Publish(sn.ID)
	})
	if err != nil {
		return nil, err
	}
	pending.Keep()
	return s.mounts(sn, parents), nil
}

// View makes the read-only view key of parent: a bind mount of the
// parent's tree, made at once.
func (s *Snapshotter) View(ctx context.Context, key, parent string, opts ...snapshot.Opt) ([]mount.Mount, error) {
	var (
		sn      storage.Snapshot
		parents []storage.Snapshot
		pending *storage.Pending
	)
	err := s.store.Update(ctx, func(tx *storage.Tx) error {
		var err error
		if sn, err = tx.Create(snapshot.KindView, key, parent, opts); err != nil {
			return err
		}
		if parents, err = tx.Parents(sn); err != nil {
			return err
		}
		if pending, err = tx.NewPending(); err != nil {
			return err
		}
		if err := os.Mkdir(filepath.Join(pending.Path(), "fs"), 0o755); err != nil {
			return err
		}
		return pending.Publish(sn.ID)
	})
	if pending != nil {
		if err == nil {
			pending.Keep()
		}
		pending.Close()
	}
	if err != nil {
		return nil, err
	}
	return s.mounts(sn, parents), nil
}

// Commit makes the active snapshot key the committed snapshot name. The
// tree is measured and flushed to disk (syncfs) before the record
// changes, so a committed tree survives a power cut whole. Nothing may
// write to the snapshot during Commit.
func (s *Snapshotter) Commit(ctx context.Context, name, key string, opts ...snapshot.Opt) error {
	return s.store.Commit(ctx, name, key, s.fsDir, opts)
}

// Remove deletes the snapshot key; a committed snapshot with children is
// errdefs.ErrConflict. The record goes first; the tree is deleted after
// the lock is released, and if that fails (something is mounted in it),
// the next Cleanup deletes it.
func (s *Snapshotter) Remove(ctx context.Context, key string) error {
	_, err := s.store.Remove(ctx, key)
	return err
}

// Walk calls fn for every snapshot, in key order. fn runs after the
// metadata is read and the lock released, so it may call the
// Snapshotter, even to remove what it is given.
func (s *Snapshotter) Walk(ctx context.Context, fn snapshot.WalkFunc) error {
	return s.store.Walk(ctx, fn)
}

// Close makes later calls fail with errdefs.ErrUnavailable; it never
// fails, and a second Close does nothing.
func (s *Snapshotter) Close() error { return s.store.Close() }
