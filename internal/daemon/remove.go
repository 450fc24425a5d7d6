package daemon

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/errdefs"
)

// ContainerRemove is DELETE /containers/{id}. A running (or paused, or
// restarting) container is refused unless forced; forced, it is killed
// first. Removal frees everything the container owned: its snapshot, its
// bundle, its shim's directory and its own directory (record, files,
// logs). A removal that fails half way leaves the container dead, and a
// second rm finishes it.
func (d *Daemon) ContainerRemove(ctx context.Context, name string, opts server.RemoveOptions) error {
	c, r, err := d.get(name)
	if err != nil {
		return err
	}
	if opts.RemoveLink {
		return errdefs.Errorf(errdefs.ErrNotImplemented, "links are not supported")
	}
	return d.removeContainer(context.WithoutCancel(ctx), c, r, opts.Force, opts.RemoveVolumes)
}

// remove removes c for the daemon itself (auto-remove, prune, restore):
// an auto-remove container's anonymous volumes go with it, as with
// docker run --rm.
func (d *Daemon) remove(ctx context.Context, c *container.Container, r *run, force bool) error {
	c.Lock()
	removeVolumes := c.IsAutoRemove()
	c.Unlock()
	return d.removeContainer(ctx, c, r, force, removeVolumes)
}

// removeContainer removes c; removeVolumes (rm -v) also removes the
// anonymous volumes it used that no other container uses.
func (d *Daemon) removeContainer(ctx context.Context, c *container.Container, r *run, force, removeVolumes bool) (retErr error) {
	defer func() {
		if retErr != nil {
			c.Lock()
			r.removing = false
			c.Unlock()
		}
	}()
	c.Lock()
	status := c.State.Status
	if status == container.Removing {
		c.Unlock()
		return errdefs.Errorf(errdefs.ErrConflict, "removal of container %s is already in progress", container.ShortID(c.ID))
	}
	if c.State.IsRunning() && !force {
		state := "running"
		switch status {
		case container.Paused:
			state = "paused"
		case container.Restarting:
			state = "restarting"
		}
		c.Unlock()
		return errdefs.Errorf(errdefs.ErrConflict,
			"cannot remove container %q: container is %s: stop the container before removing or force remove", c.Name, state)
	}
	if c.State.HasProcess() && r.task != nil {
		// Kill without the operation lock, so a stop waiting for its
		// timeout does not delay a forced removal.
		if err := d.killForRemoval(ctx, c, r); err != nil {
			return err
		}
		c.Lock()
	}
	c.Unlock()

	r.op.Lock()
	defer r.op.Unlock()
	c.Lock()
	if r.removed {
		c.Unlock()
		return nil
	}
	r.cancelRestart()
	if c.State.HasProcess() && force && r.task != nil {
		// A start that held the operation lock (one begun just before
		// this rm -f) ran the container meanwhile; a forced removal
		// still wins, as docker's does. With the lock held, nothing
		// starts it again.
		if err := d.killForRemoval(ctx, c, r); err != nil {
			return err
		}
		c.Lock()
	}
	if c.State.HasProcess() {
		c.Unlock()
		return errdefs.Errorf(errdefs.ErrConflict, "cannot remove container %q: it was started again during the removal", c.Name)
	}
	if err := c.State.SetRemoving(); err != nil {
		c.Unlock()
		return err
	}
	if err := d.containers.Checkpoint(c); err != nil {
		// A full disk must not block a removal, which frees space: the
		// in-memory state says removing, and a crash now leaves the old
		// record, which a second rm handles (as it does should the
		// checkpoint not reach the disk).
		d.log.Warn("remove: save record", "container", c.ID, "err", err)
	}
	background := releaseInBackground(c) && !d.isClosing()
	c.Unlock()

	if background {
		d.containers.Forget(c.ID)
		c.Lock()
		d.forget(c, r)
		c.Unlock()
		d.bg.Add(1)
		d.storageReleases.add()
		go func() {
			defer d.bg.Done()
			defer d.storageReleases.done()
			if err := d.release(context.WithoutCancel(ctx), c, r, removeVolumes); err != nil {
				// The record (state removing) or the snapshot stays:
				// the next start finishes the removal or collects the
				// orphan snapshot.
				d.log.Warn("auto-remove: release storage", "container", c.ID, "err", err)
			}
		}()
		return nil
	}

	t0 := time.Now()
	err := d.release(ctx, c, r, removeVolumes)
	d.log.Debug("container released", "container", c.ID, "took", time.Since(t0))
	c.Lock()
	defer c.Unlock()
	if err != nil {
		_ = c.State.SetDead(err.Error())
		_ = d.containers.Save(c)
		return fmt.Errorf("unable to remove container %s: %w", container.ShortID(c.ID), err)
	}
	d.forget(c, r)
	return nil
}

// forget ends c's life in memory: its attaches, its run, its network
// bookkeeping; waiters on "removed" and the destroy event. The caller
// holds c's lock.
func (d *Daemon) forget(c *container.Container, r *run) {
	r.removed = true
	for _, p := range r.attaches {
		p.abort()
	}
	r.attaches = nil
	d.mu.Lock()
	delete(d.runs, c.ID)
	d.mu.Unlock()
	d.nets.forget(c.ID)
	// As docker: a removal that worked clears the error it reports.
	r.notifyRemoved(c.State.ExitCode, "")
	d.emit(c, "destroy", nil)
	if c.IsAutoRemove() {
		if r.prepareNextAtRemoval {
			d.prepareNext(*r.nextReq)
		}
		d.refillPoolSoon()
	}
}

// refillPoolSoon refills the shim pool once the client whose container
// took a pooled shim has its answer. A shim, its warm runtime and their
// spare init cost some milliseconds of CPU: on a small host they would
// otherwise slow that container's start and exit, all on the client's
// path. A fixed delay after the start (20 ms, before) landed, for
// `docker run --rm` one after the other, in the middle of the next
// run's create and start.
func (d *Daemon) refillPoolSoon() {
	if rf, ok := d.tasks.(interface{ Refill() }); ok {
		time.AfterFunc(poolRefillDelay, rf.Refill)
	}
}

// releaseInBackground says whether c's storage (snapshot, record
// directory) may be freed after the removal is answered: an auto-remove
// container with no volumes, whose `run --rm` client waits for the
// removal. Removing a layer costs 3-20 ms of fsyncs here, all of it on
// the client's path otherwise. Nothing observable depends on it: the
// container is gone from every list and its name is free at once;
// image deletion and prune wait for pending releases (SettleRemovals);
// a crash in between leaves a record in state removing, which the next
// start removes, or a snapshot without record, which it collects.
// Containers with volumes release synchronously, so that a volume is
// free (or, anonymous, gone) when the removal returns. The caller holds
// c's lock.
func releaseInBackground(c *container.Container) bool {
	return c.IsAutoRemove() && len(c.MountPoints) == 0
}

// SettleRemovals waits until the storage of removed containers is freed
// (see releaseInBackground) and removes the spare container snapshots
// (spares.go), so that image deletion, prune and disk usage see no
// snapshot of a container that is gone or not made yet.
func (d *Daemon) SettleRemovals() {
	d.dropNextContainer(false)
	d.storageReleases.wait()
	d.dropSpares(context.Background(), false)
}

// release frees what c owns, in the order that keeps a crash recoverable:
// runtime leftovers, the snapshot, the record and its directory, then
// its references to volumes (and, with removeVolumes, its anonymous
// volumes): a crash before that leaves them to the next start, which
// references only what records use.
func (d *Daemon) release(ctx context.Context, c *container.Container, r *run, removeVolumes bool) error {
	d.parkRootfs(c, r)
	d.runExitCleanup(ctx, c, r)
	d.dropPrestart(ctx, c, r)
	c.Lock()
	stray := r.task == nil
	c.Unlock()
	if stray {
		// A shim restore could not reach (or one a start left as the
		// daemon died): end it before its directory goes.
		d.endStrayShim(ctx, c.ID)
	}
	d.cleanupRun(ctx, c.ID, nil)
	d.forgetExecs(c.ID)
	if d.nets != nil {
		// Its id never starts again: nothing joins its namespace now.
		d.nets.joined.Delete(c.ID)
	}
	c.Lock()
	key := c.SnapshotKey
	mountPoints := c.MountPoints
	c.Unlock()
	var errs []error
	t0 := time.Now()
	if key != "" && !d.recycleSnapshot(c, r, key) {
		if err := d.snapshots.Remove(ctx, key); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove the container's filesystem: %w", err))
		}
	}
	t1 := time.Now()
	if len(errs) == 0 {
		if err := d.containers.Delete(c.ID); err != nil {
			errs = append(errs, err)
		}
	}
	d.log.Debug("container storage freed", "container", c.ID, "snapshot", t1.Sub(t0), "record", time.Since(t1))
	if len(errs) == 0 {
		d.releaseMountPoints(ctx, c.ID, mountPoints, removeVolumes)
	}
	return errors.Join(errs...)
}

// killForRemoval SIGKILLs c's init for a forced removal and waits for its
// exit to be recorded. The caller holds c's lock, which is released.
func (d *Daemon) killForRemoval(ctx context.Context, c *container.Container, r *run) error {
	r.stopping = true
	r.removing = true
	task, exited, paused := r.task, r.exited, c.State.Status == container.Paused
	c.Unlock()
	if err := d.signal(ctx, c, task, syscall.SIGKILL, paused); err != nil {
		return err
	}
	if err := waitExited(ctx, exited); err != nil {
		return fmt.Errorf("cannot remove container %q: %w", c.Name, err)
	}
	return nil
}
