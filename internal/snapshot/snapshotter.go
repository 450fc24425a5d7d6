// Package snapshot holds root filesystems as chains of snapshots: the
// layers of an image committed one on another, and the writable snapshot
// of each container on top.
package snapshot

import (
	"context"
	"time"

	"github.com/berth-project/berth/internal/mount"
)

// Kind is a snapshot's state.
type Kind int

const (
	KindUnknown Kind = iota
	// KindView is a read-only snapshot of a committed parent.
	KindView
	// KindActive is writable, and can be committed.
	KindActive
	// KindCommitted is read-only and can be a parent.
	KindCommitted
)

func (k Kind) String() string {
	switch k {
	case KindView:
		return "View"
	case KindActive:
		return "Active"
	case KindCommitted:
		return "Committed"
	}
	return "Unknown"
}

// Info describes a snapshot.
type Info struct {
	Kind    Kind
	Name    string // the key (active, view) or the committed name
	Parent  string // the committed parent's name; empty for a base
	Labels  map[string]string
	Created time.Time
	Updated time.Time
}

// Usage is the disk a snapshot uses by itself (not its parents).
type Usage struct {
	Inodes int64
	Size   int64
}

// Opt sets options of Prepare, View and Commit.
type Opt func(*Info) error

// WithLabels sets labels on the new snapshot.
func WithLabels(labels map[string]string) Opt {
	return func(i *Info) error {
		if i.Labels == nil {
			i.Labels = map[string]string{}
		}
		for k, v := range labels {
			i.Labels[k] = v
		}
		return nil
	}
}

// WalkFunc is called for each snapshot.
type WalkFunc func(context.Context, Info) error

// Snapshotter manages snapshots. The lifecycle, as containerd's:
//
//	Prepare(key, parent) -> active snapshot, writable; its Mounts show
//	    the parent's content (an empty parent is an empty root)
//	... write through the mounts (apply a layer, run a container) ...
//	Commit(name, key)    -> committed snapshot "name"; key is gone
//	View(key, parent)    -> read-only view of a committed snapshot
//	Remove(key or name)  -> gone; refused (errdefs.ErrConflict) while a
//	    committed snapshot has children
//
// Keys and names share one namespace: creating one that exists is
// errdefs.ErrAlreadyExists; naming one that does not is
// errdefs.ErrNotFound; a parent that is not committed is
// errdefs.ErrInvalidParameter. Every change is atomic: a crash leaves each
// snapshot either fully there or fully gone (after the next open's
// cleanup).
type Snapshotter interface {
	Stat(ctx context.Context, key string) (Info, error)
	// Update replaces labels named by fieldpaths ("labels",
	// "labels.<key>"); with none, all labels.
	Update(ctx context.Context, info Info, fieldpaths ...string) (Info, error)
	// Usage of an active snapshot is computed now; of a committed one,
	// recorded at commit.
	Usage(ctx context.Context, key string) (Usage, error)
	Mounts(ctx context.Context, key string) ([]mount.Mount, error)
	Prepare(ctx context.Context, key, parent string, opts ...Opt) ([]mount.Mount, error)
	View(ctx context.Context, key, parent string, opts ...Opt) ([]mount.Mount, error)
	Commit(ctx context.Context, name, key string, opts ...Opt) error
	Remove(ctx context.Context, key string) error
	Walk(ctx context.Context, fn WalkFunc) error
	Close() error
}
