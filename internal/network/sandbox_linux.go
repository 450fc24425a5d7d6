package network

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
)

// A sandbox is a network namespace kept alive by a bind mount of its nsfs
// file at <ExecRoot>/<container id>, so it outlives the daemon (live
// restore) and the container's process can join it by path.
//
// Making a namespace costs a thread (unshare works on the calling thread
// only) and, in the kernel, most of a millisecond; the sandboxes type keeps
// a few ready as open nsfs descriptors, refilled in the background, so
// NewSandbox on the hot path is a create, a bind mount and a close. Pooled
// namespaces are plain descriptors: a daemon that dies leaks none of them.

// poolSize is how many ready namespaces a refill leaves waiting; two cover
// a burst of starts while the refill catches up.
const poolSize = 2

// plainPoolCap is how many plain ones may wait: recycled namespaces come
// back in no set order with the takes, so the pool keeps room for them
// above what a refill leaves, and is refilled only when empty.
const plainPoolCap = 2 * poolSize

// refillDelay is how long after a take the pool refills. Making a
// namespace costs CPU (most of a millisecond in the kernel) that, on a
// small host, the start which took one would otherwise compete with: its
// container's first milliseconds and, for `run --rm`, its exit and
// removal. By then the client has its answer.
const refillDelay = 20 * time.Millisecond

type sandboxes struct {
	dir    string
	hostNS int // the daemon's own network namespace (Manager.hostNS)
	log    *slog.Logger
	mtu    int
	pool   chan int       // nsfs descriptors with loopback up
	ready  chan readyLink // the same with a veth pair (ready_linux.go)
	refill chan struct{}
	stop   chan struct{}
	wg     sync.WaitGroup

	mu       sync.Mutex
	removing map[string]chan struct{} // container id -> closed when its removal is done
	removals sync.WaitGroup
	fresh    map[string]freshSandbox // made by create, not connected yet

	readyTaken readyCounter
	refillDue  atomic.Bool // a kickSoon is pending
}

func newSandboxes(dir string, hostNS int, log *slog.Logger, mtu int) (*sandboxes, error) {
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, err
	}
	s := &sandboxes{
		dir:      dir,
		hostNS:   hostNS,
		log:      log,
		mtu:      mtu,
		pool:     make(chan int, plainPoolCap),
		ready:    make(chan readyLink, poolSize),
		fresh:    map[string]freshSandbox{},
		refill:   make(chan struct{}, 1),
		stop:     make(chan struct{}),
		removing: map[string]chan struct{}{},
	}
	s.wg.Add(1)
	go s.filler()
	s.kick()
	return s, nil
}

// Ahead marks ctx as work done ahead of any client's need (the daemon's
// next container): a namespace it takes is replaced at once, while no
// client's start or exit waits, rather than refillDelay later, when the
// next client's would.
func Ahead(ctx context.Context) context.Context {
	return context.WithValue(ctx, aheadKey{}, true)
}

type aheadKey struct{}

func isAhead(ctx context.Context) bool {
	ahead, _ := ctx.Value(aheadKey{}).(bool)
	return ahead
}

// kickSoon refills after refillDelay; takes within it share one refill.
func (s *sandboxes) kickSoon() {
	if s.refillDue.CompareAndSwap(false, true) {
		time.AfterFunc(refillDelay, func() {
			s.refillDue.Store(false)
			s.kick()
		})
	}
}

func (s *sandboxes) kick() {
	select {
	case s.refill <- struct{}{}:
	default:
	}
}

// filler keeps the pool full until close.
func (s *sandboxes) filler() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case <-s.refill:
		}
		if !s.fillPlain() || !s.fillReady() {
			return
		}
	}
}

// fillPlain tops the plain pool up; false when stopped.
func (s *sandboxes) fillPlain() bool {
	for len(s.pool) < poolSize {
		fd, err := makeNetns()
		if err != nil {
			// The hot path makes its own then, and reports the error.
			return true
		}
		select {
		case <-s.stop:
			unix.Close(fd)
			return false
		default:
		}
		select {
		case s.pool <- fd:
		default: // filled meanwhile (a swap gave one back)
			unix.Close(fd)
			return true
		}
	}
	return true
}

func (s *sandboxes) close() {
	s.removals.Wait()
	close(s.stop)
	s.wg.Wait()
	for {
		select {
		case fd := <-s.pool:
			unix.Close(fd)
		case r := <-s.ready:
			unix.Close(r.fd)
		default:
			s.mu.Lock()
			for id, f := range s.fresh {
				unix.Close(f.fd)
				delete(s.fresh, id)
			}
			s.mu.Unlock()
			return
		}
	}
}

func (s *sandboxes) path(id string) string { return filepath.Join(s.dir, id) }

// create makes the sandbox of container id. A sandbox already mounted
// there is a Conflict; a bare file (a crash between create and mount) is
// reused.
func (s *sandboxes) create(ctx context.Context, id string) (string, error) {
	if err := checkContainerID(id); err != nil {
		return "", err
	}
	// A restart of the container may come before its last run's sandbox
	// is gone.
	s.mu.Lock()
	pending := s.removing[id]
	s.mu.Unlock()
	if pending != nil {
		select {
		case <-pending:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	var fd int
	select {
	case fd = <-s.pool:
	default:
		var err error
		if fd, err = makeNetns(); err != nil {
			return "", err
		}
	}
	// Only an empty pool is refilled: one left lower is topped up again by
	// the sandboxes that come back (recycle_linux.go), where a refill
	// would make a namespace and leave no room for them.
	if len(s.pool) == 0 {
		if isAhead(ctx) {
			defer s.kick()
		} else {
			defer s.kickSoon()
		}
	}

	path := s.path(id)
	f, err := unix.Open(path, unix.O_RDONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o444)
	switch {
	case err == nil:
		unix.Close(f)
	case errors.Is(err, unix.EEXIST):
		if isNsfs(path) {
			unix.Close(fd)
			return "", errdefs.Errorf(errdefs.ErrConflict, "network sandbox of container %s already exists", id)
		}
	default:
		unix.Close(fd)
		return "", &os.PathError{Op: "create", Path: path, Err: err}
	}
	src := "/proc/self/fd/" + strconv.Itoa(fd)
	if err := unix.Mount(src, path, "", unix.MS_BIND, ""); err != nil {
		unix.Close(fd)
		_ = os.Remove(path)
		return "", fmt.Errorf("mount %s on %s (MS_BIND): %w", src, path, err)
	}
	s.mu.Lock()
	if old, ok := s.fresh[id]; ok {
		unix.Close(old.fd)
	}
	s.fresh[id] = freshSandbox{fd: fd, at: time.Now()}
	s.mu.Unlock()
	return path, nil
}

// remove unmounts and deletes container id's sandbox in the background:
// an unmount waits for an RCU grace period (milliseconds on a busy host),
// which the container-stop path need not. Absent is no error; a failure
// is logged, and Reconcile removes what is left. With recycle the
// namespace goes back to the pool if it is still as new (recycle_linux.go).
func (s *sandboxes) remove(id string, recycle bool) error {
	if err := checkContainerID(id); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.fresh[id]; ok {
		unix.Close(f.fd)
		delete(s.fresh, id)
	}
	if s.removing[id] != nil {
		return nil
	}
	done := make(chan struct{})
	s.removing[id] = done
	s.removals.Add(1)
	go func() {
		defer s.removals.Done()
		kept := -1
		if recycle {
			kept = openNetns(s.path(id))
		}
		if err := removeNetnsFile(s.path(id)); err != nil {
			s.log.Warn("network: removing a sandbox", "container", id, "err", err)
			if kept >= 0 {
				unix.Close(kept)
				kept = -1
			}
		}
		if kept >= 0 {
			s.recycle(kept)
		}
		s.mu.Lock()
		delete(s.removing, id)
		s.mu.Unlock()
		close(done)
	}()
	return nil
}

// wait returns once every removal started has finished.
func (s *sandboxes) wait() { s.removals.Wait() }

func removeNetnsFile(path string) error {
	// MNT_DETACH: a process still inside keeps the namespace; the name
	// goes. Every layer: a ready namespace is mounted over the first.
	for layer := 0; layer < 8; layer++ {
		err := unix.Unmount(path, unix.MNT_DETACH)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			break
		}
		if err != nil {
			return fmt.Errorf("unmount %s (MNT_DETACH): %w", path, err)
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// isNsfs says whether path is a mounted namespace file.
func isNsfs(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}

// checkContainerID keeps ids to a single path element.
func checkContainerID(id string) error {
	if id == "" || id == "." || id == ".." || filepath.Base(id) != id {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid container id %q", id)
	}
	return nil
}

// makeNetns returns a descriptor of a new network namespace whose loopback
// is up. The thread that made it stays in it and is thrown away: the
// goroutine exits still locked, so the Go scheduler never runs anything
// else on a thread in the wrong namespace.
func makeNetns() (int, error) {
	type result struct {
		fd  int
		err error
	}
	ch := make(chan result, 1)
	var work func()
	work = func() {
		runtime.LockOSThread() // never unlocked, on purpose (see above)
		if unix.Gettid() == unix.Getpid() {
			// The main thread is never thrown away, only parked, and
			// /proc/self and /proc/net show its namespace: unshare on
			// another one. While this goroutine holds the main thread,
			// the new goroutine cannot run on it.
			done := make(chan struct{})
			go func() { work(); close(done) }()
			<-done
			runtime.UnlockOSThread()
			return
		}
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- result{-1, fmt.Errorf("unshare(CLONE_NEWNET): %w", err)}
			return
		}
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- result{-1, &os.PathError{Op: "open", Path: "/proc/thread-self/ns/net", Err: err}}
			return
		}
		if err := loopbackUp(); err != nil {
			unix.Close(fd)
			ch <- result{-1, err}
			return
		}
		ch <- result{fd, nil}
	}
	go work()
	r := <-ch
	return r.fd, r.err
}

// loopbackUp sets IFF_UP on lo of the calling thread's namespace with two
// ioctls, cheaper than a netlink socket for one flag.
func loopbackUp() error {
	sock, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(sock)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(sock, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("ioctl(lo, SIOCGIFFLAGS): %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(sock, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("ioctl(lo, SIOCSIFFLAGS): %w", err)
	}
	return nil
}

// NewSandbox creates container id's network namespace, bind-mounted at
// <ExecRoot>/<id> with loopback up, and returns its path.
func (m *Manager) NewSandbox(ctx context.Context, containerID string) (string, error) {
	return m.sandboxes.create(ctx, containerID)
}

// RemoveSandbox unmounts and removes container id's namespace file, in
// the background (a NewSandbox for the same id waits for it); an absent
// one is not an error. Endpoints still connected lose their veth with the
// namespace; Disconnect first to release their addresses.
func (m *Manager) RemoveSandbox(ctx context.Context, containerID string) error {
	return m.sandboxes.remove(containerID, false)
}

// RecycleSandbox is RemoveSandbox for a namespace that the caller knows
// no process is left in and none could have changed: the container had
// network mode none, its own pid namespace (which died with it), neither
// CAP_NET_ADMIN nor net.* sysctls of its own, and no other container
// joined its network. If the namespace is still as new (recycle_linux.go)
// the next container gets it, and neither pays the kernel's making and
// tearing down of a namespace.
func (m *Manager) RecycleSandbox(ctx context.Context, containerID string) error {
	return m.sandboxes.remove(containerID, true)
}
