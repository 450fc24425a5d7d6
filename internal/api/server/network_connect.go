package server

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/moby/moby/api/types/network"
)

// connectWire is POST /networks/{id}/connect's body as clients send it:
// network.ConnectRequest with the endpoint's requested addresses read as
// strings, so that a bad one gets dockerd's message.
type connectWire struct {
	Container      string
	EndpointConfig *endpointWire
}

// endpointWire shadows the requested addresses of EndpointSettings; the
// rest (aliases, links, driver options, the read-only fields clients echo
// back from inspect) decodes as it is.
type endpointWire struct {
	network.EndpointSettings
	IPAMConfig *struct {
		IPv4Address  string
		IPv6Address  string
		LinkLocalIPs []string
	}
	MacAddress string
}

// request checks the endpoint settings as dockerd does (every problem
// listed) and gives the backend's request, whose EndpointConfig is never
// nil.
func (w *connectWire) request(version string) (network.ConnectRequest, error) {
	req := network.ConnectRequest{Container: w.Container, EndpointConfig: &network.EndpointSettings{}}
	if w.EndpointConfig == nil {
		return req, nil
	}
	ep, err := w.EndpointConfig.settings()
	if err != nil {
		return req, err
	}
	if before(version, "1.48") {
		ep.GwPriority = 0 // arrived in 1.48
	}
	req.EndpointConfig = ep
	return req, nil
}

func (w *endpointWire) settings() (*network.EndpointSettings, error) {
	ep := w.EndpointSettings
	var errs []string
	if c := w.IPAMConfig; c != nil {
		ipam := &network.EndpointIPAMConfig{}
		if c.IPv4Address != "" {
			a, err := netip.ParseAddr(c.IPv4Address)
			if err != nil || !a.Unmap().Is4() || a.IsUnspecified() {
				errs = append(errs, "invalid IPv4 address: "+c.IPv4Address)
			}
			ipam.IPv4Address = a.Unmap()
		}
		if c.IPv6Address != "" {
			a, err := netip.ParseAddr(c.IPv6Address)
			if err != nil || !a.Is6() || a.Is4In6() || a.IsUnspecified() {
				errs = append(errs, "invalid IPv6 address: "+c.IPv6Address)
			}
			ipam.IPv6Address = a
		}
		for _, s := range c.LinkLocalIPs {
			a, err := netip.ParseAddr(s)
			if err != nil {
				errs = append(errs, "invalid link-local IP address: "+s)
				continue
			}
			ipam.LinkLocalIPs = append(ipam.LinkLocalIPs, a)
		}
		ep.IPAMConfig = ipam
	}
	if w.MacAddress != "" {
		mac, err := net.ParseMAC(w.MacAddress)
		if err != nil {
			errs = append(errs, fmt.Sprintf("invalid MAC address %s", w.MacAddress))
		}
		ep.MacAddress = network.HardwareAddr(mac)
	}
	switch len(errs) {
	case 0:
		return &ep, nil
	case 1:
		return nil, invalidf("invalid endpoint settings:\n%s", errs[0])
	}
	return nil, invalidf("invalid endpoint settings:\n* %s", strings.Join(errs, "\n* "))
}
