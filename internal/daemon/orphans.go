package daemon

import (
	"context"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/snapshot"
)

// containerLabel marks a container's writable snapshot with its id
// (create.go sets it).
const containerLabel = "berth.container"

// removeOrphanSnapshots removes the writable snapshots of containers that
// have no record: a crash between a create's snapshot and its record, or
// an auto-remove container whose unflushed record a crash lost.
func (d *Daemon) removeOrphanSnapshots(ctx context.Context) {
	var orphans []string
	err := d.snapshots.Walk(ctx, func(_ context.Context, info snapshot.Info) error {
		id, ok := info.Labels[containerLabel]
		if !ok || info.Kind != snapshot.KindActive {
			return nil
		}
		if _, err := d.containers.Get(id); errdefs.IsNotFound(err) {
			orphans = append(orphans, info.Name)
		}
		return nil
	})
	if err != nil {
		d.log.Warn("look for orphaned container snapshots", "err", err)
		return
	}
	for _, key := range orphans {
		d.log.Warn("removing the snapshot of a container that has no record", "snapshot", key)
		if err := d.snapshots.Remove(ctx, key); err != nil && !errdefs.IsNotFound(err) {
			d.log.Warn("remove orphaned snapshot", "snapshot", key, "err", err)
		}
	}
}
