package shim

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// WarmRuntime is Berth's runtime run inside a pooled shim, before the
// shim knows its container: the runtime's state root open, encoding/json's
// decoders for the spec built, and, given a cgroup parent, a spare init
// waiting. The container's create then runs in the shim instead of in a
// `berth-runtime create` process: a Go process's start, page faults and
// exit (a millisecond and a half of CPU) less per container. The init
// still starts from berth-runtime's binary, whose nsenter constructor it
// needs.
//
// The shim's binary provides it (cmd/berth-shim sets NewWarmRuntime): this
// package links no runtime code, which the daemon, a client of it, must
// not.
type WarmRuntime interface {
	// Create creates container id from bundle, its init waiting for the
	// start.
	Create(id, bundle string, o CreateOptions) error
	// Abort ends what the warm runtime started ahead (its spare init)
	// unless a create took it.
	Abort()
	// LeaveIdle returns the cgroup of a create made at idle CPU priority
	// (ahead of need) to normal priority.
	LeaveIdle()
}

// CreateOptions are a create's: where the init's pid goes, the console
// socket (with a terminal), and the container's stdio.
type CreateOptions struct {
	PidFile, ConsoleSocket string
	Stdin, Stdout, Stderr  *os.File
}

// NewWarmRuntime, when set, prepares a warm runtime for Berth's runtime
// at path with args (its state root and, optionally, the cgroup parent of
// its spare init). wait is how it must wait for its children: the shim
// reaps them (a child subreaper), and the two must never race for a
// status.
var NewWarmRuntime func(path string, wait func(pid int) (unix.WaitStatus, error), args ...string) (WarmRuntime, error)

// leaveWarmIdle is the warm runtime's LeaveIdle, for the shim's hurry.
var leaveWarmIdle = func() {}

// warmRuntime is a pooled shim's warm runtime and what it serves.
type warmRuntime struct {
	path, root string
	impl       WarmRuntime
}

// startWarm prepares the runtime at path for args. path must be the
// runtime's executable itself: a script around it (a wrapper that logs,
// say) cannot be the init's binary, and is run as a command instead.
func startWarm(r *reaper, path string, args ...string) (*warmRuntime, error) {
	if NewWarmRuntime == nil {
		return nil, errors.New("this shim has no warm runtime")
	}
	if !isELF(path) {
		return nil, fmt.Errorf("%s is not an executable the init can start from", path)
	}
	impl, err := NewWarmRuntime(path, func(pid int) (unix.WaitStatus, error) {
		ws, ok := r.wait(pid, r.adopt(pid))
		if !ok {
			return 0, unix.ECHILD
		}
		return ws, nil
	}, args...)
	if err != nil {
		return nil, err
	}
	leaveWarmIdle = impl.LeaveIdle
	return &warmRuntime{path: path, root: args[0], impl: impl}, nil
}

// serves tells whether the warm runtime can run cfg's commands: the same
// binary and state root, and no extra global flags.
func (w *warmRuntime) serves(cfg *Config) bool {
	return w != nil && cfg.Runtime == w.path && cfg.RuntimeRoot == w.root && len(cfg.RuntimeArgs) == 0
}

// abort gives up a warm runtime create will not use.
func (w *warmRuntime) abort() {
	if w != nil {
		w.impl.Abort()
	}
}

// isELF reports whether path is an ELF executable.
func isELF(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	_, err = io.ReadFull(f, magic[:])
	return err == nil && string(magic[:]) == "\x7fELF"
}
