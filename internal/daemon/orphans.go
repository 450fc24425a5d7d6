package daemon

import (
	"context"
	"errors"
	"io/fs"
	"os"

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

// removeOrphanShims ends the shims whose state directory no container
// record names, with their containers: a start in flight when the
// daemon died, for a container whose removal or creation then did not
// reach the disk. Nothing would ever connect to them again.
func (d *Daemon) removeOrphanShims(ctx context.Context) {
	entries, err := os.ReadDir(d.shimsDir())
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			d.log.Warn("look for orphaned shims", "err", err)
		}
		return
	}
	for _, e := range entries {
		id := e.Name()
		if !e.IsDir() {
			continue
		}
		if _, err := d.containers.Get(id); err == nil {
			continue
		}
		d.log.Info("ending a shim no container record names", "container", id)
		d.endStrayShim(ctx, id)
		d.cleanupRun(ctx, id, nil)
	}
}

// endStrayShim deletes the container of a shim the daemon holds no task
// for, and so ends the shim; a shim that is gone has its container
// settled by Connect (the runtime's leftovers deleted). Without this, a
// removal's cleanup would take the shim's directory from under it and
// leave it running for good.
func (d *Daemon) endStrayShim(ctx context.Context, id string) {
	dir := d.shimDir(id)
	if _, err := os.Stat(dir); err != nil {
		return
	}
	task, err := d.tasks.Connect(ctx, dir)
	if err != nil {
		if !errdefs.IsNotFound(err) {
			d.log.Warn("connect to a stray shim", "container", id, "err", err)
		}
		return
	}
	defer task.Close()
	if err := task.Delete(ctx); err != nil {
		d.log.Warn("delete a stray shim's container", "container", id, "err", err)
	}
}
