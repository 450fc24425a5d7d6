package shim

import (
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// The shim holds, while the container runs, what the init's end would
// otherwise tear down on the way to its exit being answered:
//
//   - its mount namespace: the kernel tears it down (every mount of the
//     container, and an expedited RCU grace period) in the init's exit,
//     which the shim hears of only once the namespace is gone (0.2-0.4 ms
//     of every exit here);
//   - its executable: Berth's runtime runs its init from a detached
//     read-only overlay of its own binary (CVE-2019-5736), which lives as
//     long as the processes using it. The init's exec of the container's
//     process drops the last of them, and the overlay's teardown (another
//     expedited grace period) ran inside that exec, on every start.
//
// Both go once the exit is answered.

// holdInit opens the init's mount namespace and executable, each when it
// can.
func holdInit(pid int) []*os.File {
	var held []*os.File
	dir := "/proc/" + strconv.Itoa(pid)
	if fd, err := unix.Open(dir+"/ns/mnt", unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
		held = append(held, os.NewFile(uintptr(fd), "mnt-ns"))
	}
	if fd, err := unix.Open(dir+"/exe", unix.O_PATH|unix.O_CLOEXEC, 0); err == nil {
		held = append(held, os.NewFile(uintptr(fd), "init-exe"))
	}
	return held
}

// releaseInit lets what holdInit held go, once. It first yields, so that
// the goroutines the exit woke (the answers to waits) run before the
// teardown holds up this thread, the shim's only one running Go code.
// The exec into the hibernation keeper closes them too (close-on-exec).
func (s *shim) releaseInit() {
	s.mu.Lock()
	held := s.held
	s.held = nil
	s.mu.Unlock()
	if len(held) == 0 {
		return
	}
	runtime.Gosched()
	for _, f := range held {
		f.Close()
	}
}
