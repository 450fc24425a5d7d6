package shim

import (
	"encoding/json"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// warmRuntime is a runtime process a pooled shim starts before it knows
// its container (`RUNTIME warm ROOT`, Berth's runtime only): by the time
// the container comes, the runtime's own start (a cgo binary's loader, the
// Go runtime, its package initialization, the write-protected view of
// itself, the cgroup layout) is behind it, and create begins at once. It
// gets its command's argv and stdio over a unix socket; from then on it is
// a runtime command like any other (runtimeCmd).
type warmRuntime struct {
	path, root string
	pid        int
	ch         <-chan unix.WaitStatus
	conn       *os.File // the shim's end of the command socket
}

// startWarm starts the warm runtime for args, its root and, optionally,
// the cgroup parent of its spare init; stdio is /dev/null until its
// command brings its own.
func startWarm(r *reaper, devnull *os.File, env []string, path string, args ...string) (*warmRuntime, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socketpair", err)
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "warm"), os.NewFile(uintptr(fds[1]), "warm")
	defer theirs.Close()
	pid, ch, err := r.spawn(path, append([]string{"berth-runtime", "warm"}, args...), &syscall.ProcAttr{
		Env:   env,
		Files: []uintptr{devnull.Fd(), devnull.Fd(), devnull.Fd(), theirs.Fd()},
	})
	if err != nil {
		mine.Close()
		return nil, fmt.Errorf("start warm runtime: %w", err)
	}
	return &warmRuntime{path: path, root: args[0], pid: pid, ch: ch, conn: mine}, nil
}

// serves tells whether the warm runtime can run cfg's commands: the same
// binary and state root, and no extra global flags.
func (w *warmRuntime) serves(cfg *Config) bool {
	return w != nil && cfg.Runtime == w.path && cfg.RuntimeRoot == w.root && len(cfg.RuntimeArgs) == 0
}

// run hands the warm runtime its command; it is then waited for as a
// runtime command (the runtimeCmd's stdio files stay the caller's), which
// reports its exit status on w.conn, the caller's from then on. On error
// w.conn is the caller's to close (abort).
func (w *warmRuntime) run(argv []string, stdio [3]*os.File) error {
	msg, err := json.Marshal(argv)
	if err != nil {
		return err
	}
	rights := unix.UnixRights(int(stdio[0].Fd()), int(stdio[1].Fd()), int(stdio[2].Fd()))
	if err := unix.Sendmsg(int(w.conn.Fd()), msg, rights, nil, 0); err != nil {
		return os.NewSyscallError("sendmsg", err)
	}
	return nil
}

// abort ends a warm runtime that will not be used: hanging up makes it
// exit; it is reaped here.
func (w *warmRuntime) abort(r *reaper) {
	if w == nil {
		return
	}
	w.conn.Close()
	r.wait(w.pid, w.ch)
}
