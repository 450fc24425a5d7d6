package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"syscall"
	"time"

	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/errdefs"
)

// A shim that is alive but does not answer at restore is asked again this
// many times, this far apart.
const (
	restoreConnectTries = 3
	restoreConnectPause = time.Second
	// restoreWorkers bound the containers restored at once.
	restoreWorkers = 16
)

// restore rebuilds the daemon's view of every container at start (live
// restore). For each container whose shim directory exists it reconnects
// to the shim: a container still running (or paused) is tracked again as
// if the daemon had never left; one that ended meanwhile gets its real
// exit status, from the shim or from the exit file a dead shim left. A
// container recorded as running whose shim left nothing (a reboot
// emptied the exec root) is exited with code 255 and says why: none is
// left half-known. Then the restart policies apply: always and
// unless-stopped containers that ran before (and were not stopped by a
// user) start again. Removals a crash interrupted are finished.
func (d *Daemon) restore(ctx context.Context) error {
	// First, while the incomplete records still hold their shim
	// directories: a shim of one is an orphan too.
	d.removeOrphanShims(ctx)
	for _, id := range d.containers.Incomplete() {
		d.log.Warn("removing a container whose creation did not finish", "container", id)
		d.cleanupRun(ctx, id, nil)
		if err := d.snapshots.Remove(ctx, id); err != nil && !errdefs.IsNotFound(err) {
			d.log.Warn("remove snapshot", "container", id, "err", err)
		}
		if err := d.containers.RemoveIncomplete(id); err != nil {
			d.log.Warn("remove incomplete container", "container", id, "err", err)
		}
	}
	d.removeParked()
	d.removeOrphanSnapshots(ctx)
	d.restoreVolumes(ctx)
	list := d.containers.List()
	for _, c := range list {
		d.mu.Lock()
		d.runs[c.ID] = newRun(c)
		d.mu.Unlock()
	}
	// Containers are restored in parallel: each costs a few round trips
	// to its shim, and a host may run a thousand.
	var (
		mu      sync.Mutex
		toStart []*container.Container
		wg      sync.WaitGroup
		work    = make(chan *container.Container)
	)
	for range min(restoreWorkers, max(len(list), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				if d.restoreContainer(ctx, c) {
					mu.Lock()
					toStart = append(toStart, c)
					mu.Unlock()
				}
			}
		}()
	}
	for _, c := range list {
		work <- c
	}
	close(work)
	wg.Wait()
	d.reconcileNetwork(ctx)
	for _, c := range toStart {
		d.mu.Lock()
		r := d.runs[c.ID]
		d.mu.Unlock()
		d.bg.Add(1)
		go func() {
			defer d.bg.Done()
			r.op.Lock()
			defer r.op.Unlock()
			c.Lock()
			ok := !c.State.IsRunning()
			c.Unlock()
			if !ok {
				return
			}
			d.log.Info("starting a container by its restart policy", "container", c.ID)
			if err := d.start(context.Background(), c, r); err != nil {
				d.log.Warn("restart policy at start", "container", c.ID, "err", err)
			}
		}()
	}
	return nil
}

// restoreContainer restores one container, finishing an interrupted or
// due removal; it reports whether the restart policy starts it now.
func (d *Daemon) restoreContainer(ctx context.Context, c *container.Container) bool {
	d.mu.Lock()
	r := d.runs[c.ID]
	d.mu.Unlock()
	c.Lock()
	status := c.State.Status
	if status == container.Removing {
		// No removal runs in this daemon yet: the record is what a crash
		// left mid-removal. As removing, every removal (this one, and any
		// rm) would be refused as already in progress, forever.
		_ = c.State.SetDead("removal interrupted by a daemon restart")
	}
	c.Unlock()
	if status == container.Removing || status == container.Dead {
		d.log.Info("finishing an interrupted removal", "container", c.ID)
		if err := d.remove(ctx, c, r, true); err != nil {
			d.log.Warn("finish removal", "container", c.ID, "err", err)
		}
		return false
	}
	d.restoreOne(ctx, c, r)
	c.Lock()
	removeNow := c.State.Status == container.Exited && c.IsAutoRemove()
	startNow := d.startAtBoot(c, r)
	r.restartPending = false
	c.Unlock()
	if removeNow {
		if err := d.remove(ctx, c, r, true); err != nil {
			d.log.Warn("auto-remove at start", "container", c.ID, "err", err)
		}
		return false
	}
	return startNow
}

// restoreOne reconnects to c's shim, or records how c ended.
func (d *Daemon) restoreOne(ctx context.Context, c *container.Container, r *run) {
	stateDir := d.shimDir(c.ID)
	c.Lock()
	wasRunning := c.State.IsRunning()
	c.Unlock()
	if _, err := os.Stat(stateDir); errors.Is(err, fs.ErrNotExist) {
		c.Lock()
		restarting := c.State.Status == container.Restarting
		if restarting {
			// The daemon died during a restart back-off: nothing ran,
			// the last exit stands, and the policy starts it again.
			_ = c.State.SetExited(c.State.ExitCode, c.State.OOMKilled, c.State.FinishedAt, "")
			r.restartPending = true
			if err := d.containers.Save(c); err != nil {
				d.log.Warn("restore: save record", "container", c.ID, "err", err)
			}
		}
		c.Unlock()
		if wasRunning && !restarting {
			d.log.Warn("container was running but its shim left no state (was the host rebooted?)", "container", c.ID)
			d.lostExit(c, r, "the container's shim left no state: it is gone, and its exit status with it")
		}
		d.cleanupRun(ctx, c.ID, nil)
		return
	}
	task, err := d.tasks.Connect(ctx, stateDir)
	for try := 1; err != nil && !errdefs.IsNotFound(err) && try < restoreConnectTries; try++ {
		// A shim that is alive but does not answer (a loaded host):
		// give it a moment before judging.
		d.log.Warn("container's shim does not answer; retrying", "container", c.ID, "err", err)
		time.Sleep(restoreConnectPause)
		task, err = d.tasks.Connect(ctx, stateDir)
	}
	if err != nil {
		st, ok, rerr := d.tasks.ReadExit(stateDir)
		switch {
		case rerr == nil && ok:
			d.cleanupRun(ctx, c.ID, nil)
			d.log.Info("container exited while the daemon was away", "container", c.ID, "exitCode", st.Code)
			d.markRunning(c, r)
			d.recordExit(c, r, st, "")
		case errdefs.IsNotFound(err):
			d.cleanupRun(ctx, c.ID, nil)
			if wasRunning {
				d.log.Warn("container's shim is gone without an exit status", "container", c.ID, "err", err)
				d.lostExit(c, r, "the container's shim died and left no exit status")
			}
		default:
			// The shim lives but cannot be reached: the container may run
			// on, so its mounts stay; the record says what is known.
			d.log.Error("container's shim is alive but unreachable", "container", c.ID, "err", err)
			if wasRunning {
				d.lostExit(c, r, fmt.Sprintf("the container's shim does not answer (%v): its state is unknown; remove the container with force", err))
			}
		}
		return
	}
	ts, err := task.State(ctx)
	if err != nil {
		d.log.Warn("container's shim answers but not its state; treating it as exited", "container", c.ID, "err", err)
		ts = container.TaskState{Status: "stopped", Exit: &container.ExitStatus{Code: 255, ExitedAt: time.Now().UTC()}}
	}
	switch ts.Status {
	case "running", "paused":
		c.Lock()
		r.task = task
		r.gen++
		gen := r.gen
		r.exited = make(chan struct{})
		d.adoptState(c, ts)
		if err := d.containers.Checkpoint(c); err != nil {
			d.log.Warn("restore: save record", "container", c.ID, "err", err)
		}
		if c.State.Status == container.Running {
			d.startHealthMonitor(c, r)
		}
		c.Unlock()
		d.log.Info("container restored", "container", c.ID, "pid", ts.Pid, "status", ts.Status)
		d.bg.Add(1)
		go d.monitor(c, r, task, gen)
		if !d.cfg.LiveRestore {
			// Without live restore a container does not outlive its
			// daemon: this one did (the daemon crashed), so it ends now,
			// and its restart policy decides what follows.
			d.log.Info("live restore is off: killing a container left running", "container", c.ID)
			if err := task.Kill(ctx, syscall.SIGKILL, true); err != nil {
				d.log.Warn("kill", "container", c.ID, "err", err)
			}
		}
	case "created":
		// A start interrupted between the runtime's create and start.
		_ = task.Delete(ctx)
		_ = task.Close()
		d.cleanupRun(ctx, c.ID, nil)
	default:
		st := container.ExitStatus{Code: 255, ExitedAt: time.Now().UTC()}
		if ts.Exit != nil {
			st = *ts.Exit
		} else if ws, err := task.Wait(ctx); err == nil {
			st = ws
		}
		c.Lock()
		seen := c.State.Status == container.Exited && c.State.FinishedAt.Equal(st.ExitedAt)
		c.Unlock()
		if seen {
			// The previous daemon recorded this exit (an auto-remove
			// container's, whose cleanup waits for its removal) and died
			// before the cleanup: recording it again would fail and
			// publish a second die.
			if err := task.Delete(ctx); err != nil {
				d.log.Warn("delete the container's task", "container", c.ID, "err", err)
			}
			_ = task.Close()
			d.cleanupRun(ctx, c.ID, nil)
			return
		}
		c.Lock()
		r.task = task
		r.gen++
		gen := r.gen
		r.exited = make(chan struct{})
		c.Unlock()
		d.markRunning(c, r)
		d.handleExit(c, r, gen, st, "")
	}
}

// adoptState makes the record agree with the shim. The caller holds c's
// lock.
func (d *Daemon) adoptState(c *container.Container, ts container.TaskState) {
	if c.State.Status == container.Restarting || c.State.Status == container.Created || c.State.Status == container.Exited {
		_ = c.State.SetRunning(ts.Pid, time.Now().UTC())
		c.HasBeenStarted = true
	}
	c.State.Pid = ts.Pid
	switch {
	case ts.Status == "paused" && c.State.Status == container.Running:
		_ = c.State.SetPaused()
	case ts.Status == "running" && c.State.Status == container.Paused:
		_ = c.State.SetUnpaused()
	}
}

// markRunning moves a record that never learnt of its start (a crash
// right after it) to running, so the exit that follows is recorded as an
// exit.
func (d *Daemon) markRunning(c *container.Container, r *run) {
	c.Lock()
	defer c.Unlock()
	if c.State.Status == container.Created {
		_ = c.State.SetRunning(0, time.Now().UTC())
		c.HasBeenStarted = true
	}
	if c.State.Status == container.Exited {
		// Already recorded (a previous daemon saw the exit).
		return
	}
	_ = r
}

// lostExit records an exit nobody saw: code 255 and the reason.
func (d *Daemon) lostExit(c *container.Container, r *run, msg string) {
	c.Lock()
	if c.State.Status == container.Paused {
		_ = c.State.SetUnpaused()
	}
	c.Unlock()
	d.recordExit(c, r, container.ExitStatus{Code: 255, ExitedAt: time.Now().UTC()}, msg)
}

// startAtBoot: the restart policy says the daemon starts this container
// now: always and unless-stopped containers that ran and were not stopped
// by a user, and any container whose restart was pending when the daemon
// died. The caller holds c's lock.
func (d *Daemon) startAtBoot(c *container.Container, r *run) bool {
	if c.State.IsRunning() || !c.HasBeenStarted || c.ManuallyStopped {
		return false
	}
	if r.restartPending {
		return true
	}
	switch c.HostConfig.RestartPolicy.Name {
	case containertypes.RestartPolicyAlways, containertypes.RestartPolicyUnlessStopped:
		return true
	}
	return false
}
