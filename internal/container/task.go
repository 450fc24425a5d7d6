package container

import (
	"context"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/shim"
)

// Task is what the daemon needs from the supervisor of one container's
// processes: the shim's client (internal/shim) in production, a fake in
// the daemon's unit tests.
//
// Lifecycle: the daemon obtains a Task once the container exists in the
// runtime (created, not started: the shim ran `runtime create`), or by
// reconnecting to a shim that outlived a daemon. Start runs the init;
// Wait blocks until the init exited and its output was flushed to the log
// and to attached clients; Delete removes the container from the runtime
// and ends the shim; Close only drops the connection (the shim and the
// container carry on, which is what live restore relies on).
//
// Exec processes are named by the daemon's exec ID: Exec creates one (not
// started), StartExec runs it, WaitExec waits for it. Attach, Resize and
// CloseStdin take an exec ID, "" meaning the init.
//
// Errors: a container or exec that is not there is errdefs.ErrNotFound; an
// operation the process's state forbids (start twice, pause a stopped
// container) is errdefs.ErrConflict; a shim that cannot be reached is
// errdefs.ErrUnavailable.
//
// For example, running a container to its end:
//
//	t, _ := launch(ctx, cfg)     // the shim's Start: runtime create
//	go t.Attach(ctx, AttachOptions{Stdout: out, Stderr: errw})
//	pid, _ := t.Start(ctx)
//	st, _ := t.Wait(ctx)         // st.Code, st.OOMKilled
//	t.Delete(ctx)
type Task interface {
	Start(ctx context.Context) (pid int, err error)
	// Attach copies the process's stdio until its output ends or ctx
	// ends. It may be called before Start (the output from the very
	// start is delivered) and several times at once.
	Attach(ctx context.Context, opts AttachOptions) error
	Wait(ctx context.Context) (ExitStatus, error)
	State(ctx context.Context) (TaskState, error)
	Kill(ctx context.Context, sig syscall.Signal, all bool) error
	// KillExec signals an exec's process (a shim older than it answers
	// errdefs.ErrNotImplemented).
	KillExec(ctx context.Context, execID string, sig syscall.Signal) error
	Pause(ctx context.Context) error
	Resume(ctx context.Context) error
	Update(ctx context.Context, res *specs.LinuxResources) error
	Stats(ctx context.Context) (*Stats, error)
	Pids(ctx context.Context) ([]int, error)
	Resize(ctx context.Context, execID string, width, height uint16) error
	CloseStdin(ctx context.Context, execID string) error
	Exec(ctx context.Context, cfg ExecConfig) error
	StartExec(ctx context.Context, execID string) (pid int, err error)
	WaitExec(ctx context.Context, execID string) (ExitStatus, error)
	Delete(ctx context.Context) error
	Close() error
}

// The Task's types are the shim's own: its client implements Task as it
// is.
type (
	// ExitStatus is how a process ended.
	ExitStatus = shim.ExitStatus
	// TaskState is the runtime's view of the init.
	TaskState = shim.State
	// AttachOptions selects the streams of one attach.
	AttachOptions = shim.AttachOptions
	// ExecConfig is an exec process to create.
	ExecConfig = shim.ExecConfig
	// Stats is a cgroup's usage sample, in the shape of runc's events.
	Stats = shim.Stats
)

var _ Task = (*shim.Client)(nil)
