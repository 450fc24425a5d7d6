package daemon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/errdefs"
)

// pendingAttach is an attach to a container that has not started yet
// (docker run attaches, then starts): start connects it to the new shim
// before the init runs, so no output is missed.
type pendingAttach struct {
	d   *Daemon
	ctx context.Context
	// opts is set, and streams closed, once the client's streams are
	// ready (nil opts: they failed); connect waits for that.
	opts    *container.AttachOptions
	streams chan struct{}
	// started receives the task connected to, or is closed by abort.
	started chan container.Task
	// done receives the attach's end.
	done chan error
}

func newPendingAttach(d *Daemon, ctx context.Context) *pendingAttach {
	return &pendingAttach{
		d: d, ctx: ctx,
		streams: make(chan struct{}),
		started: make(chan container.Task, 1),
		done:    make(chan error, 1),
	}
}

// ready hands the attach its options once the client's streams exist;
// nil says they do not.
func (p *pendingAttach) ready(opts *container.AttachOptions) {
	p.opts = opts
	close(p.streams)
}

// connect registers the attach with t's shim before the init starts.
func (p *pendingAttach) connect(t container.Task) {
	<-p.streams
	if p.opts != nil {
		// attachBeforeStart's attach sends its end to done, even when
		// it failed before the shim registered it.
		if err := p.d.attachBeforeStart(p.ctx, t, *p.opts, p.done); err != nil {
			p.d.log.Warn("attach before start", "err", err)
		}
	}
	p.started <- t
}

// abort ends the attach: the start failed, or the container is gone.
func (p *pendingAttach) abort() { close(p.started) }

// ContainerAttach is POST /containers/{id}/attach.
//
// A streaming attach to a container that has not started is registered
// before the connection is upgraded: the client (docker run) sends its
// start as soon as it reads the upgrade, and a start that came between
// the two would run the process with no one attached and lose its output.
func (d *Daemon) ContainerAttach(ctx context.Context, name string, opts server.AttachOptions) error {
	c, r, err := d.get(name)
	if err != nil {
		return err
	}
	keys := defaultDetachKeys
	if opts.DetachKeys != "" {
		if keys, err = parseDetachKeys(opts.DetachKeys); err != nil {
			return err
		}
	}
	if opts.Streams == nil {
		return fmt.Errorf("attach without streams: %w", errdefs.ErrInvalidParameter)
	}
	attachCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	c.Lock()
	tty, openStdin, stdinOnce := c.Config.Tty, c.Config.OpenStdin, c.Config.StdinOnce
	status := c.State.Status
	if status == container.Paused {
		// dockerd's refusal, in its words, whatever the streams.
		c.Unlock()
		return errdefs.Errorf(errdefs.ErrConflict, "container %s is paused, unpause the container before attach", name)
	}
	if opts.Stream && (status == container.Removing || status == container.Dead) {
		c.Unlock()
		return errdefs.Errorf(errdefs.ErrConflict, "You cannot attach to a container that is being removed")
	}
	// A stopped container is attached to as a created one: `docker start
	// -a` attaches before it starts it again, and dockerd waits for that
	// start (the refusal of a stopped container is the docker CLI's own,
	// in its attach command).
	var pending *pendingAttach
	if opts.Stream && r.task == nil && (status == container.Created || status == container.Restarting || status == container.Exited) {
		pending = newPendingAttach(d, attachCtx)
		r.attaches = append(r.attaches, pending)
	}
	c.Unlock()

	streams, err := opts.Streams(tty)
	if err != nil {
		if pending != nil {
			pending.ready(nil)
			d.dropPendingAttach(c, r, pending)
		}
		return err
	}
	if opts.Logs {
		if err := d.replayLogs(ctx, c, streams, opts.Stdout, opts.Stderr); err != nil {
			if pending != nil {
				pending.ready(nil)
				d.dropPendingAttach(c, r, pending)
			}
			return err
		}
	}
	if !opts.Stream {
		return nil
	}
	r.streams.add()
	defer r.streams.done()
	ao := container.AttachOptions{CloseStdin: stdinOnce}
	if opts.Stdout {
		ao.Stdout = streams.Stdout
	}
	if opts.Stderr {
		ao.Stderr = streams.Stderr
		if tty {
			ao.Stderr = nil
		}
	}
	var detached atomic.Bool
	if opts.Stdin && openStdin && streams.Stdin != nil {
		// As dockerd, only a terminal's input is watched for the detach
		// keys: piped input is data, and ctrl-p,ctrl-q in it (as in any
		// binary) must reach the container.
		ao.Stdin = streams.Stdin
		if tty {
			ao.Stdin = newDetachReader(streams.Stdin, keys, func() { detached.Store(true); cancel() })
		}
	}

	c.Lock()
	d.emit(c, "attach", nil)
	task := r.task
	c.Unlock()
	if pending != nil {
		pending.ready(&ao)
		select {
		case t, ok := <-pending.started:
			if !ok || t == nil {
				return nil // the start failed; the client hears it from start
			}
		case <-ctx.Done():
			d.dropPendingAttach(c, r, pending)
			return nil
		}
		err := <-pending.done
		return d.attachEnded(c, detached.Load(), err)
	}
	if task == nil {
		return nil
	}
	err = task.Attach(attachCtx, ao)
	return d.attachEnded(c, detached.Load(), err)
}

func (d *Daemon) attachEnded(c *container.Container, detached bool, err error) error {
	if detached {
		c.Lock()
		d.emit(c, "detach", nil)
		c.Unlock()
		return nil
	}
	if err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, errDetached) || errdefs.IsNotFound(err)) {
		return nil
	}
	return err
}

// dropPendingAttach forgets an attach whose client left before the start.
func (d *Daemon) dropPendingAttach(c *container.Container, r *run, p *pendingAttach) {
	c.Lock()
	defer c.Unlock()
	r.attaches = slices.DeleteFunc(r.attaches, func(x *pendingAttach) bool { return x == p })
}

// ContainerResize is POST /containers/{id}/resize.
func (d *Daemon) ContainerResize(ctx context.Context, name string, height, width uint) error {
	c, r, err := d.get(name)
	if err != nil {
		return err
	}
	c.Lock()
	task := r.task
	running := c.State.HasProcess()
	c.Unlock()
	if !running || task == nil {
		return errdefs.Errorf(errdefs.ErrConflict, "Container %s is not running", c.ID)
	}
	return task.Resize(ctx, "", uint16(width), uint16(height))
}

// attachBeforeStart starts an attach in the background and returns once
// the shim has it (AttachOptions.Attached), so that a start right after
// misses no output. done receives the attach's end.
func (d *Daemon) attachBeforeStart(ctx context.Context, task container.Task, ao container.AttachOptions, done chan<- error) error {
	registered := make(chan struct{})
	var once sync.Once
	ao.Attached = func() { once.Do(func() { close(registered) }) }
	ended := make(chan error, 1)
	go func() {
		err := task.Attach(ctx, ao)
		ended <- err
		done <- err
	}()
	select {
	case <-registered:
		return nil
	case err := <-ended:
		// Ended before it was registered: the process is gone, or the
		// shim refused. done has the result too.
		if err == nil {
			return nil
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
