package daemon

import (
	"slices"
	"strconv"
	"strings"

	containertypes "github.com/moby/moby/api/types/container"
	networktypes "github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/errdefs"
)

// networkSettings is inspect's NetworkSettings, docker's shape: every
// network the container is on, with its address while it runs; the
// published ports while it runs; the sandbox. A container in another's
// namespace has no network of its own. The caller holds c's lock.
func networkSettings(c *container.Container) *containertypes.NetworkSettings {
	ns := c.NetworkSettings.Copy()
	out := &containertypes.NetworkSettings{
		SandboxID:  ns.SandboxID,
		SandboxKey: ns.SandboxKey,
		Ports:      ns.Ports,
		Networks:   ns.Networks,
	}
	if out.Ports == nil || !c.State.HasProcess() {
		out.Ports = networktypes.PortMap{}
	}
	if out.Networks == nil {
		out.Networks = map[string]*networktypes.EndpointSettings{}
		// A record from before networking kept only the mode.
		if mode := c.HostConfig.NetworkMode; !mode.IsContainer() && mode != "" {
			out.Networks[string(mode)] = &networktypes.EndpointSettings{}
		}
	}
	return out
}

// portSummaries is ps's Ports: one entry per host binding of a running
// container's ports, and the exposed ports that are not published; docker
// lists them by container port. The caller holds c's lock.
func portSummaries(c *container.Container) []containertypes.PortSummary {
	out := []containertypes.PortSummary{}
	if !c.State.HasProcess() {
		return out
	}
	for p, bindings := range c.NetworkSettings.Ports {
		if len(bindings) == 0 {
			out = append(out, containertypes.PortSummary{PrivatePort: p.Num(), Type: string(p.Proto())})
			continue
		}
		for _, b := range bindings {
			n, _ := strconv.ParseUint(b.HostPort, 10, 16)
			out = append(out, containertypes.PortSummary{IP: b.HostIP, PrivatePort: p.Num(), PublicPort: uint16(n), Type: string(p.Proto())})
		}
	}
	slices.SortFunc(out, func(a, b containertypes.PortSummary) int {
		switch {
		case a.PrivatePort != b.PrivatePort:
			return int(a.PrivatePort) - int(b.PrivatePort)
		case a.Type != b.Type:
			return strings.Compare(a.Type, b.Type)
		case a.PublicPort != b.PublicPort:
			return int(a.PublicPort) - int(b.PublicPort)
		}
		return a.IP.Compare(b.IP)
	})
	return out
}

// onNetwork is ps's network filter: the container is on a network of that
// name, or whose id starts with value, as docker matches. The caller holds
// c's lock.
func onNetwork(c *container.Container, value string) bool {
	if _, ok := c.NetworkSettings.Networks[value]; ok {
		return true
	}
	for _, es := range c.NetworkSettings.Networks {
		if es != nil && es.NetworkID != "" && strings.HasPrefix(es.NetworkID, value) {
			return true
		}
	}
	return len(c.NetworkSettings.Networks) == 0 && value == string(c.HostConfig.NetworkMode)
}

// portFilter is a publish= or expose= value: a port or a range, with a
// protocol (tcp by default).
type portFilter struct {
	lo, hi uint16
	proto  string
}

func parsePortFilter(key, v string) (portFilter, error) {
	ports, proto, _ := strings.Cut(v, "/")
	if proto == "" {
		proto = "tcp"
	}
	lo, hi, err := parseHostPort(ports)
	if err != nil || ports == "" {
		return portFilter{}, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid filter '%s=%s'", key, v)
	}
	return portFilter{lo: lo, hi: hi, proto: strings.ToLower(proto)}, nil
}

func (f portFilter) match(p networktypes.Port) bool {
	return string(p.Proto()) == f.proto && p.Num() >= f.lo && p.Num() <= f.hi
}

// publishes: the container publishes a port f matches (-p, or -P for its
// exposed ports). The caller holds c's lock.
func publishes(c *container.Container, f portFilter) bool {
	for p := range c.HostConfig.PortBindings {
		if f.match(p) {
			return true
		}
	}
	if c.HostConfig.PublishAllPorts {
		return exposes(c, f)
	}
	return false
}

// exposes: the container exposes a port f matches. The caller holds c's
// lock.
func exposes(c *container.Container, f portFilter) bool {
	for p := range c.Config.ExposedPorts {
		if f.match(p) {
			return true
		}
	}
	return false
}
