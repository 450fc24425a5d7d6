package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/runtime"
)

// warmFD is the unix socket a warm runtime receives its command on.
const warmFD = 3

// maxWarmMessage bounds the command's JSON (an argv).
const maxWarmMessage = 64 << 10

// warmCommand serves `berth-runtime warm ROOT [CGROUP-PARENT]`: a runtime
// process started before its command is known, by a shim waiting for its
// container. It prepares what depends only on the state root
// (runtime.Prewarm) and, given a cgroup parent, starts a spare init
// there (runtime.StartSpare) while it waits, then receives one message on
// fd 3: the command's full argv as JSON, with three descriptors that
// become its stdin, stdout and stderr. It returns that argv, which main
// then runs as if the process had been started with it. A shim that hangs
// up instead (its daemon gave up the pool) ends the process.
func warmCommand(args []string) []string {
	if len(args) != 3 && len(args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: berth-runtime warm ROOT [CGROUP-PARENT] (a shim runs it)")
		os.Exit(2)
	}
	unix.CloseOnExec(warmFD)
	if rt, err := runtime.New(args[2], nil); err == nil {
		go rt.Prewarm()
		if len(args) == 4 {
			spareStarted = make(chan struct{})
			go func() {
				defer close(spareStarted)
				// Without a spare the create makes its init itself.
				_ = rt.StartSpare(args[3])
			}()
		}
	}
	argv, err := receiveCommand(warmFD)
	if err != nil {
		dropSpare()
		fmt.Fprintf(os.Stderr, "berth-runtime warm: %v\n", err)
		os.Exit(2)
	}
	if argv == nil {
		dropSpare()
		os.Exit(0)
	}
	// The spare leaves idle priority (runtime's idle_linux.go) once a
	// client waits: now, or when the shim is hurried.
	if runtime.InBackground() {
		runtime.LeaveIdleOnHurry()
	} else {
		_ = runtime.LeaveIdle()
	}
	if spareStarted != nil {
		// The spare's start and the command's create must not spawn at
		// once: under load an init's ForkExec then failed with EACCES, one
		// start in a few hundred (cause unknown). A command that comes
		// before the spare is ready waits for it.
		<-spareStarted
	}
	warmReport = warmFD
	return argv
}

// spareStarted is closed once a warm runtime's spare init is started (or
// failed to); nil when there is none.
var spareStarted chan struct{}

// dropSpare ends the spare init, unless the command's create took it.
func dropSpare() {
	if spareStarted == nil {
		return
	}
	<-spareStarted
	runtime.DropSpare()
}

// warmReport is the command socket while a warm runtime's command runs,
// else -1: the command's exit status goes there (reportExit).
var warmReport = -1

// reportExit tells the shim a warm runtime's exit status before the
// process exits, which costs a Go process half a millisecond (its threads,
// its address space) that the shim then need not wait for. The
// container's stdio, which the command got as its own, is let go first:
// the shim sees the container's output end only once every copy is
// closed.
func reportExit(code int) {
	if warmReport < 0 {
		return
	}
	if null, err := unix.Open(os.DevNull, unix.O_RDWR|unix.O_CLOEXEC, 0); err == nil {
		for fd := 0; fd < 3; fd++ {
			unix.Dup3(null, fd, 0)
		}
		unix.Close(null)
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(code))
	unix.Write(warmReport, b[:])
	unix.Close(warmReport)
	warmReport = -1
}

// receiveCommand reads the argv and installs the stdio it came with; a
// nil argv means the sender hung up.
func receiveCommand(fd int) ([]string, error) {
	buf := make([]byte, maxWarmMessage)
	n, oobn, fds, err := runtime.RecvFDs(fd, buf, 3)
	if err != nil {
		return nil, fmt.Errorf("receive command: %w", err)
	}
	if n == 0 && oobn == 0 {
		return nil, nil
	}
	defer func() {
		for _, f := range fds {
			unix.Close(f)
		}
	}()
	var argv []string
	if err := json.Unmarshal(buf[:n], &argv); err != nil || len(argv) < 2 {
		return nil, fmt.Errorf("bad command %q", buf[:min(n, 200)])
	}
	if len(fds) != 3 {
		return nil, fmt.Errorf("command came with %d descriptors, not 3", len(fds))
	}
	for i, f := range fds {
		if err := unix.Dup3(f, i, 0); err != nil {
			return nil, fmt.Errorf("install stdio: %w", err)
		}
	}
	return argv, nil
}
