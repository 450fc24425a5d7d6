package cli

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/internal/cli/opts"
)

// parseNetworks gives the network mode and the endpoints as the docker
// CLI 28 sends them: the mode is the first --network (or "default");
// --network-alias, --ip, --ip6, --link-local-ip, --mac-address and, on a
// user-defined network, --link apply to that first network; every
// network has an endpoint entry, except a single one with nothing set
// (the daemon makes it anyway). Without --network the endpoint is keyed
// "default".
func parseNetworks(o *containerOptions) (string, map[string]*network.EndpointSettings, error) {
	nets := o.networks.Values()
	endpoints := map[string]*network.EndpointSettings{}
	if len(nets) == 0 {
		a := opts.NetworkAttachment{Target: network.NetworkDefault}
		if err := applyContainerNetworkFlags(&a, o); err != nil {
			return "", nil, err
		}
		ep, err := endpointSettings(a)
		if err != nil {
			return "", nil, err
		}
		endpoints[network.NetworkDefault] = ep
		return network.NetworkDefault, endpoints, nil
	}
	var userDefined, builtin bool
	for i, a := range nets {
		if container.NetworkMode(a.Target).IsUserDefined() {
			userDefined = true
		} else {
			builtin = true
		}
		if i == 0 {
			if err := applyContainerNetworkFlags(&a, o); err != nil {
				return "", nil, err
			}
		}
		ep, err := endpointSettings(a)
		if err != nil {
			return "", nil, err
		}
		if _, dup := endpoints[a.Target]; dup {
			return "", nil, fmt.Errorf("network %q is specified multiple times", a.Target)
		}
		if i == 0 && len(nets) == 1 && reflect.DeepEqual(*ep, network.EndpointSettings{}) {
			continue
		}
		endpoints[a.Target] = ep
	}
	if userDefined && builtin {
		return "", nil, errors.New("conflicting options: cannot attach both user-defined and non-user-defined network-modes")
	}
	return nets[0].Target, endpoints, nil
}

// applyContainerNetworkFlags moves the container-wide flags onto the
// first network's attachment, refusing them where the long syntax set the
// same thing.
func applyContainerNetworkFlags(a *opts.NetworkAttachment, o *containerOptions) error {
	switch {
	case len(a.Aliases) > 0 && o.aliases.Len() > 0:
		return errors.New("conflicting options: cannot specify both --network-alias and per-network alias")
	case len(a.Links) > 0 && o.links.Len() > 0:
		return errors.New("conflicting options: cannot specify both --link and per-network links")
	case a.IPv4Address != "" && o.ipv4Address != "":
		return errors.New("conflicting options: cannot specify both --ip and per-network IPv4 address")
	case a.IPv6Address != "" && o.ipv6Address != "":
		return errors.New("conflicting options: cannot specify both --ip6 and per-network IPv6 address")
	case a.MacAddress != "" && o.macAddress != "":
		return errors.New("conflicting options: cannot specify both --mac-address and per-network MAC address")
	case len(a.LinkLocalIPs) > 0 && o.linkLocalIPs.Len() > 0:
		return errors.New("conflicting options: cannot specify both --link-local-ip and per-network link-local IP addresses")
	}
	if o.aliases.Len() > 0 {
		a.Aliases = append([]string(nil), o.aliases.Values()...)
	}
	// On a user-defined network a link is an alias of the endpoint; on
	// the default bridge it is a legacy link (HostConfig.Links only).
	if container.NetworkMode(a.Target).IsUserDefined() && o.links.Len() > 0 {
		a.Links = append([]string(nil), o.links.Values()...)
	}
	if o.ipv4Address != "" {
		a.IPv4Address = o.ipv4Address
	}
	if o.ipv6Address != "" {
		a.IPv6Address = o.ipv6Address
	}
	if o.macAddress != "" {
		a.MacAddress = o.macAddress
	}
	if o.linkLocalIPs.Len() > 0 {
		a.LinkLocalIPs = append([]string(nil), o.linkLocalIPs.Values()...)
	}
	return nil
}

// endpointSettings turns an attachment into the endpoint docker sends.
// docker sends addresses as typed and lets the daemon refuse bad ones;
// Berth's wire types hold parsed addresses, so those are refused here,
// with the daemon's words.
func endpointSettings(a opts.NetworkAttachment) (*network.EndpointSettings, error) {
	if strings.TrimSpace(a.Target) == "" {
		return nil, errors.New("no name set for network")
	}
	if !container.NetworkMode(a.Target).IsUserDefined() {
		if len(a.Aliases) > 0 {
			return nil, errors.New("network-scoped aliases are only supported for user-defined networks")
		}
		if len(a.Links) > 0 {
			return nil, errors.New("links are only supported for user-defined networks")
		}
	}
	ep := &network.EndpointSettings{GwPriority: a.GwPriority, DriverOpts: a.DriverOpts, Links: a.Links}
	ep.Aliases = append(ep.Aliases, a.Aliases...)
	if a.IPv4Address != "" || a.IPv6Address != "" || len(a.LinkLocalIPs) > 0 {
		ipam := &network.EndpointIPAMConfig{}
		var err error
		if ipam.IPv4Address, err = optionalAddr(a.IPv4Address, "invalid IPv4 address: %s"); err != nil {
			return nil, err
		}
		if ipam.IPv6Address, err = optionalAddr(a.IPv6Address, "invalid IPv6 address: %s"); err != nil {
			return nil, err
		}
		for _, s := range a.LinkLocalIPs {
			addr, err := optionalAddr(s, "invalid link-local IP address: %s")
			if err != nil {
				return nil, err
			}
			ipam.LinkLocalIPs = append(ipam.LinkLocalIPs, addr)
		}
		ep.IPAMConfig = ipam
	}
	if a.MacAddress != "" {
		mac, err := net.ParseMAC(strings.TrimSpace(a.MacAddress))
		if err != nil {
			return nil, fmt.Errorf("%s is not a valid mac address", a.MacAddress)
		}
		ep.MacAddress = network.HardwareAddr(mac)
	}
	return ep, nil
}

// checkEndpointMACs refuses a MAC address on an endpoint (--mac-address)
// for daemons before API 1.44, which only know the container-wide one,
// with the docker CLI's words.
func checkEndpointMACs(version string, nc *network.NetworkingConfig) error {
	if nc == nil || !versionLess(version, "1.44") {
		return nil
	}
	for _, ep := range nc.EndpointsConfig {
		if ep != nil && len(ep.MacAddress) > 0 {
			return fmt.Errorf(`"specify mac-address per network" requires API version 1.44, but the Docker daemon API version is %s`, version)
		}
	}
	return nil
}
