package daemon

import (
	"context"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/snapshot"
)

// containerLabel marks a container's writable snapshot with its id
// (create.go sets it); spares (spares.go) carry spareLabel until a
// container takes one.
const containerLabel = "berth.container"

// removeOrphanSnapshots removes the writable snapshots no container record
// names: a crash between a create's snapshot and its record, an
// auto-remove container whose unflushed record a crash lost, spares the
// last daemon left.
func (d *Daemon) removeOrphanSnapshots(ctx context.Context) {
	used := map[string]bool{}
	for _, c := range d.containers.List() {
		c.Lock()
		used[c.SnapshotKey] = true
		c.Unlock()
	}
	var orphans []string
	err := d.snapshots.Walk(ctx, func(_ context.Context, info snapshot.Info) error {
		_, isContainer := info.Labels[containerLabel]
		_, isSpare := info.Labels[spareLabel]
		if (isContainer || isSpare) && info.Kind == snapshot.KindActive && !used[info.Name] {
			orphans = append(orphans, info.Name)
		}
		return nil
	})
	if err != nil {
		d.log.Warn("look for orphaned container snapshots", "err", err)
		return
	}
	for _, key := range orphans {
		d.log.Info("removing a container snapshot no record names", "snapshot", key)
		if err := d.snapshots.Remove(ctx, key); err != nil && !errdefs.IsNotFound(err) {
			d.log.Warn("remove orphaned snapshot", "snapshot", key, "err", err)
		}
	}
}
