package shim

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// maxAssignment bounds the daemon's assignment: a state directory path.
const maxAssignment = 4096

// pooledName is a pooled shim's process name (comm) until it is assigned
// a container, so that ps tells the waiting ones apart.
const pooledName = "berth-shim-pool"

// setName sets the process's name (/proc/self/comm is the main thread's,
// whichever thread writes it).
func setName(name string) {
	_ = os.WriteFile("/proc/self/comm", []byte(name), 0)
}

// pooled runs a pre-started shim: it prepares Berth's runtime in itself
// for RUNTIME/ROOT (with a spare init under the cgroup parent, if given:
// warmArgs; warm_linux.go), then waits on fd 3 for the state directory of the container
// it is to supervise. It waits at background priority, and its warm
// runtime with it, and keeps it for a container made ahead of need
// (priority_linux.go). A daemon that hangs up first (it
// closed its pool, or died) ends it, and its warm runtime with it.
func pooled(runtimePath string, warmArgs ...string) int {
	if err := initProcess(); err != nil {
		reportReady(ready{Error: err.Error()})
		return 1
	}
	// The warm runtime's create leaves the container's init as an orphan:
	// the shim must already be the subreaper that adopts it.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		reportReady(ready{Error: os.NewSyscallError("prctl(PR_SET_CHILD_SUBREAPER)", err).Error()})
		return 1
	}
	background := enterBackground()
	r := newReaper()
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		reportReady(ready{Error: err.Error()})
		return 1
	}
	setName(pooledName)
	warm, err := startWarm(r, runtimePath, warmArgs...)
	if err != nil {
		// The shim still serves, with a runtime process for create.
		warm = nil
	}
	dir, hurried, err := readAssignment(readyFD)
	if err != nil || dir == "" {
		warm.abort()
		return 0
	}
	setName("berth-shim")
	// The shim's own messages go to its state directory, as a shim
	// started for its container has them.
	if f, err := os.OpenFile(filepath.Join(dir, shimLogFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_CLOEXEC, 0o600); err == nil {
		unix.Dup3(int(f.Fd()), 2, 0)
		f.Close()
	}
	if background && hurried {
		leaveBackground()
		background = false
	}
	return serve(dir, r, devnull, warm, background)
}

// readAssignment reads the daemon's one line from fd: an absolute state
// directory. EOF before it is no assignment (""). hurried says the
// daemon's hurry byte (Pool.StartAhead) came with it. It reads the
// descriptor itself, not through an *os.File, whose finalizer could close
// fd 3 before the shim reports on it.
func readAssignment(fd int) (dir string, hurried bool, err error) {
	var line []byte
	buf := make([]byte, 512)
	for len(line) < maxAssignment {
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return "", false, os.NewSyscallError("read", err)
		}
		if n == 0 {
			if len(line) == 0 {
				return "", false, nil
			}
			return "", false, io.ErrUnexpectedEOF
		}
		line = append(line, buf[:n]...)
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			dir := string(line[:i])
			if !filepath.IsAbs(dir) || filepath.Clean(dir) != dir {
				return "", false, fmt.Errorf("bad state directory %q", dir)
			}
			return dir, i+1 < len(line), nil
		}
	}
	return "", false, fmt.Errorf("assignment longer than %d bytes", maxAssignment)
}
