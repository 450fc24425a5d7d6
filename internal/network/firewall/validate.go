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
	if m.HostIP.IsValid() && !m.HostIP.Is4() {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "firewall: host address %v is not IPv4", m.HostIP)
	}
	if m.HostIP.IsValid() && m.HostIP.IsUnspecified() {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "firewall: host address 0.0.0.0: pass the zero netip.Addr for every address")
	}
	return nil
}

// validatePorts checks one key's mappings; they must not publish the same
// host address, protocol and port twice.
func validatePorts(key string, ms []Mapping) error {
	if err := validKey(key); err != nil {
		return err
	}
	seen := map[portID]bool{}
	for _, m := range ms {
		if err := validateMapping(m); err != nil {
			return err
		}
		if seen[m.id()] {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "firewall: %s port %s:%d published twice", m.Proto, hostIPString(m.HostIP), m.HostPort)
		}
		seen[m.id()] = true
	}
	return nil
}

// validatePortSet checks a whole state (Sync): each key valid and no host
// port published by two keys.
func validatePortSet(ports map[string][]Mapping) error {
	owner := map[portID]string{}
	for key, ms := range ports {
		if err := validatePorts(key, ms); err != nil {
			return err
		}
		for _, m := range ms {
			if other, ok := owner[m.id()]; ok {
				return conflict(m, other)
			}
			owner[m.id()] = key
		}
	}
	return nil
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
