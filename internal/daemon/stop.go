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

// defaultStopTimeout is docker's: seconds between the stop signal and
// SIGKILL.
const defaultStopTimeout = 10

// killGrace bounds the wait for a SIGKILLed container's exit to be
// handled; past it the stop fails (the process is in uninterruptible
// sleep, or the shim is wedged).
const killGrace = 30 * time.Second

// ContainerStop is POST /containers/{id}/stop.
func (d *Daemon) ContainerStop(ctx context.Context, name string, opts server.StopOptions) error {
	c, r, err := d.get(name)
	if err != nil {
		return err
	}
	r.op.Lock()
	defer r.op.Unlock()
	return d.stopLocked(ctx, c, r, opts.Signal, opts.Timeout, true)
}

// stop is ContainerStop for the daemon's own use (shutdown).
func (d *Daemon) stop(ctx context.Context, c *container.Container, sig string, timeout *int, manual bool) error {
	d.mu.Lock()
	r := d.runs[c.ID]
	d.mu.Unlock()
	if r == nil {
		return nil
	}
	r.op.Lock()
	defer r.op.Unlock()
	return d.stopLocked(ctx, c, r, sig, timeout, manual)
}

// stopLocked sends the stop signal (the request's, else the container's
// StopSignal, else SIGTERM), waits up to the timeout (the request's, else
// the container's StopTimeout, else 10 s; -1 waits forever) for the exit,
// then SIGKILLs. A manual stop marks the container so that restart
// policies leave it alone. The caller holds r.op.
func (d *Daemon) stopLocked(ctx context.Context, c *container.Container, r *run, sigName string, timeout *int, manual bool) error {
	c.Lock()
	if c.State.Status == container.Restarting {
		r.cancelRestart()
		if manual {
			c.ManuallyStopped = true
		}
		_ = c.State.SetExited(c.State.ExitCode, c.State.OOMKilled, c.State.FinishedAt, "")
		if err := d.containers.Save(c); err != nil {
			c.Unlock()
			return err
		}
		d.emit(c, "stop", nil)
		c.Unlock()
		return nil
	}
	if !c.State.HasProcess() || r.task == nil {
		c.Unlock()
		return fmt.Errorf("container %s is not running: %w", c.ID, errdefs.ErrNotModified)
	}
	if sigName == "" {
		sigName = c.Config.StopSignal
	}
	sig := syscall.SIGTERM
	if sigName != "" {
		s, err := parseSignal(sigName)
		if err != nil {
			c.Unlock()
			return err
		}
		sig = s
	}
	wait := defaultStopTimeout
	if timeout != nil {
		wait = *timeout
	} else if c.Config.StopTimeout != nil {
		wait = *c.Config.StopTimeout
	}
	r.stopping = true
	if manual && !c.ManuallyStopped {
		c.ManuallyStopped = true
		if err := d.containers.Save(c); err != nil {
			c.Unlock()
			return err
		}
	}
	task, exited, paused := r.task, r.exited, c.State.Status == container.Paused
	c.Unlock()

	if err := d.signal(ctx, c, task, sig, paused); err != nil {
		return err
	}
	var deadline <-chan time.Time
	if wait >= 0 {
		t := time.NewTimer(time.Duration(wait) * time.Second)
		defer t.Stop()
		deadline = t.C
	}
	select {
	case <-exited:
	case <-deadline:
		d.log.Info("container did not exit within its stop timeout; killing it", "container", c.ID, "timeout", wait)
		if err := d.signal(ctx, c, task, syscall.SIGKILL, false); err != nil {
			return err
		}
		if err := waitExited(ctx, exited); err != nil {
			return err
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	c.Lock()
	d.emit(c, "stop", nil)
	c.Unlock()
	return nil
}

func waitExited(ctx context.Context, exited <-chan struct{}) error {
	t := time.NewTimer(killGrace)
	defer t.Stop()
	select {
	case <-exited:
		return nil
	case <-t.C:
		return errors.New("the container did not exit after SIGKILL")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// signal sends sig to the init, publishing docker's kill event; a paused
// container is resumed after a signal so that it can act on it.
func (d *Daemon) signal(ctx context.Context, c *container.Container, task container.Task, sig syscall.Signal, resume bool) error {
	err := task.Kill(ctx, sig, sig == syscall.SIGKILL)
	if err != nil && !errdefs.IsNotFound(err) && !d.runEnded(c, task) {
		return fmt.Errorf("cannot kill container %s: %w", container.ShortID(c.ID), err)
	}
	c.Lock()
	d.emit(c, "kill", map[string]string{"signal": signalName(sig)})
	c.Unlock()
	if resume || (sig == syscall.SIGKILL && d.isPaused(c)) {
		err := task.Resume(ctx)
		switch {
		case err == nil:
			d.resumedBySignal(c, task)
		case !errdefs.IsNotFound(err) && !errdefs.IsConflict(err) && !d.runEnded(c, task):
			d.log.Warn("resume after signal", "container", c.ID, "err", err)
		}
	}
	return nil
}

// resumedBySignal records the thaw of a paused container that a signal
// needed: one that survives the signal runs on, and its record must say
// so (dockerd says unpause too), or inspect shows it paused while it runs
// and a pause is refused as "already paused".
func (d *Daemon) resumedBySignal(c *container.Container, task container.Task) {
	d.mu.Lock()
	r := d.runs[c.ID]
	d.mu.Unlock()
	c.Lock()
	defer c.Unlock()
	if r == nil || r.task != task || c.State.Status != container.Paused {
		return // exited (or removed) meanwhile
	}
	if err := c.State.SetUnpaused(); err != nil {
		return
	}
	if err := d.containers.Checkpoint(c); err != nil {
		d.log.Error("unpause after signal: save record", "container", c.ID, "err", err)
	}
	d.emit(c, "unpause", nil)
}

// runEnded reports whether task's run of c is over: a signal that killed
// the process may see its reply cut short when the exit handling closes
// the shim's client first, which is no failure.
func (d *Daemon) runEnded(c *container.Container, task container.Task) bool {
	d.mu.Lock()
	r := d.runs[c.ID]
	d.mu.Unlock()
	if r == nil {
		return true
	}
	c.Lock()
	defer c.Unlock()
	return r.task != task
}

func (d *Daemon) isPaused(c *container.Container) bool {
	c.Lock()
	defer c.Unlock()
	return c.State.Status == container.Paused
}

// ContainerKill is POST /containers/{id}/kill. As docker's, a kill with
// SIGKILL or with the container's stop signal (any signal when it has
// none) ends it for good: its restart policy does not restart it.
func (d *Daemon) ContainerKill(ctx context.Context, name, sigName string) error {
	c, r, err := d.get(name)
	if err != nil {
		return err
	}
	sig := syscall.SIGKILL
	if sigName != "" {
		if sig, err = parseSignal(sigName); err != nil {
			return err
		}
	}
	c.Lock()
	if c.State.Status == container.Restarting && sig == syscall.SIGKILL {
		c.Unlock()
		return d.ContainerStop(ctx, name, server.StopOptions{Signal: "SIGKILL"})
	}
	if !c.State.HasProcess() || r.task == nil {
		c.Unlock()
		return errdefs.Errorf(errdefs.ErrConflict, "Container %s is not running", c.ID)
	}
	final := sig == syscall.SIGKILL || c.Config.StopSignal == ""
	if !final {
		if stopSig, err := parseSignal(c.Config.StopSignal); err == nil && stopSig == sig {
			final = true
		}
	}
	if final {
		r.stopping = true
	}
	task, paused := r.task, c.State.Status == container.Paused
	c.Unlock()
	return d.signal(ctx, c, task, sig, final && paused)
}

// ContainerRestart is POST /containers/{id}/restart: stop (if running),
// then start, then docker's restart event. An auto-remove container
// survives its restart.
func (d *Daemon) ContainerRestart(ctx context.Context, name string, opts server.StopOptions) error {
	c, r, err := d.get(name)
	if err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	r.op.Lock()
	defer r.op.Unlock()
	c.Lock()
	r.keepOnExit = true
	c.Unlock()
	defer func() {
		c.Lock()
		r.keepOnExit = false
		c.Unlock()
	}()
	if err := d.stopLocked(ctx, c, r, opts.Signal, opts.Timeout, false); err != nil && !errdefs.IsNotModified(err) {
		return err
	}
	c.Lock()
	switch c.State.Status {
	case container.Removing, container.Dead:
		c.Unlock()
		return errdefs.Errorf(errdefs.ErrConflict, "container is marked for removal and cannot be started")
	case container.Paused, container.Running:
		c.Unlock()
		return errdefs.Errorf(errdefs.ErrConflict, "cannot restart container %s: it is still running", name)
	}
	c.ManuallyStopped = false
	c.RestartCount = 0
	r.restartDelay = 0
	c.Unlock()
	if err := d.start(ctx, c, r); err != nil {
		return err
	}
	c.Lock()
	d.emit(c, "restart", nil)
	c.Unlock()
	return nil
}

func isNotModified(err error) bool { return errdefs.IsNotModified(err) }
