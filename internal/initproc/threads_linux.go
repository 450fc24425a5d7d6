package initproc

import (
	"bytes"
	"runtime"
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// threadFloor is how many threads the init needs once it has subscribed to
// signals: the thread that runs its goroutines, sysmon, the template
// thread, os/signal's signal-mask thread and the one waiting in os/signal's
// receiver (see the package doc). The runtime's start-up, os/signal's
// hand-offs and blocking system calls (fork's) leave one or two more
// behind, idle; shedThreads ends them.
const threadFloor = 5

// shedThreads ends the runtime's idle threads, down to threadFloor, so the
// command has more of the container's --pids-limit. A goroutine that
// returns while locked to its thread ends that thread (runtime.LockOSThread)
// and the scheduler goes on on an idle one. With no idle one to go on on,
// the runtime starts a thread before the old one is gone, which under a
// full pids limit is a fatal error: so it sheds only while the limit has
// room for one more, and gives up after a few rounds that did not lower
// the count.
func shedThreads() {
	// Let os/signal's receiver block first, so the thread it blocks in is
	// not taken for a spare one.
	for range 3 {
		runtime.Gosched()
	}
	const maxFailed = 4
	failed := 0
	for range 10 {
		n := threadCount()
		if n <= threadFloor || !pidsRoom() {
			return
		}
		done := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			close(done)
		}()
		<-done
		// The thread exits only after it has handed the P over, on another
		// CPU or once this one yields: a few microseconds. A count that
		// has not gone down by then will not: the runtime had no idle
		// thread to go on on and started one.
		decreased := false
		for deadline := time.Now().Add(2 * time.Millisecond); !decreased && time.Now().Before(deadline); {
			runtime.Gosched()
			_, _, _ = unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
			decreased = threadCount() < n
		}
		if !decreased {
			if failed++; failed == maxFailed {
				return
			}
		}
	}
}

// pidsNeeded is the smallest pids limit the init runs under: the most
// threads it has at once while it starts (7: what shedThreads later ends
// is there before it can), and one for the command. Below it the runtime
// would crash starting a thread, or fork would fail.
const pidsNeeded = 8

// pidsRoom reports whether the container's pids cgroup has room for one
// more task; true when there is no limit or none can be read.
func pidsRoom() bool {
	limit, ok := pidsLimit()
	if !ok {
		return true
	}
	cur, ok := readInt("/sys/fs/cgroup/pids.current\x00")
	if !ok {
		cur, ok = readInt("/sys/fs/cgroup/pids/pids.current\x00")
	}
	return !ok || cur < limit
}

// pidsLimit returns the container's pids limit: its pids cgroup's, v2 or
// v1's pids hierarchy, as mounted in the container. ok is false when there
// is no limit or it cannot be read.
func pidsLimit() (limit int, ok bool) {
	if limit, ok = readInt("/sys/fs/cgroup/pids.max\x00"); ok {
		return limit, true
	}
	return readInt("/sys/fs/cgroup/pids/pids.max\x00")
}

// readInt reads a file holding a decimal number (path NUL-terminated);
// ok is false when it cannot be read or holds something else ("max").
func readInt(path string) (int, bool) {
	var buf [32]byte
	b, ok := readSmall(path, buf[:])
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(string(bytes.TrimSpace(b)))
	return n, err == nil
}

// threadCount returns the process's thread count from /proc/self/status,
// or 0 if it cannot be read.
func threadCount() int {
	var buf [4096]byte
	b, _ := readSmall("/proc/self/status\x00", buf[:])
	return parseThreads(b)
}

// parseThreads reads the Threads: line of a /proc/PID/status.
func parseThreads(status []byte) int {
	_, rest, ok := bytes.Cut(status, []byte("\nThreads:"))
	if !ok {
		return 0
	}
	count := 0
	for _, c := range bytes.TrimLeft(rest, " \t") {
		if c < '0' || c > '9' {
			break
		}
		count = count*10 + int(c-'0')
	}
	return count
}

// readSmall reads the file at path (NUL-terminated) into buf, with raw
// system calls and no allocation: shedThreads polls with it, and the
// blocking-call wrappers let the scheduler start a thread while they run,
// the very thing shedThreads is undoing.
func readSmall(path string, buf []byte) ([]byte, bool) {
	cwd := unix.AT_FDCWD
	fd, _, e := unix.RawSyscall6(unix.SYS_OPENAT, uintptr(cwd), uintptr(unsafe.Pointer(unsafe.StringData(path))), unix.O_RDONLY|unix.O_CLOEXEC, 0, 0, 0)
	if e != 0 {
		return nil, false
	}
	n, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	_, _, _ = unix.RawSyscall(unix.SYS_CLOSE, fd, 0, 0)
	if e != 0 {
		return nil, false
	}
	return buf[:n], true
}
