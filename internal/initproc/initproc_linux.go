// Package initproc is berth-init, the tiny init `docker run --init` puts
// in front of a container's command (the role tini plays for docker).
//
// As pid 1 of the container's pid namespace it:
//   - starts the command (argv after an optional "--") in a process group of
//     its own, given the terminal's foreground when stdin is a terminal, so
//     ^C and ^Z reach the command as they would without an init;
//   - forwards every signal it receives to the command, except SIGCHLD
//     (its own business), SIGTTIN/SIGTTOU (it gives the terminal away, so
//     these are about itself) and SIGURG (the Go runtime's preemption
//     signal, which would otherwise reach the command unasked);
//   - reaps every child: the kernel makes it the parent of every orphan in
//     the namespace, and a zombie nobody waits for holds a pid forever;
//   - exits with the command's exit code, or 128+N when signal N killed it,
//     as soon as the command has exited (the kernel then kills whatever is
//     left in the namespace).
//
// When it is not pid 1 it makes itself a child subreaper, so orphans of the
// command still come to it.
//
// The process stays small: no goroutines besides the runtime's, and it
// handles signals and child exits in one loop.
package initproc

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// Exit codes for failures of the init itself, as a shell reports them.
const (
	exitUsage       = 2
	exitCannotExec  = 126
	exitNotFound    = 127
	exitSignalsBase = 128
)

// Run runs the init with args (the arguments after the program name) and
// returns the exit code the process must exit with.
func Run(args []string, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: berth-init [--] COMMAND [ARG...]")
		return exitUsage
	}
	if os.Getpid() != 1 {
		// Orphans of the command must still be reaped here.
		_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	}

	// Subscribe before the child exists, so no signal or exit is missed.
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs, forwardable()...)
	signal.Notify(sigs, unix.SIGCHLD, unix.SIGTTIN, unix.SIGTTOU)

	path, err := lookPath(args[0])
	if err != nil {
		fmt.Fprintf(stderr, "berth-init: %v\n", err)
		if errors.Is(err, os.ErrNotExist) {
			return exitNotFound
		}
		return exitCannotExec
	}
	attr := &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	}
	if isTerminal(0) {
		// The command's group becomes the terminal's foreground, as tini does.
		attr.Sys.Foreground = true
		attr.Sys.Ctty = 0
	}
	pid, err := syscall.ForkExec(path, args, attr)
	if err != nil && attr.Sys.Foreground {
		// A terminal we cannot take the foreground of is no reason to fail.
		attr.Sys.Foreground = false
		pid, err = syscall.ForkExec(path, args, attr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "berth-init: exec %s: %v\n", args[0], err)
		if errors.Is(err, unix.ENOENT) {
			return exitNotFound
		}
		return exitCannotExec
	}
	return supervise(pid, sigs)
}

// supervise forwards signals to pid and reaps children until pid exits.
func supervise(pid int, sigs <-chan os.Signal) int {
	for sig := range sigs {
		switch sig {
		case unix.SIGCHLD:
			if code, done := reap(pid); done {
				return code
			}
		case unix.SIGTTIN, unix.SIGTTOU:
			// About the init itself, which gave the terminal away.
		default:
			_ = unix.Kill(pid, sig.(syscall.Signal))
		}
	}
	return 0 // unreachable: sigs is never closed
}

// reap collects every exited child; done reports that pid was among them,
// with its exit code.
func reap(pid int) (code int, done bool) {
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || got <= 0 {
			// ECHILD or nothing more to reap for now.
			return code, done
		}
		if got != pid {
			continue
		}
		done = true
		switch {
		case ws.Exited():
			code = ws.ExitStatus()
		case ws.Signaled():
			code = exitSignalsBase + int(ws.Signal())
		}
	}
}

// forwardable lists the signals passed on to the command: every catchable
// signal but the ones the init keeps (see the package doc).
func forwardable() []os.Signal {
	var out []os.Signal
	for s := syscall.Signal(1); s <= 64; s++ {
		switch s {
		case unix.SIGKILL, unix.SIGSTOP, unix.SIGCHLD, unix.SIGTTIN, unix.SIGTTOU, unix.SIGURG:
			continue
		}
		// 32 and 33 belong to the C library's threads; signal.Notify
		// ignores what the Go runtime cannot hand out.
		if s == 32 || s == 33 {
			continue
		}
		out = append(out, s)
	}
	return out
}

func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}
