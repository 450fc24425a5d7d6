package network

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Ready interfaces: the kernel's creation of a veth pair (two netdevs with
// their sysfs and sysctl entries) is most of Connect's cost, a millisecond
// or several on a busy host. So the pool also keeps a few namespaces that
// already hold a veth pair: "eth0" inside, down, and its host side, down
// and on no bridge, in the host's namespace. The first Connect of a
// sandbox that NewSandbox has just made, while no process can be in it
// yet, bind-mounts such a namespace over the sandbox's (on top of it: an
// unmount would wait for an RCU grace period) and only has to put the
// host side on the bridge and configure eth0. The namespace underneath
// has never been used and goes back to the plain pool; it stays mounted,
// hidden, until RemoveSandbox unmounts every layer.
//
// "Just made" is enforced twice: a sandbox stops being fresh at its first
// Connect (whatever its path), and after freshFor, so a namespace a
// container already runs in is never replaced (the daemon also refuses to
// connect a running --network none container, as docker).
//
// A daemon that dies leaks nothing: a ready namespace is held by a
// descriptor only, and the veth pair dies with it.

// freshFor bounds how long after NewSandbox its first Connect may swap.
const freshFor = 2 * time.Second

// readyCounter counts the ready interfaces Connect took (tests).
type readyCounter = atomic.Int64

type readyLink struct {
	fd    int    // the namespace, eth0 inside
	host  string // the host side's name
	index int    // the host side's index
}

type freshSandbox struct {
	fd int // the namespace NewSandbox mounted, to give back to the pool
	at time.Time
}

// makeReady makes a namespace with a veth pair, eth0 inside, mtu on both.
func makeReady(h *netlink.Handle, mtu int) (readyLink, error) {
	fd, err := makeNetns()
	if err != nil {
		return readyLink{}, err
	}
	host := "v" + newID()[:14]
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: host, MTU: mtu, TxQLen: -1},
		PeerName:      "eth0",
		PeerNamespace: netlink.NsFd(fd),
	}
	if err := h.LinkAdd(veth); err != nil {
		unix.Close(fd)
		return readyLink{}, fmt.Errorf("create veth %s: %w", host, err)
	}
	link, err := h.LinkByName(host)
	if err != nil {
		unix.Close(fd) // the pair dies with the namespace
		return readyLink{}, fmt.Errorf("veth %s: %w", host, err)
	}
	return readyLink{fd: fd, host: host, index: link.Attrs().Index}, nil
}

// fillReady tops the ready pool up; false when stopped.
func (s *sandboxes) fillReady() bool {
	if len(s.ready) == cap(s.ready) {
		return true
	}
	h, err := routeHandle()
	if err != nil {
		return true
	}
	defer h.Close()
	for len(s.ready) < cap(s.ready) {
		r, err := makeReady(h, s.mtu)
		if err != nil {
			s.log.Debug("network: preparing an interface", "err", err)
			return true
		}
		select {
		case <-s.stop:
			unix.Close(r.fd)
			return false
		default:
		}
		select {
		case s.ready <- r:
		default: // filled meanwhile by another caller
			unix.Close(r.fd)
			return true
		}
	}
	return true
}

// takeFresh ends id's freshness and, if it is still fresh and a ready
// namespace is there, returns that and the namespace to give back.
func (s *sandboxes) takeFresh(id string) (readyLink, int, bool) {
	s.mu.Lock()
	f, ok := s.fresh[id]
	delete(s.fresh, id)
	s.mu.Unlock()
	if !ok {
		return readyLink{}, -1, false
	}
	if time.Since(f.at) > freshFor {
		unix.Close(f.fd)
		return readyLink{}, -1, false
	}
	select {
	case r := <-s.ready:
		s.kickSoon()
		s.readyTaken.Add(1)
		return r, f.fd, true
	default:
		unix.Close(f.fd)
		return readyLink{}, -1, false
	}
}

// swap mounts the ready namespace over the sandbox at path; old, the
// namespace underneath, goes back to the plain pool (nothing was ever in
// it).
func (s *sandboxes) swap(path string, r readyLink, old int) error {
	if err := unix.Mount("/proc/self/fd/"+strconv.Itoa(r.fd), path, "", unix.MS_BIND, ""); err != nil {
		unix.Close(old)
		return fmt.Errorf("mount a ready namespace on %s (MS_BIND): %w", path, err)
	}
	select {
	case s.pool <- old:
	default:
		unix.Close(old)
	}
	return nil
}
