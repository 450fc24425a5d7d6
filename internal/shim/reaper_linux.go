package shim

import (
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// reaper collects the exit statuses of the shim's children: the runtime
// commands it runs and, as a child subreaper, the container's init and
// exec'd processes once their runtime command has exited.
//
// It waits on pidfds through the Go runtime's poller, so a waiting shim
// holds no thread and no timer, and the shim does not handle SIGCHLD at
// all (os/signal would park a thread for good). Whenever a watched child
// exits, reapAll reaps every child that has exited, watched or not:
// orphans re-parented to the shim are collected at the next exit the shim
// watches.
type reaper struct {
	mu      sync.Mutex
	waiters map[int]chan unix.WaitStatus
	// early keeps statuses reaped before anyone asked: an exec'd process
	// can exit, and be reaped with some other child, before its pid file
	// was read.
	early map[int]unix.WaitStatus
}

// maxEarly bounds the statuses kept for pids nobody asked about (orphans).
const maxEarly = 64

func newReaper() *reaper {
	return &reaper{waiters: map[int]chan unix.WaitStatus{}, early: map[int]unix.WaitStatus{}}
}

// spawn starts a child and registers it before the reaper can see it
// exit.
func (r *reaper) spawn(argv0 string, argv []string, attr *syscall.ProcAttr) (int, <-chan unix.WaitStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pid, err := syscall.ForkExec(argv0, argv, attr)
	if err != nil {
		return 0, nil, err
	}
	ch := make(chan unix.WaitStatus, 1)
	r.waiters[pid] = ch
	return pid, ch, nil
}

// adopt registers interest in pid, a child the shim did not start itself
// (a container process re-parented to it).
func (r *reaper) adopt(pid int) <-chan unix.WaitStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch := make(chan unix.WaitStatus, 1)
	if ws, ok := r.early[pid]; ok {
		delete(r.early, pid)
		ch <- ws
		return ch
	}
	r.waiters[pid] = ch
	return ch
}

// forget drops interest in pid.
func (r *reaper) forget(pid int) {
	r.mu.Lock()
	delete(r.waiters, pid)
	r.mu.Unlock()
}

// signal sends sig to pid unless pid was reaped: a pid the shim has not
// reaped cannot have been reused.
func (r *reaper) signal(pid int, sig unix.Signal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.waiters[pid]; !ok {
		return unix.ESRCH
	}
	return unix.Kill(pid, sig)
}

// reapAll reaps every exited child and hands each status to its waiter.
func (r *reaper) reapAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		if ch, ok := r.waiters[pid]; ok {
			delete(r.waiters, pid)
			ch <- ws
			continue
		}
		if len(r.early) >= maxEarly {
			for k := range r.early {
				delete(r.early, k)
				break
			}
		}
		r.early[pid] = ws
	}
}

// wait blocks until pid has exited and returns its status; ok is false
// when pid is not the shim's child (its status cannot be known).
func (r *reaper) wait(pid int, ch <-chan unix.WaitStatus) (unix.WaitStatus, bool) {
	// Under the lock no reapAll runs: a pid whose status is not in ch yet
	// is unreaped, so the pidfd opened refers to that child, not to a
	// process that reused its number.
	r.mu.Lock()
	select {
	case ws := <-ch:
		r.mu.Unlock()
		return ws, true
	default:
	}
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	r.mu.Unlock()
	if err == nil {
		awaitExit(fd)
	}
	// err: the pid is gone already, reaped by an earlier reapAll (its
	// status is in ch) or never ours.
	r.reapAll()
	select {
	case ws := <-ch:
		return ws, true
	default:
		r.forget(pid)
		return 0, false
	}
}

// awaitExit blocks, in the poller, until the process of pidfd fd exits;
// it closes fd.
func awaitExit(fd int) {
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Read(func(fd uintptr) bool {
		// A pidfd is readable once its process has exited.
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, 0)
		return err != nil && err != unix.EINTR || n > 0
	})
}
