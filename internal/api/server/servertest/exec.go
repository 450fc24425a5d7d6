package servertest

import (
	"context"
	"io"
	"strings"
	"syscall"

	"github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
)

type fakeExec struct {
	id          string
	containerID string
	req         container.ExecCreateRequest
	running     bool
	started     bool
	exitCode    *int
}

// ExecCreate registers an exec in a running container.
func (f *Fake) ExecCreate(ctx context.Context, name string, req container.ExecCreateRequest) (string, error) {
	if err := f.enter("ExecCreate", name, req); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.findContainer(name)
	if err != nil {
		return "", err
	}
	if c.state != container.StateRunning {
		return "", errdefs.Errorf(errdefs.ErrConflict, "container %s is not running", c.id)
	}
	e := &fakeExec{id: newID(), containerID: c.id, req: req}
	f.execs[e.id] = e
	return e.id, nil
}

// ExecStart runs the exec's toy program, attached unless Detach.
func (f *Fake) ExecStart(ctx context.Context, id string, opts server.ExecStartOptions) error {
	if err := f.enter("ExecStart", id, opts); err != nil {
		return err
	}
	f.mu.Lock()
	e, ok := f.execs[id]
	if !ok {
		f.mu.Unlock()
		return errdefs.Errorf(errdefs.ErrNotFound, "No such exec instance: %s", id)
	}
	if e.started {
		f.mu.Unlock()
		return errdefs.Errorf(errdefs.ErrConflict, "Error: Exec command %s has already run", id)
	}
	e.started, e.running = true, true
	f.mu.Unlock()

	finish := func(code int) {
		f.mu.Lock()
		e.running = false
		e.exitCode = &code
		f.mu.Unlock()
	}
	stop := make(chan syscall.Signal)
	if opts.Detach {
		go func() {
			finish(f.runProgram(e.req.Cmd, strings.NewReader(""), stop, func(string) {}, func(string) {}))
		}()
		return nil
	}
	streams, err := opts.Streams(e.req.Tty)
	if err != nil {
		return err
	}
	defer streams.Stdin.Close()
	var stdin io.Reader = strings.NewReader("")
	if e.req.AttachStdin {
		stdin = streams.Stdin
	}
	write := func(w io.Writer, attached bool) func(string) {
		return func(s string) {
			if w != nil && attached {
				_, _ = io.WriteString(w, s)
			}
		}
	}
	stderr := streams.Stderr
	if e.req.Tty {
		stderr = streams.Stdout
	}
	go func() {
		<-ctx.Done()
		close(stop)
	}()
	finish(f.runProgram(e.req.Cmd, stdin, stop, write(streams.Stdout, e.req.AttachStdout), write(stderr, e.req.AttachStderr)))
	return nil
}

// ExecInspect describes an exec.
func (f *Fake) ExecInspect(ctx context.Context, id string) (container.ExecInspectResponse, error) {
	if err := f.enter("ExecInspect", id, nil); err != nil {
		return container.ExecInspectResponse{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.execs[id]
	if !ok {
		return container.ExecInspectResponse{}, errdefs.Errorf(errdefs.ErrNotFound, "No such exec instance: %s", id)
	}
	var entry string
	var args []string
	if len(e.req.Cmd) > 0 {
		entry, args = e.req.Cmd[0], e.req.Cmd[1:]
	}
	return container.ExecInspectResponse{
		ID: e.id, Running: e.running, ExitCode: e.exitCode, ContainerID: e.containerID,
		OpenStdin: e.req.AttachStdin, OpenStdout: e.req.AttachStdout, OpenStderr: e.req.AttachStderr,
		ProcessConfig: &container.ExecProcessConfig{Tty: e.req.Tty, Entrypoint: entry, Arguments: args},
	}, nil
}

// ExecResize checks the exec exists and runs.
func (f *Fake) ExecResize(ctx context.Context, id string, height, width uint) error {
	if err := f.enter("ExecResize", id, [2]uint{height, width}); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.execs[id]
	if !ok {
		return errdefs.Errorf(errdefs.ErrNotFound, "No such exec instance: %s", id)
	}
	if !e.running {
		return errdefs.Errorf(errdefs.ErrConflict, "Exec %s is not running", id)
	}
	return nil
}
