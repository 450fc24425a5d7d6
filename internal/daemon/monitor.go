package daemon

import (
	"context"
	"fmt"
	"time"

	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/container"
)

// Docker's restart back-off: the first restart waits 100 ms, each next one
// twice as long, at most a minute; a run of 10 s or more resets it.
const (
	restartDelayMin   = 100 * time.Millisecond
	restartDelayMax   = time.Minute
	restartResetAfter = 10 * time.Second
	// cleanupTimeout bounds the shim and mount cleanup after an exit.
	cleanupTimeout = 30 * time.Second
	// poolRefillDelay is how long after its client got its answer the
	// shim pool refills (refillPoolSoon); poolRefillFallback bounds the
	// wait for that answer (a `run --rm` that runs for long).
	poolRefillDelay    = 12 * time.Millisecond
	poolRefillFallback = 250 * time.Millisecond
	// attachDrainTimeout bounds the wait for attached clients to read the
	// last output after an exit; the shim ends their streams itself.
	attachDrainTimeout = 2 * time.Second
)

// monitor waits for the init of start number gen to exit and handles the
// exit. When the daemon closes it drops the shim's connection, the wait
// fails, and the monitor leaves everything as it is for the next daemon.
func (d *Daemon) monitor(c *container.Container, r *run, task container.Task, gen uint64) {
	defer d.bg.Done()
	st, err := task.Wait(context.Background())
	errMsg := ""
	if err != nil {
		if d.isClosing() {
			return
		}
		// The shim went away without telling: its exit file may still
		// say how the container ended.
		if ex, ok, rerr := d.tasks.ReadExit(d.shimDir(c.ID)); rerr == nil && ok {
			st = ex
		} else {
			st = container.ExitStatus{Code: 255, ExitedAt: time.Now().UTC()}
			errMsg = fmt.Sprintf("the container's shim went away and its exit status is unknown: %v", err)
		}
	}
	d.handleExit(c, r, gen, st, errMsg)
}

func (d *Daemon) isClosing() bool { return d.closing.Load() }

// handleExit records the end of start number gen: it deletes the shim and
// unmounts the rootfs, then either schedules a restart (restart policy)
// or marks the container exited; it answers waiters, publishes oom and
// die, and removes an auto-remove container.
func (d *Daemon) handleExit(c *container.Container, r *run, gen uint64, st container.ExitStatus, errMsg string) {
	c.Lock()
	if r.gen != gen || r.task == nil {
		c.Unlock()
		return
	}
	task := r.task
	r.task = nil
	r.stopHealthMonitor()
	cleanup := func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, cleanupTimeout)
		defer cancel()
		t0 := time.Now()
		if err := task.Delete(ctx); err != nil {
			d.log.Warn("delete the container's task", "container", c.ID, "err", err)
		}
		t1 := time.Now()
		r.streams.wait(attachDrainTimeout)
		d.awaitExecs(c.ID, attachDrainTimeout)
		_ = task.Close()
		d.cleanupRun(ctx, c.ID, nil)
		d.retireExecs(c.ID)
		d.log.Debug("container exited", "container", c.ID, "code", st.Code, "delete", t1.Sub(t0), "cleanup", time.Since(t1))
	}
	// An auto-remove container whose removal is answered before its
	// storage is freed (releaseInBackground) leaves this cleanup to that
	// removal too: `run --rm` then has its answer a shim round trip and
	// an unmount sooner. Nothing can start it again meanwhile.
	if releaseInBackground(c) && !r.keepOnExit && !d.isClosing() {
		r.exitCleanup = cleanup
		c.Unlock()
	} else {
		c.Unlock()
		cleanup(context.Background())
	}

	d.recordExit(c, r, st, errMsg)
}

// runExitCleanup runs the exit cleanup handleExit left to the removal.
func (d *Daemon) runExitCleanup(ctx context.Context, c *container.Container, r *run) {
	c.Lock()
	cleanup := r.exitCleanup
	r.exitCleanup = nil
	c.Unlock()
	if cleanup != nil {
		cleanup(ctx)
	}
}

// recordExit records an exit whose shim is already gone: restart policy
// (a back-off, then start again) or exited; events oom and die; waiters;
// auto-remove.
func (d *Daemon) recordExit(c *container.Container, r *run, st container.ExitStatus, errMsg string) {
	if st.ExitedAt.IsZero() {
		st.ExitedAt = time.Now().UTC()
	}
	if st.Lost && errMsg == "" {
		errMsg = "the container's shim died before the container: its exit status is not the container's own"
	}
	c.Lock()
	restart, delay := d.shouldRestart(c, r, st)
	if st.OOMKilled {
		d.emit(c, "oom", nil)
	}
	d.emit(c, "die", map[string]string{"exitCode": fmt.Sprint(st.Code)})
	var cancelRestart chan struct{}
	if restart {
		_ = c.State.SetRestarting(st.Code, st.OOMKilled, st.ExitedAt)
		c.RestartCount++
		cancelRestart = make(chan struct{})
		r.restartCancel = cancelRestart
	} else if err := c.State.SetExited(st.Code, st.OOMKilled, st.ExitedAt, errMsg); err != nil {
		d.log.Error("exit: state", "container", c.ID, "err", err)
	}
	// A container being removed is not saved: the removal records it
	// (one flush less per rm -f). Nor is one about to be auto-removed
	// durably: after a crash, restore settles it and removes it anyway;
	// one whose removal is answered before its storage is freed not at
	// all, since that removal records it at once (state removing).
	autoRemove := !restart && c.IsAutoRemove() && !r.keepOnExit && !d.isClosing()
	// An auto-removal of its own accord (not an rm -f's) may have a
	// container like it prepared (next.go).
	r.prepareNextAtRemoval = autoRemove && !r.removing && r.nextReq != nil
	switch {
	case r.removing, autoRemove && releaseInBackground(c):
	case autoRemove:
		if err := d.containers.Checkpoint(c); err != nil {
			d.log.Error("exit: save record", "container", c.ID, "err", err)
		}
	default:
		if err := d.containers.Save(c); err != nil {
			d.log.Error("exit: save record", "container", c.ID, "err", err)
		}
	}
	r.notifyExit(st.Code, errMsg)
	select {
	case <-r.exited:
	default:
		close(r.exited)
	}
	c.Unlock()

	if !autoRemove {
		// The daemon began closing since handleExit left the cleanup to
		// the removal, which will not come now.
		d.runExitCleanup(context.Background(), c, r)
	}
	if restart {
		d.bg.Add(1)
		go d.restartAfter(c, r, delay, cancelRestart)
	}
	if autoRemove {
		d.bg.Add(1)
		go func() {
			defer d.bg.Done()
			if err := d.remove(context.Background(), c, r, true); err != nil {
				d.log.Warn("auto-remove", "container", c.ID, "err", err)
			}
		}()
	}
}

// shouldRestart applies the restart policy to an exit, docker's way, and
// returns the back-off. The caller holds c's lock.
func (d *Daemon) shouldRestart(c *container.Container, r *run, st container.ExitStatus) (bool, time.Duration) {
	if r.stopping || r.removed || d.isClosing() || c.State.Status == container.Removing {
		return false, 0
	}
	p := c.HostConfig.RestartPolicy
	restart := false
	switch p.Name {
	case containertypes.RestartPolicyAlways:
		restart = true
	case containertypes.RestartPolicyUnlessStopped:
		restart = !c.ManuallyStopped
	case containertypes.RestartPolicyOnFailure:
		restart = st.Code != 0 && (p.MaximumRetryCount == 0 || c.RestartCount < p.MaximumRetryCount)
	}
	if !restart {
		return false, 0
	}
	delay := time.Duration(r.restartDelay)
	switch {
	case st.ExitedAt.Sub(c.State.StartedAt) >= restartResetAfter || delay == 0:
		delay = restartDelayMin
	default:
		delay = min(delay*2, restartDelayMax)
	}
	r.restartDelay = int64(delay)
	return true, delay
}

// restartAfter starts the container again after the back-off, unless a
// stop, a removal or the daemon's shutdown cancels it.
func (d *Daemon) restartAfter(c *container.Container, r *run, delay time.Duration, cancel chan struct{}) {
	defer d.bg.Done()
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-cancel:
		return
	case <-d.shutdown:
		return
	}
	r.op.Lock()
	defer r.op.Unlock()
	c.Lock()
	current := r.restartCancel == cancel && c.State.Status == container.Restarting
	if current {
		r.restartCancel = nil
	}
	c.Unlock()
	if !current {
		return
	}
	if err := d.start(context.Background(), c, r); err != nil {
		d.log.Warn("restart policy: start failed", "container", c.ID, "err", err)
	}
}

// cancelRestart stops a pending restart and leaves the container exited.
// The caller holds c's lock (and r.op).
func (r *run) cancelRestart() {
	if r.restartCancel != nil {
		close(r.restartCancel)
		r.restartCancel = nil
	}
}
