package network

import (
	"bytes"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Recycling. A network namespace costs the kernel about a millisecond of
// CPU to make and tear down (unshare, then cleanup_net's per-namespace
// exits and RCU waits in a worker): on a small host, as much as a
// `docker run --rm` of a short command spends in the daemon. Most such
// containers, in network mode none, never touch their loopback. The
// namespace of one that did not is, once the container is gone, the same
// as a new one, and goes back to the pool (RecycleSandbox).
//
// The caller vouches for what it knows of the container (see
// RecycleSandbox); the namespace itself must show that nothing used it:
// loopback its only interface, with every counter zero (no packet ever
// crossed it), and no socket of any protocol bound in it
// (/proc/net/protocols counts them per namespace). A container that sent
// a single packet, or whose socket something outside still holds, has its
// namespace torn down as before.

// openNetns opens the namespace mounted at path; -1 if there is none.
func openNetns(path string) int {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	var st unix.Statfs_t
	if unix.Fstatfs(fd, &st) != nil || st.Type != unix.NSFS_MAGIC {
		unix.Close(fd)
		return -1
	}
	return fd
}

// recycle offers namespace fd to the pool if it is unused, and closes it
// otherwise (or when the pool is full).
func (s *sandboxes) recycle(fd int) {
	if !s.unused(fd) {
		s.log.Debug("network: a sandbox was used, not recycled")
		unix.Close(fd)
		return
	}
	select {
	case s.pool <- fd:
		s.log.Debug("network: sandbox recycled")
	default:
		s.log.Debug("network: sandbox pool full, not recycled")
		unix.Close(fd)
	}
}

// unused says whether namespace fd is as new (see above), from its
// /proc/net files as a thread that visits it sees them.
func (s *sandboxes) unused(fd int) bool {
	var dev, protocols []byte
	var err1, err2 error
	err := inNamespace(fd, s.hostNS, func() {
		dev, err1 = os.ReadFile("/proc/thread-self/net/dev")
		protocols, err2 = os.ReadFile("/proc/thread-self/net/protocols")
	})
	return err == nil && err1 == nil && err2 == nil && onlyIdleLoopback(dev) && noSockets(protocols)
}

// onlyIdleLoopback says whether /proc/net/dev lists lo alone, with every
// counter zero.
func onlyIdleLoopback(dev []byte) bool {
	lines := strings.Split(strings.TrimSpace(string(dev)), "\n")
	if len(lines) != 3 { // two header lines, one interface
		return false
	}
	name, counters, ok := strings.Cut(lines[2], ":")
	if !ok || strings.TrimSpace(name) != "lo" {
		return false
	}
	fields := strings.Fields(counters)
	if len(fields) < 16 {
		return false
	}
	for _, f := range fields {
		if f != "0" {
			return false
		}
	}
	return true
}

// noSockets says whether /proc/net/protocols counts no socket in use for
// any protocol.
func noSockets(protocols []byte) bool {
	lines := bytes.Split(bytes.TrimSpace(protocols), []byte("\n"))
	if len(lines) < 2 {
		return false
	}
	col := -1
	for i, h := range strings.Fields(string(lines[0])) {
		if h == "sockets" {
			col = i
		}
	}
	if col < 0 {
		return false
	}
	for _, l := range lines[1:] {
		f := strings.Fields(string(l))
		if len(f) <= col || f[col] != "0" {
			return false
		}
	}
	return true
}
