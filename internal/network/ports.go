package network

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
)

// Published host ports: the Manager hands them out so that no two
// endpoints hold the same protocol and port on overlapping host
// addresses (the unspecified address overlaps every one), and reserves
// each with a socket bound to it (never listening: the firewall's DNAT
// takes the traffic before any socket would see it). The socket makes a
// host process that wants the port fail instead of being silently
// shadowed, keeps the kernel from picking the port as the source of an
// outgoing connection, and finds what is already bound: HostPort 0 gets
// the first port, round-robin through the kernel's ephemeral range, that
// no endpoint holds and that binds. The sockets die with the daemon;
// Reconcile binds them again for the endpoints it keeps.

type portKey struct {
	proto string
	port  uint16
}

type portHolder struct {
	ip netip.Addr // zero: every address
	ep string
	fd int // the reserving socket, -1 if none
}

// ephemeralRange reads net.ipv4.ip_local_port_range (the kernel's default
// when unreadable).
func ephemeralRange() [2]uint16 {
	r := [2]uint16{32768, 60999}
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return r
	}
	var lo, hi int
	if _, err := fmt.Sscan(string(data), &lo, &hi); err == nil && lo > 0 && lo <= hi && hi < 65536 {
		r = [2]uint16{uint16(lo), uint16(hi)}
	}
	return r
}

func overlapIP(a, b netip.Addr) bool { return !a.IsValid() || !b.IsValid() || a == b }

// portFree says whether no endpoint holds proto/port on an address
// overlapping ip. Callers hold m.mu.
func (m *Manager) portFree(proto string, port uint16, ip netip.Addr) bool {
	for _, h := range m.ports[portKey{proto, port}] {
		if overlapIP(h.ip, ip) {
			return false
		}
	}
	return true
}

// holdPorts records ep's ports with their reserving sockets (fds may be
// nil: no sockets). Callers hold m.mu.
func (m *Manager) holdPorts(ep string, ports []PortBinding, fds []int) {
	for i, p := range ports {
		fd := -1
		if i < len(fds) {
			fd = fds[i]
		}
		k := portKey{p.Proto, p.HostPort}
		m.ports[k] = append(m.ports[k], portHolder{ip: p.HostIP, ep: ep, fd: fd})
	}
}

// releasePorts forgets ep's ports and closes their sockets. Callers hold
// m.mu.
func (m *Manager) releasePorts(ep string, ports []PortBinding) {
	for _, p := range ports {
		k := portKey{p.Proto, p.HostPort}
		hs := m.ports[k][:0]
		for _, h := range m.ports[k] {
			if h.ep != ep {
				hs = append(hs, h)
			} else if h.fd >= 0 {
				unix.Close(h.fd)
			}
		}
		if len(hs) == 0 {
			delete(m.ports, k)
		} else {
			m.ports[k] = hs
		}
	}
}

// rebindPorts reserves again the ports of an endpoint loaded from the
// store (after a restart). A port some process took meanwhile is logged:
// the firewall still sends its traffic to the container. Callers hold
// m.mu.
func (m *Manager) rebindPorts(ep string) {
	for k, hs := range m.ports {
		for i, h := range hs {
			if h.ep != ep || h.fd >= 0 {
				continue
			}
			fd, err := bindPort(k.proto, h.ip, k.port)
			if err != nil {
				m.log.Warn("network: cannot reserve a published port again", "port", k.port, "proto", k.proto, "err", err)
				continue
			}
			hs[i].fd = fd
		}
	}
}

func checkPort(p PortBinding) error {
	switch p.Proto {
	case "tcp", "udp", "sctp":
	default:
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid proto '%s'", p.Proto)
	}
	if p.ContainerPort == 0 {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid containerPort: 0")
	}
	if p.HostIP.IsValid() && !p.HostIP.Is4() {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid host IP %s: only IPv4 is supported", p.HostIP)
	}
	return nil
}

// takePorts resolves, reserves and holds ep's bindings to containerIP;
// on error it holds none. defaultIP is the network's host_binding_ipv4
// (zero: every address). Callers hold m.mu.
func (m *Manager) takePorts(ep string, want []PortBinding, defaultIP, containerIP netip.Addr) ([]PortBinding, error) {
	out := make([]PortBinding, 0, len(want))
	fail := func(err error) ([]PortBinding, error) {
		m.releasePorts(ep, out)
		return nil, err
	}
	for _, p := range want {
		if err := checkPort(p); err != nil {
			return fail(err)
		}
		if !p.HostIP.IsValid() || p.HostIP.IsUnspecified() {
			p.HostIP = defaultIP
		}
		var fd int
		if p.HostPort == 0 {
			var ok bool
			if p.HostPort, fd, ok = m.freePort(p.Proto, p.HostIP); !ok {
				return fail(errdefs.Errorf(errdefs.ErrUnavailable, "Bind for %s:0 failed: all ports are allocated", hostIPText(p.HostIP)))
			}
		} else {
			if !m.portFree(p.Proto, p.HostPort, p.HostIP) {
				return fail(errdefs.Errorf(errdefs.ErrConflict, "Bind for %s:%d failed: port is already allocated", hostIPText(p.HostIP), p.HostPort))
			}
			var err error
			if fd, err = bindPortSoon(p.Proto, p.HostIP, p.HostPort); err != nil {
				return fail(errdefs.Errorf(errdefs.ErrUnavailable, "failed to bind host port for %s:%d:%s:%d/%s: %w",
					hostIPText(p.HostIP), p.HostPort, containerIP, p.ContainerPort, p.Proto, unwrapErrno(err)))
			}
		}
		m.holdPorts(ep, []PortBinding{p}, []int{fd})
		out = append(out, p)
	}
	return out, nil
}

func hostIPText(ip netip.Addr) string {
	if !ip.IsValid() {
		return "0.0.0.0"
	}
	return ip.String()
}

// freePort finds and reserves an ephemeral port for proto on ip. Callers
// hold m.mu.
func (m *Manager) freePort(proto string, ip netip.Addr) (uint16, int, bool) {
	lo, hi := m.ephemeral[0], m.ephemeral[1]
	n := int(hi) - int(lo) + 1
	for i := 0; i < n; i++ {
		port := m.nextPort
		if port < lo || port > hi {
			port = lo
		}
		m.nextPort = port + 1
		if port == hi {
			m.nextPort = lo
		}
		if !m.portFree(proto, port, ip) {
			continue
		}
		if fd, err := bindPort(proto, ip, port); err == nil {
			return port, fd, true
		}
	}
	return 0, -1, false
}

// bindPort reserves proto ip:port with a bound socket (no SO_REUSEADDR,
// so no other socket can bind the port while we hold it). SCTP is not
// reserved (fd -1).
func bindPort(proto string, ip netip.Addr, port uint16) (int, error) {
	var typ int
	switch proto {
	case "tcp":
		typ = unix.SOCK_STREAM
	case "udp":
		typ = unix.SOCK_DGRAM
	default:
		return -1, nil
	}
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	sa := &unix.SockaddrInet4{Port: int(port)}
	if ip.IsValid() {
		sa.Addr = ip.As4()
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind %s:%d/%s: %w", hostIPText(ip), port, proto, err)
	}
	return fd, nil
}

// bindPortSoon is bindPort, tried again for a few milliseconds while the
// port is in use: a socket the manager closed a moment ago stays bound
// while a child some other goroutine is forking (a shim, a command) still
// holds the descriptor, until that child's exec closes it.
func bindPortSoon(proto string, ip netip.Addr, port uint16) (int, error) {
	fd, err := bindPort(proto, ip, port)
	for try := 1; errors.Is(err, unix.EADDRINUSE) && try <= 5; try++ {
		time.Sleep(time.Duration(try) * time.Millisecond)
		fd, err = bindPort(proto, ip, port)
	}
	return fd, err
}

// unwrapErrno keeps docker's wording: "address already in use".
func unwrapErrno(err error) error {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}
