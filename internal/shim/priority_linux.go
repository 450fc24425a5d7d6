package shim

import (
	"log/slog"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// A pooled shim waits for its container at background priority. The
// shim (with its warm runtime) and its spare init are two Go processes to
// start, some milliseconds of CPU in all, and the pool refills while
// clients are busy: on a small host that work otherwise takes the CPU
// from the containers starting and exiting that someone waits for.
// Assigned a container, the shim returns to normal priority before it
// does anything for it.
//
// A container made ahead of need (the daemon's next container) is created
// at that priority too: no client waits for it yet. The daemon hurries
// the shim, with a byte on the pool's socket, when one starts to (its
// create came, or it waits for the result), and any call does as well.
//
// The priority is the nice value of the shim's autogroup: the kernel
// schedules each session as one group, and a task's own nice value only
// orders it within its group. The shim is a session leader, and its
// warm runtime runs in it, so both wait at the group's priority.
// The spare init shares it too, but runs in a cgroup of its own, which
// autogroups do not reach: the runtime makes that cgroup idle
// (cpu.idle) instead, and keeps a container made ahead idle until the
// hurry, which resets it (leaveIdle; the runtime's idle_linux.go). A container's process begins
// a session of its own (setsid), whose group starts at nice 0: it never
// inherits the shim's. Where the kernel has no autogroups, or schedules
// by cpu cgroups instead, the nice value is kept and has no effect.

// backgroundNice is a waiting pooled shim's autogroup nice value: the
// lowest priority, about 1.5% of a normal group's weight.
const backgroundNice = 19

// capSysAdmin is CAP_SYS_ADMIN's number (linux/capability.h).
const capSysAdmin = 21

// enterBackground lowers this process's autogroup to backgroundNice and
// reports whether it did. It leaves it alone unless this process leads
// its session (the group would be someone else's too) and holds
// CAP_SYS_ADMIN: without it the kernel refuses a second change to any
// autogroup within 100 ms of the last, and leaveBackground must not be
// refused.
func enterBackground() bool {
	if sid, err := unix.Getsid(0); err != nil || sid != os.Getpid() {
		return false
	}
	if !effectiveCap(capSysAdmin) {
		return false
	}
	return setAutogroupNice(backgroundNice) == nil
}

// leaveBackground returns this process's autogroup to normal priority.
func leaveBackground() {
	if err := setAutogroupNice(0); err != nil {
		slog.Warn("leave background priority", "err", err)
	}
}

// lowerAtLaunch lowers the autogroup of pid, a pooled shim just cloned
// (a session leader of its own), to backgroundNice. The shim does so
// itself (enterBackground), but only once its Go runtime has started and
// main runs: its exec and runtime start, most of a millisecond of CPU,
// would run at normal priority, on two cores in the middle of the next
// client's start. The conditions are enterBackground's: with
// CAP_SYS_ADMIN (which the shim inherits), so that the shim's own change
// and its return to normal priority are never refused.
func lowerAtLaunch(pid int) {
	if !effectiveCap(capSysAdmin) {
		return
	}
	// The shim exec'd (ForkExec waits for that) and has not been reaped:
	// a CLONE_PARENT child is the daemon's parent's, which reaps it only
	// once the shim's Go runtime ran and exited, long after this.
	_ = writeAutogroupNice("/proc/"+strconv.Itoa(pid), backgroundNice)
}

func setAutogroupNice(nice int) error { return writeAutogroupNice("/proc/self", nice) }

// writeAutogroupNice sets the nice value of the autogroup of the process
// at procDir (/proc/PID).
func writeAutogroupNice(procDir string, nice int) error {
	return os.WriteFile(procDir+"/autogroup", []byte(strconv.Itoa(nice)), 0)
}

// effectiveCap reports whether this thread's effective set holds cap.
func effectiveCap(capability uint) bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData // version 3 fills two
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[capability/32].Effective&(1<<(capability%32)) != 0
}

// foreground returns the shim to normal priority, once.
func (s *shim) foreground() {
	if s.behind.CompareAndSwap(true, false) {
		leaveBackground()
		// A create under way in this process (warm_linux.go) made its
		// cgroup idle: back to normal now; one done already left the
		// path (leaveIdle).
		leaveWarmIdle()
		s.leaveIdle()
	}
}

// runtimeIdleFile is runtime.IdleFile: in the runtime's state of a
// container created at idle CPU priority, the path of its cgroup's
// cpu.idle.
const runtimeIdleFile = "cpu-idle"

// leaveIdle returns the container's cgroup to normal CPU priority if the
// runtime created it idle. It runs after the autogroup change, which a
// create still under way watches for: one of the two resets it.
func (s *shim) leaveIdle() {
	dir, ok := s.runtimeStateDir()
	if !ok {
		return
	}
	p, err := os.ReadFile(filepath.Join(dir, runtimeIdleFile))
	if err != nil {
		return
	}
	if err := os.WriteFile(string(p), []byte("0"), 0); err != nil {
		slog.Warn("leave idle CPU priority", "file", string(p), "err", err)
	}
}

// watchHurry watches the pool's socket (fd 3, where the shim reports once
// its container is created) for the daemon's byte that says a client now
// waits, until the returned stop, which must come before the report: a
// copy of the socket still open would keep the daemon from its end.
func (s *shim) watchHurry() (stop func()) {
	fd, err := unix.FcntlInt(readyFD, unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		s.foreground()
		return func() {}
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		s.foreground()
		return func() {}
	}
	// Non-blocking, so read through the poller, which Close interrupts.
	f := os.NewFile(uintptr(fd), "hurry")
	done := make(chan struct{})
	go func() {
		defer close(done)
		var b [1]byte
		if n, _ := f.Read(b[:]); n > 0 {
			s.foreground()
		}
	}()
	return func() {
		// No byte may come after this, nor stay unread: a unix socket
		// closed with unread data resets its peer's read, and the daemon
		// would lose the report. A byte that came before the reader ran
		// still counts.
		_ = unix.Shutdown(fd, unix.SHUT_RD)
		var b [16]byte
		for {
			n, err := unix.Read(fd, b[:])
			if err == unix.EINTR {
				continue
			}
			if n <= 0 {
				break
			}
			s.foreground()
		}
		f.Close()
		<-done
	}
}
