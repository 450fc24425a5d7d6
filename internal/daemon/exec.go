package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/container/spec"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/initenv"
)

// execRetention is how long an ended exec stays inspectable (docker
// cleans them after 5 minutes too).
const execRetention = 5 * time.Minute

// execProcess is one docker exec: created, then started once.
type execProcess struct {
	id          string
	containerID string
	req         containertypes.ExecCreateRequest
	detachKeys  []byte

	mu       sync.Mutex
	started  bool
	running  bool
	pid      int
	exitCode *int
	ended    time.Time
	done     chan struct{}
	// retired: its container stopped. It stays inspectable (docker
	// exec inspects it for the exit code after the stream ends, and
	// the container may have ended meanwhile) but is no longer one of
	// the container's ExecIDs.
	retired bool
}

// ExecCreate is POST /containers/{id}/exec.
func (d *Daemon) ExecCreate(ctx context.Context, name string, req containertypes.ExecCreateRequest) (string, error) {
	c, r, err := d.get(name)
	if err != nil {
		return "", err
	}
	if len(req.Cmd) == 0 {
		return "", errdefs.Errorf(errdefs.ErrInvalidParameter, "No exec command specified")
	}
	keys := defaultDetachKeys
	if req.DetachKeys != "" {
		if keys, err = parseDetachKeys(req.DetachKeys); err != nil {
			// dockerd's words for exec (attach says "detach keys").
			return "", errdefs.Errorf(errdefs.ErrInvalidParameter, "Invalid escape keys (%s) provided", req.DetachKeys)
		}
	}
	c.Lock()
	defer c.Unlock()
	switch {
	case c.State.Status == container.Paused:
		// docker names the container as the caller did here (and by its
		// ID in the other two).
		return "", errdefs.Errorf(errdefs.ErrConflict, "Container %s is paused, unpause the container before exec", name)
	case c.State.Status == container.Restarting:
		return "", errdefs.Errorf(errdefs.ErrConflict, "Container %s is restarting, wait until the container is running", c.ID)
	case !c.State.HasProcess() || r.task == nil:
		return "", errdefs.Errorf(errdefs.ErrConflict, "Container %s is not running", c.ID)
	}
	e := &execProcess{
		id:          container.NewID(),
		containerID: c.ID,
		req:         req,
		detachKeys:  keys,
		done:        make(chan struct{}),
	}
	d.mu.Lock()
	d.pruneExecsLocked(time.Now())
	d.execs[e.id] = e
	d.mu.Unlock()
	d.emit(c, events.Action(string(events.ActionExecCreate)+": "+execAction(req.Cmd)), map[string]string{"execID": e.id})
	_ = ctx
	return e.id, nil
}

func (d *Daemon) getExec(id string) (*execProcess, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.execs[id]
	if !ok {
		return nil, errdefs.Errorf(errdefs.ErrNotFound, "No such exec instance: %s", id)
	}
	return e, nil
}

// pruneExecsLocked forgets ended execs older than execRetention. The
// caller holds d.mu.
func (d *Daemon) pruneExecsLocked(now time.Time) {
	for id, e := range d.execs {
		e.mu.Lock()
		old := !e.ended.IsZero() && now.Sub(e.ended) > execRetention
		e.mu.Unlock()
		if old {
			delete(d.execs, id)
		}
	}
}

// retireExecs takes a stopped container's execs off its ExecIDs; they
// stay inspectable for execRetention, as docker's do.
func (d *Daemon) retireExecs(containerID string) {
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, e := range d.execs {
		if e.containerID != containerID {
			continue
		}
		e.mu.Lock()
		e.retired = true
		if e.ended.IsZero() {
			e.ended = now
		}
		e.mu.Unlock()
	}
}

// forgetExecs drops a container's execs (it was removed).
func (d *Daemon) forgetExecs(containerID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, e := range d.execs {
		if e.containerID == containerID {
			delete(d.execs, id)
		}
	}
}

// awaitExecs waits, up to limit, for the container's running execs to be
// recorded as ended. After the container's end the shim answers their
// waits before it exits; the task's connection must stay open until then.
func (d *Daemon) awaitExecs(containerID string, limit time.Duration) {
	var pending []chan struct{}
	d.mu.Lock()
	for _, e := range d.execs {
		if e.containerID != containerID {
			continue
		}
		e.mu.Lock()
		if e.running {
			pending = append(pending, e.done)
		}
		e.mu.Unlock()
	}
	d.mu.Unlock()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for _, done := range pending {
		select {
		case <-done:
		case <-deadline.C:
			return
		}
	}
}

// execIDs lists a container's execs, for inspect.
func (d *Daemon) execIDs(containerID string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var ids []string
	for id, e := range d.execs {
		e.mu.Lock()
		retired := e.retired
		e.mu.Unlock()
		if e.containerID == containerID && !retired {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// ExecStart is POST /exec/{id}/start.
func (d *Daemon) ExecStart(ctx context.Context, id string, opts server.ExecStartOptions) error {
	e, err := d.getExec(id)
	if err != nil {
		return err
	}
	e.mu.Lock()
	if e.started {
		e.mu.Unlock()
		return errdefs.Errorf(errdefs.ErrConflict, "Error: Exec command %s is already running", id)
	}
	e.started = true
	e.mu.Unlock()

	c, r, err := d.get(e.containerID)
	if err != nil {
		return err
	}
	c.Lock()
	task := r.task
	running := c.State.Status == container.Running && task != nil
	c.Unlock()
	if !running {
		return errdefs.Errorf(errdefs.ErrConflict, "Container %s is not running", e.containerID)
	}
	req := e.req
	if opts.ConsoleSize != nil {
		req.ConsoleSize = opts.ConsoleSize
	}
	tty := opts.Tty || req.Tty
	proc, err := d.execProcessSpec(c, req, tty)
	if err != nil {
		return e.startFailed(err, opts, tty)
	}
	if err := task.Exec(ctx, container.ExecConfig{ID: id, Process: proc, OpenStdin: req.AttachStdin}); err != nil {
		return e.startFailed(d.execTaskErr(c, task, err), opts, tty)
	}

	var streams server.Streams
	attachDone := make(chan error, 1)
	attachCtx, cancelAttach := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelAttach()
	if !opts.Detach && opts.Streams != nil {
		if streams, err = opts.Streams(proc.Terminal); err != nil {
			return err
		}
		ao := container.AttachOptions{ExecID: id, CloseStdin: true}
		if req.AttachStdout {
			ao.Stdout = streams.Stdout
		}
		if req.AttachStderr && !proc.Terminal {
			ao.Stderr = streams.Stderr
		}
		if req.AttachStdin && streams.Stdin != nil {
			// Detach keys apply to a terminal only, as for attach.
			ao.Stdin = streams.Stdin
			if proc.Terminal {
				ao.Stdin = newDetachReader(streams.Stdin, e.detachKeys, cancelAttach)
			}
		}
		if err := d.attachBeforeStart(attachCtx, task, ao, attachDone); err != nil {
			return d.execTaskErr(c, task, err)
		}
	} else {
		attachDone <- nil
	}

	// Running from before the start, as dockerd's: an exec that ends the
	// container (touch /tmp/go for a loop that waits on it) is waited
	// for by the exit handling (awaitExecs), which otherwise closes the
	// task under this StartExec.
	e.mu.Lock()
	e.running = true
	e.mu.Unlock()
	pid, err := task.StartExec(ctx, id)
	if err != nil {
		cancelAttach()
		return e.failed(d.execTaskErr(c, task, err))
	}
	e.mu.Lock()
	e.pid = pid
	e.mu.Unlock()
	c.Lock()
	d.emit(c, events.Action(string(events.ActionExecStart)+": "+execAction(req.Cmd)), map[string]string{"execID": id})
	c.Unlock()

	finish := func() {
		st, err := task.WaitExec(context.Background(), id)
		code := st.Code
		if err != nil {
			code = 126
		}
		e.mu.Lock()
		e.running = false
		e.exitCode = &code
		e.ended = time.Now()
		close(e.done)
		e.mu.Unlock()
		c.Lock()
		d.emit(c, events.ActionExecDie, map[string]string{"execID": id, "exitCode": fmt.Sprint(code)})
		c.Unlock()
	}
	if opts.Detach {
		d.bg.Add(1)
		go func() {
			defer d.bg.Done()
			finish()
		}()
		return nil
	}
	finish()
	// The shim delivers all output before WaitExec returns; the attach
	// ends with it (or was detached already).
	select {
	case <-attachDone:
	case <-time.After(5 * time.Second):
		cancelAttach()
		<-attachDone
	}
	return nil
}

// execTaskErr is err, a failure of task (the run ExecStart found), or
// docker's conflict if that run has ended meanwhile: the exit handling
// closes the task's client, and "closed" (unavailable, 503) is not what
// went wrong.
func (d *Daemon) execTaskErr(c *container.Container, task container.Task, err error) error {
	if !errdefs.IsConflict(err) && d.runEnded(c, task) {
		return errdefs.Errorf(errdefs.ErrConflict, "Container %s is not running", c.ID)
	}
	return err
}

// execAction is the command as exec_create and exec_start events name it:
// dockerd's entrypoint, a space and the arguments, so a command without
// arguments ends in a space ("exec_create: true ").
func execAction(cmd []string) string {
	return cmd[0] + " " + strings.Join(cmd[1:], " ")
}

// failed records an exec that could not start: docker gives it exit code
// 126, whatever the cause, so `docker exec` exits 126.
func (e *execProcess) failed(err error) error {
	code := 126
	e.mu.Lock()
	e.exitCode = &code
	e.running = false
	e.ended = time.Now()
	select {
	case <-e.done:
	default:
		close(e.done)
	}
	e.mu.Unlock()
	return err
}

// startFailed records an exec that could not start and, for an attached
// start, takes the connection over first: dockerd hijacks before it starts
// the process, so the client reads the error in the stream and `docker
// exec` exits 126 (the exec's code) instead of failing the upgrade.
func (e *execProcess) startFailed(err error, opts server.ExecStartOptions, tty bool) error {
	err = e.failed(err)
	if !opts.Detach && opts.Streams != nil {
		// Without the connection the server answers err over HTTP.
		_, _ = opts.Streams(tty)
	}
	return err
}

// execProcessSpec is the exec's process: the container's own (its
// capabilities, rlimits, security settings) with the exec's command,
// environment, directory, user and terminal.
func (d *Daemon) execProcessSpec(c *container.Container, req containertypes.ExecCreateRequest, tty bool) (*specs.Process, error) {
	var sp specs.Spec
	b, err := d.tasks.ReadProcess(d.shimDir(c.ID))
	if errors.Is(err, fs.ErrNotExist) {
		// A container of an earlier daemon (live restore).
		b, err = os.ReadFile(filepath.Join(d.bundleDir(c.ID), processFile))
	}
	if err == nil {
		sp.Process = new(specs.Process)
		err = json.Unmarshal(b, sp.Process)
	} else if errors.Is(err, fs.ErrNotExist) {
		// A bundle an earlier daemon made (live restore) has the whole spec.
		if b, err = os.ReadFile(filepath.Join(d.bundleDir(c.ID), "config.json")); err == nil {
			err = json.Unmarshal(b, &sp)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("exec: the container's spec: %w", err)
	}
	if sp.Process == nil {
		return nil, fmt.Errorf("exec: the container's spec has no process: %w", errdefs.ErrInvalidParameter)
	}
	p := *sp.Process
	p.Args = append([]string(nil), req.Cmd...)
	p.Terminal = tty
	// Under --init the spec's environment is the init's; an exec gets the
	// command's.
	p.Env = mergeEnv(termEnv(initenv.ForCommand(p.Env), c.Config.Env, tty), req.Env)
	if req.WorkingDir != "" {
		p.Cwd = req.WorkingDir
	}
	p.ConsoleSize = nil
	if tty && req.ConsoleSize != nil && req.ConsoleSize[0] > 0 && req.ConsoleSize[1] > 0 {
		p.ConsoleSize = &specs.Box{Height: req.ConsoleSize[0], Width: req.ConsoleSize[1]}
	}
	if req.User != "" {
		uid, gid, extra, err := spec.ResolveUser(d.rootfsDir(c.ID), req.User)
		if err != nil {
			return nil, err
		}
		p.User = specs.User{UID: uid, GID: gid, AdditionalGids: extra, Umask: p.User.Umask}
	}
	if req.Privileged {
		caps := allCapabilities()
		p.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
		p.SelinuxLabel = ""
		p.ApparmorProfile = ""
	}
	return &p, nil
}

// termEnv is the container's environment with docker's TERM=xterm as an
// exec has it: by the exec's own tty, not the container's, unless the
// container's config names TERM (then it is the config's to keep).
func termEnv(env, configEnv []string, tty bool) []string {
	isTerm := func(e string) bool { k, _, _ := strings.Cut(e, "="); return k == "TERM" }
	if slices.ContainsFunc(configEnv, isTerm) {
		return env
	}
	out := slices.DeleteFunc(slices.Clone(env), isTerm)
	if !tty {
		return out
	}
	// Where docker puts it: after PATH and HOSTNAME.
	i := slices.IndexFunc(out, func(e string) bool { return strings.HasPrefix(e, "HOSTNAME=") }) + 1
	return slices.Insert(out, i, "TERM=xterm")
}

// mergeEnv is base with over's entries replacing those of the same name,
// as dockerd merges an exec's -e: an entry without "=" (docker exec -e
// NAME, NAME unset in the client) unsets NAME instead; the runtime would
// refuse it as an environment entry.
func mergeEnv(base, over []string) []string {
	out := append([]string(nil), base...)
	for _, kv := range over {
		k, _, hasValue := strings.Cut(kv, "=")
		i := slices.IndexFunc(out, func(e string) bool {
			ek, _, _ := strings.Cut(e, "=")
			return ek == k
		})
		switch {
		case !hasValue && i >= 0:
			out = slices.Delete(out, i, i+1)
		case !hasValue:
		case i >= 0:
			out[i] = kv
		default:
			out = append(out, kv)
		}
	}
	return out
}

// allCapabilities is every capability Linux knows (what --privileged
// grants).
func allCapabilities() []string {
	names := []string{
		"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
		"SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
		"IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
		"SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
		"LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
		"WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "CAP_" + n
	}
	return out
}

// ExecInspect is GET /exec/{id}/json.
func (d *Daemon) ExecInspect(ctx context.Context, id string) (containertypes.ExecInspectResponse, error) {
	e, err := d.getExec(id)
	if err != nil {
		return containertypes.ExecInspectResponse{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	priv := e.req.Privileged
	resp := containertypes.ExecInspectResponse{
		ID:      e.id,
		Running: e.running,
		ProcessConfig: &containertypes.ExecProcessConfig{
			Tty:        e.req.Tty,
			Entrypoint: e.req.Cmd[0],
			Arguments:  append([]string{}, e.req.Cmd[1:]...),
			Privileged: &priv,
			User:       e.req.User,
		},
		OpenStdin:   e.req.AttachStdin,
		OpenStdout:  e.req.AttachStdout,
		OpenStderr:  e.req.AttachStderr,
		CanRemove:   false,
		ContainerID: e.containerID,
		DetachKeys:  e.detachKeys,
		Pid:         e.pid,
	}
	if e.exitCode != nil {
		code := *e.exitCode
		resp.ExitCode = &code
	}
	_ = ctx
	return resp, nil
}

// ExecResize is POST /exec/{id}/resize.
func (d *Daemon) ExecResize(ctx context.Context, id string, height, width uint) error {
	e, err := d.getExec(id)
	if err != nil {
		return err
	}
	e.mu.Lock()
	running := e.running
	e.mu.Unlock()
	if !running {
		return errdefs.Errorf(errdefs.ErrConflict, "Exec %s is not running, so it can not be resized.", id)
	}
	_, r, err := d.get(e.containerID)
	if err != nil {
		return err
	}
	r.c.Lock()
	task := r.task
	r.c.Unlock()
	if task == nil {
		return errdefs.Errorf(errdefs.ErrConflict, "Container %s is not running", e.containerID)
	}
	return task.Resize(ctx, id, uint16(width), uint16(height))
}

// runInternalExec runs argv in the container (a health check), with its
// output to out, and returns its exit code. It is not a docker exec: no
// record, no events.
func (d *Daemon) runInternalExec(ctx context.Context, c *container.Container, r *run, argv []string, out io.Writer) (int, error) {
	c.Lock()
	task := r.task
	c.Unlock()
	if task == nil {
		return 0, errdefs.Errorf(errdefs.ErrConflict, "Container %s is not running", c.ID)
	}
	req := containertypes.ExecCreateRequest{Cmd: argv}
	proc, err := d.execProcessSpec(c, req, false)
	if err != nil {
		return 0, err
	}
	// dockerd runs a health check as an exec like any other: an exec ID,
	// and exec_create, exec_start and exec_die events that `docker events`
	// shows.
	id := container.NewID()
	if err := task.Exec(ctx, container.ExecConfig{ID: id, Process: proc}); err != nil {
		return 0, err
	}
	attrs := map[string]string{"execID": id}
	d.lockAndEmit(c, events.Action(string(events.ActionExecCreate)+": "+execAction(argv)), attrs)
	done := make(chan error, 1)
	if err := d.attachBeforeStart(ctx, task, container.AttachOptions{ExecID: id, Stdout: out, Stderr: out}, done); err != nil {
		return 0, err
	}
	if _, err := task.StartExec(ctx, id); err != nil {
		return 0, err
	}
	d.lockAndEmit(c, events.Action(string(events.ActionExecStart)+": "+execAction(argv)), attrs)
	st, err := task.WaitExec(ctx, id)
	if err != nil && ctx.Err() != nil {
		// Past its timeout the check is killed and waited for, as dockerd
		// does: hung checks must not pile up in the container.
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killGrace)
		defer cancel()
		if kerr := task.KillExec(kctx, id, syscall.SIGKILL); kerr == nil || errdefs.IsNotFound(kerr) {
			if st, err = task.WaitExec(kctx, id); err == nil {
				d.lockAndEmit(c, events.ActionExecDie, map[string]string{"execID": id, "exitCode": fmt.Sprint(st.Code)})
			}
		}
		return 0, ctx.Err()
	}
	if err != nil {
		return 0, err
	}
	d.lockAndEmit(c, events.ActionExecDie, map[string]string{"execID": id, "exitCode": fmt.Sprint(st.Code)})
	select {
	case <-done:
	case <-ctx.Done():
	}
	return st.Code, nil
}
