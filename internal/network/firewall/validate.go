package firewall

import (
	"net/netip"

	"github.com/berth-project/berth/internal/errdefs"
)

// Every input is checked before anything is changed on the host; each
// check is one small function.

func validateNet(n Net) error {
	if err := validBridge(n.Bridge); err != nil {
		return err
	}
	if !n.Subnet.IsValid() || !n.Subnet.Addr().Is4() {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "firewall: network %s: subnet %v is not an IPv4 prefix", n.Bridge, n.Subnet)
	}
	return nil
}

func validBridge(name string) error {
	if name == "" || len(name) > 15 {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "firewall: bridge name %q must be 1 to 15 bytes", name)
	}
	for _, c := range name {
		// Names go into iptables arguments and nft comments: no spaces,
		// quotes or '+' (an iptables wildcard).
		if c <= ' ' || c == '"' || c == '\'' || c == '+' || c == '/' || c > '~' {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "firewall: bridge name %q has an invalid character", name)
		}
	}
	return nil
}

func validateNets(nets []Net) error {
	seen := map[string]bool{}
	for _, n := range nets {
		if err := validateNet(n); err != nil {
			return err
		}
		if seen[n.Bridge] {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "firewall: bridge %s given twice", n.Bridge)
		}
		seen[n.Bridge] = true
	}
	return nil
}

// validKey keeps keys usable as nft comments and iptables comment text.
func validKey(key string) error {
	if key == "" || len(key) > 128 {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "firewall: key %q must be 1 to 128 bytes", key)
	}
	for _, c := range key {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "firewall: key %q: only letters, digits, '-', '_' and '.'", key)
		}
	}
	return nil
}

func validateMapping(m Mapping) error {
	if _, ok := protoNumbers[m.Proto]; !ok {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "firewall: invalid protocol %q (want tcp, udp or sctp)", m.Proto)
	}
	if m.HostPort == 0 || m.ContainerPort == 0 {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "firewall: %s mapping %d->%d: ports must not be 0", m.Proto, m.HostPort, m.ContainerPort)
	}
	if !m.ContainerIP.Is4() {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "firewall: container address %v is not IPv4", m.ContainerIP)
	}
	if m.HostIP.IsValid() && (!m.HostIP.Is4() || m.HostIP.IsUnspecified()) {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "firewall: host address %v is not a unicast IPv4 address", m.HostIP)
	}
	return nil
}

// normalizePorts checks one key's mappings and returns them in the form the
// backends install:
//   - a host address 0.0.0.0 means every address (the zero Addr), as the
//     Engine API's HostIp "0.0.0.0" does;
//   - a mapping on an IPv6 host address ("::" included, which docker adds
//     beside "0.0.0.0") is left out: the backends are IPv4-only;
//   - the same mapping given twice is kept once; one host port sent to two
//     different places is InvalidParameter.
func normalizePorts(key string, ms []Mapping) ([]Mapping, error) {
	if err := validKey(key); err != nil {
		return nil, err
	}
	out := make([]Mapping, 0, len(ms))
	seen := map[portID]Mapping{}
	for _, m := range ms {
		if m.HostIP.Is4In6() {
			m.HostIP = m.HostIP.Unmap()
		}
		if m.HostIP.Is6() {
			continue
		}
		if m.HostIP.IsUnspecified() {
			m.HostIP = netip.Addr{}
		}
		if m.ContainerIP.Is4In6() {
			m.ContainerIP = m.ContainerIP.Unmap()
		}
		if err := validateMapping(m); err != nil {
			return nil, err
		}
		if prev, ok := seen[m.id()]; ok {
			if prev.ContainerIP == m.ContainerIP && prev.ContainerPort == m.ContainerPort {
				continue
			}
			return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "firewall: %s port %s:%d published twice", m.Proto, hostIPString(m.HostIP), m.HostPort)
		}
		seen[m.id()] = m
		out = append(out, m)
	}
	return out, nil
}

// normalizePortSet normalizes a whole state (Sync): each key's mappings,
// and no host port published by two keys.
func normalizePortSet(ports map[string][]Mapping) (map[string][]Mapping, error) {
	owner := map[portID]string{}
	out := make(map[string][]Mapping, len(ports))
	for key, ms := range ports {
		ms, err := normalizePorts(key, ms)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if other, ok := owner[m.id()]; ok {
				return nil, conflict(m, other)
			}
			owner[m.id()] = key
		}
		out[key] = ms
	}
	return out, nil
}

func conflict(m Mapping, owner string) error {
	return errdefs.Errorf(errdefs.ErrConflict, "firewall: %s port %s:%d is already published by %s", m.Proto, hostIPString(m.HostIP), m.HostPort, owner)
}

func hostIPString(a netip.Addr) string {
	if !a.IsValid() {
		return "0.0.0.0"
	}
	return a.String()
}
