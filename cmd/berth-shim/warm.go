package main

import (
	"context"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/runtime"
	"github.com/berth-project/berth/internal/shim"
)

// hostedRuntime is Berth's runtime package run in the shim's own process
// (shim.WarmRuntime): runtime.SetBinary names berth-runtime's executable,
// which the init starts from, and runtime.SetChildWaiter has the
// runtime's waits go through the shim's reaper.
type hostedRuntime struct {
	rt *runtime.Runtime
	// spare is closed once the spare init's start returned; nil when
	// there is none.
	spare chan struct{}
}

func newHostedRuntime(path string, wait func(pid int) (unix.WaitStatus, error), args ...string) (shim.WarmRuntime, error) {
	runtime.SetBinary(path)
	runtime.SetChildWaiter(wait)
	rt, err := runtime.New(args[0], nil)
	if err != nil {
		return nil, err
	}
	h := &hostedRuntime{rt: rt}
	go rt.Prewarm()
	if len(args) > 1 {
		h.spare = make(chan struct{})
		go func() {
			defer close(h.spare)
			// Without a spare the create makes its init itself.
			_ = rt.StartSpare(args[1])
		}()
	}
	return h, nil
}

// Create runs the runtime's create. A client that waits for it returns
// the spare's cgroup to normal CPU priority now; one made ahead keeps it
// idle until the shim is hurried (LeaveIdle).
func (h *hostedRuntime) Create(id, bundle string, o shim.CreateOptions) error {
	if !runtime.InBackground() {
		_ = runtime.LeaveIdle()
	}
	if h.spare != nil {
		// The spare's start and the create must not spawn at once: under
		// load an init's ForkExec then failed with EACCES, one start in a
		// few hundred (cause unknown).
		<-h.spare
	}
	_, err := h.rt.Create(context.Background(), id, bundle, runtime.CreateOpts{
		PidFile: o.PidFile, ConsoleSocket: o.ConsoleSocket,
		Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr,
	})
	runtime.DropSpare() // unless the create took it
	return err
}

func (h *hostedRuntime) Abort() {
	if h.spare != nil {
		<-h.spare
	}
	runtime.DropSpare()
}

func (h *hostedRuntime) LeaveIdle() { _ = runtime.LeaveIdle() }
