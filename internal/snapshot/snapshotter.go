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
//
// The terms:
//
//   - A key names an active snapshot or a view; a name names a committed
//     snapshot. A key or name is any non-empty string of at most 4096
//     bytes without a NUL; anything else is errdefs.ErrInvalidParameter.
//   - The parent is always a committed snapshot, or "" for none. Info.Parent
//     is its name.
//   - Mounts are data: the caller mounts them (mount.All, or
//     mount.WithTempMount for a moment) and unmounts them before Commit or
//     Remove. An active snapshot's mounts are writable, a view's are
//     read-only (writes fail with EROFS). A committed snapshot has no
//     mounts of its own (errdefs.ErrInvalidParameter): View it.
//   - Only an active snapshot can be committed; committing a view or a
//     committed snapshot is errdefs.ErrInvalidParameter, and a refused
//     Commit changes nothing. The committed snapshot's labels are the ones
//     given to Commit; the active snapshot's are not carried over.
//   - Nothing may write to an active snapshot while it is being committed.
//     A committed snapshot never changes again (but for its labels).
//   - Implementations may be shared: any number of Snapshotters, in any
//     number of processes, may work on one store at once, and each sees
//     the others' changes as soon as they return.
//
// For example, unpacking a two-layer image and starting a container on
// it:
//
//	m, _ := sn.Prepare(ctx, "extract-1", "")           // empty root
//	// apply layer 1 through m (or into UpperDir(m), unmounted)
//	sn.Commit(ctx, "sha256:chain1", "extract-1")
//	m, _ = sn.Prepare(ctx, "extract-2", "sha256:chain1")
//	// apply layer 2
//	sn.Commit(ctx, "sha256:chain2", "extract-2")
//	m, _ = sn.Prepare(ctx, "container-abc", "sha256:chain2")
//	mount.All(m, bundle+"/rootfs")                      // run it
//	// ... after the container exits and rootfs is unmounted:
//	sn.Remove(ctx, "container-abc")
//	sn.Remove(ctx, "sha256:chain1")                     // ErrConflict: chain2 is its child
type Snapshotter interface {
	// Stat returns the snapshot named key, of any kind.
	Stat(ctx context.Context, key string) (Info, error)
	// Update replaces labels named by fieldpaths ("labels",
	// "labels.<key>"); with none, all labels. "labels.<key>" sets that
	// label from info.Labels, or deletes it when info.Labels lacks it.
	// Any other field is errdefs.ErrInvalidParameter. It returns the
	// updated Info, with a new Updated time.
	Update(ctx context.Context, info Info, fieldpaths ...string) (Info, error)
	// Usage of an active snapshot is computed now; of a committed one,
	// recorded at commit; a view has none of its own. It counts the disk
	// the snapshot takes by itself: for a layering snapshotter its layer,
	// for a copying one its whole copy.
	Usage(ctx context.Context, key string) (Usage, error)
	// Mounts returns an active snapshot's or a view's mounts again, as
	// Prepare or View did.
	Mounts(ctx context.Context, key string) ([]mount.Mount, error)
	Prepare(ctx context.Context, key, parent string, opts ...Opt) ([]mount.Mount, error)
	View(ctx context.Context, key, parent string, opts ...Opt) ([]mount.Mount, error)
	Commit(ctx context.Context, name, key string, opts ...Opt) error
	Remove(ctx context.Context, key string) error
	// Walk calls fn for every snapshot and stops at fn's first error,
	// which it returns. fn may call the Snapshotter, even to remove the
	// snapshot it was given.
	Walk(ctx context.Context, fn WalkFunc) error
	// Close releases the Snapshotter; later calls fail
	// (errdefs.ErrUnavailable). A second Close does nothing.
	Close() error
}
