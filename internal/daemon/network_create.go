package daemon

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	containertypes "github.com/moby/moby/api/types/container"
	networktypes "github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/network"
)

// createNetworking settles a create request's networking before anything
// is touched, as docker does: the network mode (docker's default is
// "bridge"; "none" when the daemon has no default bridge), the networks
// the container joins with the endpoint settings asked for (NetworkMode's
// network first, then NetworkingConfig's), and the checks docker makes on
// them and on published ports. It returns the record's network settings
// and docker's warnings.
func (d *Daemon) createNetworking(cfg *containertypes.Config, host *containertypes.HostConfig, raw any) (container.NetworkSettings, []string, error) {
	var wanted map[string]*networktypes.EndpointSettings
	if nc, ok := raw.(*networktypes.NetworkingConfig); ok && nc != nil {
		wanted = nc.EndpointsConfig
	}
	var ns container.NetworkSettings
	var warnings []string
	mode := host.NetworkMode
	if mode == "" || mode.IsDefault() {
		mode = noneNetworkName
		if _, ok := d.defaultBridge(); ok {
			mode = defaultNetworkName
		}
		host.NetworkMode = mode
	}
	if err := checkNetworkModeConflicts(cfg, host); err != nil {
		return ns, nil, err
	}
	if mode.IsContainer() {
		for key, es := range wanted {
			if key != string(mode) && key != "default" && !isEmptyEndpoint(es) {
				return ns, nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "container sharing network namespace with another container or host cannot be connected to any other network")
			}
		}
		return ns, nil, nil
	}
	if mode.IsHost() && (len(host.PortBindings) > 0 || host.PublishAllPorts) {
		warnings = append(warnings, "Published ports are discarded when using host network mode")
	}
	if err := checkPortBindings(host.PortBindings); err != nil {
		return ns, nil, err
	}

	primary, err := d.nets.m.Network(string(mode))
	if err != nil {
		return ns, nil, createNetworkErr(err)
	}
	ns.Networks = map[string]*networktypes.EndpointSettings{primary.Name: {NetworkID: primary.ID}}
	for key, es := range wanted {
		n := primary
		if key != string(mode) && key != "default" && key != primary.ID && key != primary.Name {
			if n, err = d.nets.m.Network(key); err != nil {
				return ns, nil, createNetworkErr(err)
			}
		}
		if n.ID != primary.ID {
			if err := checkJoinable(primary, n); err != nil {
				return ns, nil, err
			}
		}
		asked := endpointConfig(es)
		asked.NetworkID = n.ID
		ns.Networks[n.Name] = asked
	}
	for name, es := range ns.Networks {
		n, err := d.nets.m.Network(es.NetworkID)
		if err != nil {
			return ns, nil, err
		}
		if err := checkEndpointSettings(n, es); err != nil {
			return ns, nil, err
		}
		if es.MacAddress != nil {
			if ns.DesiredMACs == nil {
				ns.DesiredMACs = map[string]networktypes.HardwareAddr{}
			}
			ns.DesiredMACs[name] = es.MacAddress
		}
	}
	return ns, warnings, nil
}

// createNetworkErr turns a network that create cannot find into a bad
// request (400) with the same words: the docker CLI takes a 404 from create
// for a missing image, and would answer "Unable to find image" and try to
// pull an image that is there.
func createNetworkErr(err error) error {
	if errdefs.IsNotFound(err) {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "%v", err)
	}
	return err
}

// checkNetworkModeConflicts are docker's checks of options that a network
// mode makes meaningless, with its words.
func checkNetworkModeConflicts(cfg *containertypes.Config, host *containertypes.HostConfig) error {
	mode := host.NetworkMode
	if string(mode) == "container" || (mode.IsContainer() && mode.ConnectedContainer() == "") {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid network mode: invalid container format container:<name|id>")
	}
	if !mode.IsContainer() {
		return nil
	}
	switch {
	case len(host.Links) > 0:
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "conflicting options: container type network can't be used with links. This would result in undefined behavior")
	case len(host.DNS) > 0:
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "conflicting options: dns and the network mode")
	case len(host.ExtraHosts) > 0:
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "conflicting options: custom host-to-IP mapping and the network mode")
	case len(host.PortBindings) > 0 || host.PublishAllPorts:
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "conflicting options: port publishing and the container type network mode")
	case len(cfg.ExposedPorts) > 0:
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "conflicting options: port exposing and the container type network mode")
	}
	return nil
}

// checkJoinable: host and none networks are a container's only network,
// as docker has it.
func checkJoinable(a, b network.Network) error {
	if a.Driver == "host" || b.Driver == "host" {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "container sharing network namespace with another container or host cannot be connected to any other network")
	}
	if a.Driver == "null" || b.Driver == "null" {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "container cannot be connected to multiple networks with one of the networks in private (none) mode")
	}
	return nil
}

// checkEndpointSettings is docker's validation of what a container asks of
// a network, with its words: static addresses and aliases only on user
// networks, a static address inside the network's subnet.
func checkEndpointSettings(n network.Network, es *networktypes.EndpointSettings) error {
	var errs []error
	var ip4 = es.IPAMConfig != nil && es.IPAMConfig.IPv4Address.IsValid()
	if !isUserNetwork(n) {
		if ip4 || (es.IPAMConfig != nil && es.IPAMConfig.IPv6Address.IsValid()) {
			errs = append(errs, errors.New("user specified IP address is supported on user defined networks only"))
		}
		if len(es.Aliases) > 0 {
			errs = append(errs, errors.New("network-scoped alias is supported only for containers in user defined networks"))
		}
	}
	if ip4 {
		a := es.IPAMConfig.IPv4Address
		switch {
		case !a.Unmap().Is4() || a.IsUnspecified():
			errs = append(errs, fmt.Errorf("invalid IPv4 address: %s", a))
		case isUserNetwork(n) && !n.UserSubnet:
			errs = append(errs, errors.New("user specified IP address is supported only when connecting to networks with user configured subnets"))
		case isUserNetwork(n) && n.Subnet.IsValid() && !n.Subnet.Contains(a.Unmap()):
			errs = append(errs, fmt.Errorf("no configured subnet or ip-range contain the IP address %s", a))
		}
	}
	if es.IPAMConfig != nil && es.IPAMConfig.IPv6Address.IsValid() && isUserNetwork(n) && !n.EnableIPv6 {
		errs = append(errs, fmt.Errorf("invalid IPv6 address: %s: network %s has no IPv6", es.IPAMConfig.IPv6Address, n.Name))
	}
	if len(errs) == 0 {
		return nil
	}
	if len(errs) == 1 {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid endpoint settings:\n%s", errs[0])
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid endpoint settings:\n* %s", strings.Join(msgs, "\n* "))
}

// endpointConfig keeps what a client may ask of an endpoint (its
// configuration), never operational data it might have sent.
func endpointConfig(es *networktypes.EndpointSettings) *networktypes.EndpointSettings {
	if es == nil {
		return &networktypes.EndpointSettings{}
	}
	c := es.Copy()
	out := &networktypes.EndpointSettings{
		IPAMConfig: c.IPAMConfig,
		Links:      c.Links,
		Aliases:    c.Aliases,
		DriverOpts: c.DriverOpts,
		GwPriority: c.GwPriority,
		MacAddress: c.MacAddress,
	}
	if out.IPAMConfig != nil {
		out.IPAMConfig.IPv4Address = out.IPAMConfig.IPv4Address.Unmap()
	}
	return out
}

func isEmptyEndpoint(es *networktypes.EndpointSettings) bool {
	return es == nil || (es.IPAMConfig == nil && len(es.Aliases) == 0 && es.MacAddress == nil && len(es.Links) == 0)
}

// checkPortBindings rejects host ports docker rejects: each is empty (any
// free port), a number, or a range low-high.
func checkPortBindings(pm networktypes.PortMap) error {
	for _, bindings := range pm {
		for _, b := range bindings {
			if _, _, err := parseHostPort(b.HostPort); err != nil {
				return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid port specification: %q", b.HostPort)
			}
		}
	}
	return nil
}

// parseHostPort parses a binding's HostPort: "" (0, 0), "N" (N, N) or
// "N-M".
func parseHostPort(s string) (lo, hi uint16, err error) {
	if s == "" {
		return 0, 0, nil
	}
	a, b, isRange := strings.Cut(s, "-")
	x, err := strconv.ParseUint(a, 10, 16)
	if err != nil {
		return 0, 0, err
	}
	if !isRange {
		return uint16(x), uint16(x), nil
	}
	y, err := strconv.ParseUint(b, 10, 16)
	if err != nil || y < x {
		return 0, 0, fmt.Errorf("invalid range %q", s)
	}
	return uint16(x), uint16(y), nil
}
