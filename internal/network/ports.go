package network

import (
	"fmt"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
)

// Published host ports: the Manager hands them out so that no two
// endpoints hold the same protocol and port on overlapping host
// addresses (the unspecified address overlaps every one). HostPort 0 gets
// a port of the kernel's ephemeral range that no endpoint holds and no
// socket of the host is bound to, taken round-robin so a port just given
// back is not handed out again at once.

type portKey struct {
	proto string
	port  uint16
}

type portHolder struct {
	ip netip.Addr // zero: every address
	ep string
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

func (m *Manager) holdPorts(ep string, ports []PortBinding) {
	for _, p := range ports {
		k := portKey{p.Proto, p.HostPort}
		m.ports[k] = append(m.ports[k], portHolder{ip: p.HostIP, ep: ep})
	}
}

func (m *Manager) releasePorts(ep string, ports []PortBinding) {
	for _, p := range ports {
		k := portKey{p.Proto, p.HostPort}
		hs := m.ports[k][:0]
		for _, h := range m.ports[k] {
			if h.ep != ep {
				hs = append(hs, h)
			}
		}
		if len(hs) == 0 {
			delete(m.ports, k)
		} else {
			m.ports[k] = hs
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

// takePorts resolves and holds ep's bindings; on error it holds none.
// defaultIP is the network's host_binding_ipv4 (zero: every address).
// Callers hold m.mu.
func (m *Manager) takePorts(ep string, want []PortBinding, defaultIP netip.Addr) ([]PortBinding, error) {
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
		if p.HostPort == 0 {
			port, ok := m.freePort(p.Proto, p.HostIP)
			if !ok {
				return fail(errdefs.Errorf(errdefs.ErrUnavailable, "Bind for %s:%d failed: all ports are allocated", hostIPText(p.HostIP), 0))
			}
			p.HostPort = port
		} else if !m.portFree(p.Proto, p.HostPort, p.HostIP) {
			return fail(errdefs.Errorf(errdefs.ErrConflict, "Bind for %s:%d failed: port is already allocated", hostIPText(p.HostIP), p.HostPort))
		}
		m.holdPorts(ep, []PortBinding{p})
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

// freePort finds an ephemeral port for proto on ip. Callers hold m.mu.
func (m *Manager) freePort(proto string, ip netip.Addr) (uint16, bool) {
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
		if m.portFree(proto, port, ip) && hostPortUnbound(proto, ip, port) {
			return port, true
		}
	}
	return 0, false
}

// hostPortUnbound tries to bind proto ip:port: a listener (or a bound UDP
// socket) of the host makes it fail. SO_REUSEADDR keeps connections in
// TIME_WAIT from counting. SCTP is not probed.
func hostPortUnbound(proto string, ip netip.Addr, port uint16) bool {
	var typ int
	switch proto {
	case "tcp":
		typ = unix.SOCK_STREAM
	case "udp":
		typ = unix.SOCK_DGRAM
	default:
		return true
	}
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return true
	}
	defer unix.Close(fd)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	sa := &unix.SockaddrInet4{Port: int(port)}
	if ip.IsValid() {
		sa.Addr = ip.As4()
	}
	return unix.Bind(fd, sa) == nil
}
