package network

import (
	"context"
	"strconv"

	"github.com/berth-project/berth/internal/network/firewall"
)

// The Manager tells the firewall backend (package firewall) about bridge
// networks and published ports; these turn its records into the
// backend's terms.

func optBool(opts map[string]string, key string, def bool) bool {
	if v, ok := opts[key]; ok {
		if b, err := strconv.ParseBool(v); err == nil {
			return b
		}
	}
	return def
}

func fwNet(n *netRecord) firewall.Net {
	return firewall.Net{
		Bridge:     n.Bridge,
		Subnet:     n.Subnet,
		Internal:   n.Internal,
		ICC:        optBool(n.Options, optICC, true),
		Masquerade: !n.Internal && optBool(n.Options, optMasquerade, true),
	}
}

func fwMappings(ep *epRecord, bridge string) []firewall.Mapping {
	out := make([]firewall.Mapping, 0, len(ep.Ports))
	for _, p := range ep.Ports {
		out = append(out, firewall.Mapping{
			Proto:         p.Proto,
			HostIP:        p.HostIP,
			HostPort:      p.HostPort,
			ContainerIP:   ep.Address.Addr(),
			ContainerPort: p.ContainerPort,
			Bridge:        bridge,
		})
	}
	return out
}

// syncFirewall makes the backend hold exactly the bridge networks and the
// published ports of the endpoints the Manager knows. Callers hold m.mu.
func (m *Manager) syncFirewall(ctx context.Context) error {
	var nets []firewall.Net
	for _, n := range m.nets {
		if n.rec.Driver == driverBridge {
			nets = append(nets, fwNet(n.rec))
		}
	}
	ports := map[string][]firewall.Mapping{}
	for _, ep := range m.eps {
		if len(ep.Ports) == 0 {
			continue
		}
		if n := m.nets[ep.NetworkID]; n != nil {
			ports[ep.ID] = fwMappings(ep, n.rec.Bridge)
		}
	}
	return m.fw.Sync(ctx, nets, ports)
}
