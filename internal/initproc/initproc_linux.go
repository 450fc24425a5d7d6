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
// handles signals and child exits in one loop. Every thread counts
// against the container's --pids-limit, so it keeps the Go runtime to as
// few as it can: one P (GOMAXPROCS=1, set by the engine before the runtime
// starts, see internal/initenv), and only non-blocking system calls while
// it supervises, so the scheduler never hands its P to a new thread. What
// is left is the runtime's floor: the main thread, sysmon, the thread the
// runtime's own initialisation hands off to, and os/signal's two (its
// signal-mask thread and the template thread its LockOSThread starts).
// os/signal cannot be done without: the runtime unblocks SIGTERM, SIGINT,
// SIGHUP, SIGQUIT, SIGCHLD and the like in every thread it makes, sysmon
// included, and kills the process on SIGTERM unless os/signal asked for
// it, so neither signalfd nor sigwait can see them.
//
// While it starts it has up to 7 threads at once, so under a pids limit
// below pidsNeeded (8) it says so on stderr and execs the command in its
// place, which then runs as pid 1 without an init, rather than let the
// runtime crash failing to start a thread. Under a limit of 1 or 2 the
// runtime's own start-up fails before any of this code runs.
package initproc

import (
	"errors"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"github.com/berth-project/berth/internal/initenv"
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
		_, _ = io.WriteString(stderr, "usage: berth-init [--] COMMAND [ARG...]\n")
		return exitUsage
	}
	// The engine sets GOMAXPROCS=1 before the runtime starts; this covers
	// an init started some other way, from here on.
	runtime.GOMAXPROCS(1)

	path, err := lookPath(args[0])
	if err != nil {
		_, _ = io.WriteString(stderr, "berth-init: "+err.Error()+"\n")
		if errors.Is(err, os.ErrNotExist) {
			return exitNotFound
		}
		return exitCannotExec
	}
	env := initenv.ForCommand(os.Environ())
	if limit, ok := pidsLimit(); ok && limit < pidsNeeded {
		// The runtime would fail to start a thread and crash; the command
		// can still run, as pid 1 itself.
		_, _ = io.WriteString(stderr, "berth-init: the pids limit ("+strconv.Itoa(limit)+") has no room for the init ("+
			strconv.Itoa(pidsNeeded)+" with the command): running the command without it\n")
		err := syscall.Exec(path, args, env)
		_, _ = io.WriteString(stderr, "berth-init: exec "+args[0]+": "+err.Error()+"\n")
		if errors.Is(err, unix.ENOENT) {
			return exitNotFound
		}
		return exitCannotExec
	}
	if os.Getpid() != 1 {
		// Orphans of the command must still be reaped here.
		_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	}

	// Subscribe before the child exists, so no signal or exit is missed.
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs, append(forwardable(), unix.SIGCHLD, unix.SIGTTIN, unix.SIGTTOU)...)
	// Before the command exists, so it has the threads ended here.
	shedThreads()

	attr := &syscall.ProcAttr{
		Env:   env,
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
	for try := 0; errors.Is(err, unix.EAGAIN) && try < 20; try++ {
		// The pids limit is full: a thread the runtime started meanwhile
		// (a loaded host) ends, or a process of the container does.
		time.Sleep(5 * time.Millisecond)
		shedThreads()
		pid, err = syscall.ForkExec(path, args, attr)
	}
	if errors.Is(err, unix.EAGAIN) {
		// Still no room beside the init: the command runs without it,
		// as under a pids limit below pidsNeeded.
		_, _ = io.WriteString(stderr, "berth-init: the pids limit has no room for the init and the command: running the command without it\n")
		err = syscall.Exec(path, args, env)
	}
	if err != nil {
		_, _ = io.WriteString(stderr, "berth-init: exec "+args[0]+": "+err.Error()+"\n")
		if errors.Is(err, unix.ENOENT) {
			return exitNotFound
		}
		return exitCannotExec
	}
	// Fork's wait for the exec may have had the scheduler start a thread.
	shedThreads()
	return supervise(pid, sigs)
}

// shedRetries and shedRetryDelay: a shedding that failed at the start (a
// loaded host, where the runtime found no idle thread to go on on) is
// tried again that many times, the delay doubling each time.
const (
	shedRetries    = 5
	shedRetryDelay = 50 * time.Millisecond
)

// supervise forwards signals to pid and reaps children until pid exits.
func supervise(pid int, sigs <-chan os.Signal) int {
	var retry <-chan time.Time
	tries := 0
	if threadCount() > threadFloor {
		retry = time.After(shedRetryDelay)
	}
	for {
		select {
		case sig := <-sigs:
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
		case <-retry:
			retry = nil
			shedThreads()
			if tries++; tries < shedRetries && threadCount() > threadFloor {
				retry = time.After(shedRetryDelay << tries)
			}
		}
	}
}

// reap collects every exited child; done reports that pid was among them,
// with its exit code.
func reap(pid int) (code int, done bool) {
	for {
		var ws unix.WaitStatus
		got, err := wait4NoHang(&ws)
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

// wait4NoHang is wait4(-1, ws, WNOHANG) as a raw system call: it never
// blocks, and a raw call keeps the scheduler from handing the init's only
// P to a new thread meanwhile (unix.Wait4 is a blocking-call wrapper).
func wait4NoHang(ws *unix.WaitStatus) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_WAIT4, ^uintptr(0), uintptr(unsafe.Pointer(ws)), unix.WNOHANG, 0, 0, 0)
	if e != 0 {
		return int(r), e
	}
	return int(r), nil
}
