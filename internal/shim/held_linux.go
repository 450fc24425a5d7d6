package shim

import (
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// The shim holds what the init's start and end would otherwise tear down
// on the way to an answer somebody waits for:
//
//   - its executable, until the start is answered: Berth's runtime runs
//     its init from a detached read-only overlay of its own binary
//     (CVE-2019-5736), which lives as long as the processes using it. The
//     init's exec of the container's process drops the last of them, and
//     the overlay's teardown (an expedited RCU grace period) ran inside
//     that exec, on every start.
//   - its mount namespace, until the exit is answered: the kernel tears it
//     down (every mount of the container, and another expedited grace
//     period) in the init's exit, which the shim hears of only once the
//     namespace is gone (0.2-0.4 ms of every exit here).

// initHold is what the shim holds of the init.
type initHold struct {
	mntNS *os.File
	exe   *os.File
}

// holdInit opens the init's mount namespace and executable, each when it
// can.
func holdInit(pid int) initHold {
	var h initHold
	dir := "/proc/" + strconv.Itoa(pid)
	if fd, err := unix.Open(dir+"/ns/mnt", unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
		h.mntNS = os.NewFile(uintptr(fd), "mnt-ns")
	}
	if fd, err := unix.Open(dir+"/exe", unix.O_PATH|unix.O_CLOEXEC, 0); err == nil {
		h.exe = os.NewFile(uintptr(fd), "init-exe")
	}
	return h
}

// releaseInitExe lets the init's executable go, once: after the start is
// answered, so that a thousand running containers do not keep a thousand
// overlays.
func (s *shim) releaseInitExe() {
	s.mu.Lock()
	f := s.held.exe
	s.held.exe = nil
	s.mu.Unlock()
	if f != nil {
		f.Close()
	}
}

// releaseInit lets all that holdInit held go, once. It first yields, so
// that the goroutines the exit woke (the answers to waits) run before the
// teardowns hold up this thread, the shim's only one running Go code.
// The exec into the hibernation keeper closes them too (close-on-exec).
func (s *shim) releaseInit() {
	s.mu.Lock()
	held := s.held
	s.held = initHold{}
	s.mu.Unlock()
	if held.mntNS == nil && held.exe == nil {
		return
	}
	runtime.Gosched()
	for _, f := range []*os.File{held.exe, held.mntNS} {
		if f != nil {
			f.Close()
		}
	}
}
