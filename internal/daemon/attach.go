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

	mu sync.Mutex
	// early is the attach sent ahead of the start to a prestarted task
	// (connectEarly); connecting, set once the start began to connect
	// the attach, bars another; startedWith is the task it connected it
	// to, and earlyUsed whether early stands for the attach there.
	early       *earlyAttach
	connecting  bool
	startedWith container.Task
	earlyUsed   bool
}

// earlyAttach is an attach to a prestarted task before its start: docker
// run sends the start only once its attach is answered, and registering
// with the shim then, rather than at the start, takes a shim round trip
// off the start's path.
type earlyAttach struct {
	task  container.Task
	ready chan struct{} // closed once the shim has it, or it ended
	ok    bool          // the shim has it; read after ready
	ended bool          // Attach returned; under the pendingAttach's mu
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

// connect registers the attach with t's shim before the init starts,
// unless an early attach to t already did.
func (p *pendingAttach) connect(t container.Task) {
	<-p.streams
	p.mu.Lock()
	p.connecting = true
	early := p.early
	p.mu.Unlock()
	if early != nil && early.task == t {
		<-early.ready
	}
	p.mu.Lock()
	p.startedWith = t
	p.earlyUsed = early != nil && early.task == t && early.ok && !early.ended
	useEarly := p.earlyUsed
	p.mu.Unlock()
	if useEarly {
		p.started <- t
		return
	}
	if p.opts != nil {
		// attachBeforeStart's attach sends its end to done, even when
		// it failed before the shim registered it.
		if err := p.d.attachBeforeStart(p.ctx, t, *p.opts, p.done); err != nil {
			p.d.log.Warn("attach before start", "err", err)
		}
	}
	p.started <- t
}

// connectEarly sends the attach to t, a prestarted task, before any start
// (the client's streams are ready). Its end counts only if the start
// connects the attach to t: a task dropped before the start (its
// container removed, changed, or its prestart expired) ends the early
// attach, and the start, with a new task, connects it again.
func (p *pendingAttach) connectEarly(t container.Task) {
	if p.opts == nil {
		return
	}
	p.mu.Lock()
	if p.connecting || p.early != nil {
		p.mu.Unlock()
		return
	}
	e := &earlyAttach{task: t, ready: make(chan struct{})}
	p.early = e
	p.mu.Unlock()
	var once sync.Once
	registered := func(ok bool) {
		once.Do(func() {
			e.ok = ok
			close(e.ready)
		})
	}
	ao := *p.opts
	ao.Attached = func() { registered(true) }
	go func() {
		err := t.Attach(p.ctx, ao)
		registered(false)
		p.mu.Lock()
		e.ended = true
		mine := p.earlyUsed && p.startedWith == t
		p.mu.Unlock()
		if mine {
			p.done <- err
		}
	}()
}

// connectWhenMade attaches early to the task of a prestart that was still
// being made when the attach came, once it is made and if no start took
// it yet (connectEarly gives way to a start that began to connect).
func (d *Daemon) connectWhenMade(c *container.Container, r *run, p *pendingAttach, made <-chan struct{}) {
	select {
	case <-made:
	case <-p.ctx.Done():
		return
	}
	c.Lock()
	t := r.prestartTask
	c.Unlock()
	if t != nil {
		p.connectEarly(t)
	}
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
	early, made := r.prestartTask, r.prestartMade
	c.Unlock()
	if pending != nil {
		pending.ready(&ao)
		if early != nil {
			pending.connectEarly(early)
		} else if made != nil {
			// The prestart is still under way (the next container's
			// shim is finishing its create): attach early once it has
			// its task, if that comes before the start.
			go d.connectWhenMade(c, r, pending, made)
		}
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
