package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-project/berth/internal/container"
)

// An auto-remove container (`docker run --rm`) is started right after its
// create, once the client has attached: its layer is mounted in that gap,
// in the background, rather than on the start's path (an overlay mount
// costs 1-2 ms here). The mount is the one start would make, at the same
// place; start takes it, and whatever ends the container's chance to
// start (its removal, a filesystem operation that mounts the layer
// itself) waits for the mount and takes it down first.

// premount mounts c's layer in the background; the caller holds c's
// lock and has just created it.
func (d *Daemon) premount(c *container.Container, r *run) {
	done := make(chan error, 1)
	r.premounted = done
	id, key := c.ID, c.SnapshotKey
	d.bg.Add(1)
	go func() {
		defer d.bg.Done()
		err := d.mountRootfs(context.Background(), key, d.rootfsDir(id), true)
		if err != nil {
			// The start mounts the layer itself, and reports.
			d.log.Debug("premount", "container", id, "err", err)
		}
		done <- err
	}()
}

// takePremount waits for c's background mount, if it has one, and says
// whether it succeeded; either way the mount is the caller's from then
// on. The caller does not hold c's lock.
func (d *Daemon) takePremount(c *container.Container, r *run) bool {
	c.Lock()
	done := r.premounted
	r.premounted = nil
	c.Unlock()
	if done == nil {
		return false
	}
	return <-done == nil
}

// dropPremount takes c's background mount down, for an operation that
// needs the layer unmounted (a stopped container's filesystem view) or
// its removal.
func (d *Daemon) dropPremount(ctx context.Context, c *container.Container, r *run) {
	if !d.takePremount(c, r) {
		return
	}
	d.cleanupRun(ctx, c.ID, nil)
	c.Lock()
	key := c.SnapshotKey
	c.Unlock()
	d.clearVolatileMark(ctx, key)
}

// clearVolatileMark lets a layer that was mounted volatile be mounted
// again: overlayfs leaves work/incompat/volatile in the workdir and
// refuses the next mount while it is there, since after a crash the upper
// may be incomplete. The layer was unmounted cleanly just now, which is
// the case the kernel's documentation says the mark may be removed in.
func (d *Daemon) clearVolatileMark(ctx context.Context, key string) {
	mounts, err := d.snapshots.Mounts(ctx, key)
	if err != nil {
		return
	}
	for _, m := range mounts {
		for _, o := range m.Options {
			if work, ok := strings.CutPrefix(o, "workdir="); ok {
				if err := os.RemoveAll(filepath.Join(work, "work", "incompat", "volatile")); err != nil {
					d.log.Warn("clear the volatile mark of a layer", "snapshot", key, "err", err)
				}
			}
		}
	}
}
