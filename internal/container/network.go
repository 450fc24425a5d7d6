package container

import (
	"maps"
	"net/netip"

	"github.com/moby/moby/api/types/network"
)

// NetworkSettings is the networking part of a container's record, in the
// Engine API's own types, as docker keeps it.
type NetworkSettings struct {
	// Networks are the container's endpoints by network name: what was
	// asked at create or connect (Aliases, IPAMConfig, MacAddress,
	// DriverOpts, NetworkID) and, while the container runs, what it got
	// (EndpointID, IPAddress, IPPrefixLen, Gateway, MacAddress,
	// DNSNames). A container in another's network namespace has none.
	Networks map[string]*network.EndpointSettings `json:",omitempty"`
	// Ports are the published ports as bound (host ports chosen) while
	// the container runs; nil otherwise.
	Ports network.PortMap `json:",omitempty"`
	// SandboxID and SandboxKey name the network namespace of the
	// current run (the key is its path); empty when there is none.
	SandboxID  string `json:",omitempty"`
	SandboxKey string `json:",omitempty"`
	// DesiredMACs are the MAC addresses asked for, by network name:
	// Networks' MacAddress also holds a generated one while the
	// container runs.
	DesiredMACs map[string]network.HardwareAddr `json:",omitempty"`
}

// Copy is a deep copy, for readers that drop the container's lock.
func (n *NetworkSettings) Copy() NetworkSettings {
	out := NetworkSettings{SandboxID: n.SandboxID, SandboxKey: n.SandboxKey, DesiredMACs: maps.Clone(n.DesiredMACs)}
	if n.Networks != nil {
		out.Networks = make(map[string]*network.EndpointSettings, len(n.Networks))
		for k, v := range n.Networks {
			out.Networks[k] = v.Copy()
		}
	}
	if n.Ports != nil {
		out.Ports = maps.Clone(n.Ports)
		for k, v := range out.Ports {
			out.Ports[k] = append([]network.PortBinding(nil), v...)
		}
	}
	return out
}

// ClearOperational forgets what the last run got (addresses, endpoint
// ids, bound ports, the sandbox) and keeps what was asked, as docker does
// when a container stops.
func (n *NetworkSettings) ClearOperational() {
	for name, ep := range n.Networks {
		if ep == nil {
			continue
		}
		ep.EndpointID = ""
		ep.Gateway = netip.Addr{}
		ep.IPAddress = netip.Addr{}
		ep.IPPrefixLen = 0
		ep.IPv6Gateway = netip.Addr{}
		ep.GlobalIPv6Address = netip.Addr{}
		ep.GlobalIPv6PrefixLen = 0
		ep.DNSNames = nil
		ep.MacAddress = n.DesiredMACs[name]
	}
	n.Ports = nil
	n.SandboxID = ""
	n.SandboxKey = ""
}
