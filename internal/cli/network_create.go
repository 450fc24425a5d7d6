package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/moby/moby/api/types/network"
	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/cli/opts"
	"github.com/berth-project/berth/internal/client"
)

// networkCreateOptions are network create's flags; the IPAM ones are
// lists whose Nth gateway or range goes with the subnet that holds it.
type networkCreateOptions struct {
	name       string
	driver     string
	driverOpts *opts.Map
	labels     *opts.List
	internal   bool
	ipv4, ipv6 *bool
	attachable bool
	ingress    bool
	scope      string
	configOnly bool
	configFrom string

	ipamDriver string
	subnets    []string
	ipRanges   []string
	gateways   []string
	auxAddrs   *opts.Map
	ipamOpts   *opts.Map
}

func newNetworkCreateCommand(a *app) *cobra.Command {
	o := networkCreateOptions{driverOpts: opts.NewMap(nil), labels: opts.NewList(opts.ValidateLabel),
		auxAddrs: opts.NewMap(nil), ipamOpts: opts.NewMap(nil)}
	var ipv4, ipv6 bool
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.name = args[0]
			// Only what the user set is sent: the daemon has defaults.
			if cmd.Flags().Changed("ipv4") {
				o.ipv4 = &ipv4
			}
			if cmd.Flags().Changed("ipv6") {
				o.ipv6 = &ipv6
			}
			return runNetworkCreate(cmd.Context(), a, o)
		},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.StringVarP(&o.driver, "driver", "d", "bridge", "Driver to manage the Network")
	f.VarP(o.driverOpts, "opt", "o", "Set driver specific options")
	f.Var(o.labels, "label", "Set metadata on a network")
	f.BoolVar(&o.internal, "internal", false, "Restrict external access to the network")
	f.BoolVar(&ipv4, "ipv4", true, "Enable or disable IPv4 address assignment")
	f.BoolVar(&ipv6, "ipv6", false, "Enable or disable IPv6 address assignment")
	f.BoolVar(&o.attachable, "attachable", false, "Enable manual container attachment")
	f.BoolVar(&o.ingress, "ingress", false, "Create swarm routing-mesh network")
	f.StringVar(&o.scope, "scope", "", "Control the network's scope")
	f.BoolVar(&o.configOnly, "config-only", false, "Create a configuration only network")
	f.StringVar(&o.configFrom, "config-from", "", "The network from which to copy the configuration")
	f.StringVar(&o.ipamDriver, "ipam-driver", "default", "IP Address Management Driver")
	f.StringSliceVar(&o.subnets, "subnet", []string{}, "Subnet in CIDR format that represents a network segment")
	f.StringSliceVar(&o.ipRanges, "ip-range", []string{}, "Allocate container ip from a sub-range")
	f.StringSliceVar(&o.gateways, "gateway", []string{}, "IPv4 or IPv6 Gateway for the master subnet")
	f.Var(o.auxAddrs, "aux-address", "Auxiliary IPv4 or IPv6 addresses used by Network driver")
	f.Var(o.ipamOpts, "ipam-opt", "Set IPAM driver specific options")
	return cmd
}

func runNetworkCreate(ctx context.Context, a *app, o networkCreateOptions) error {
	configs, err := ipamConfigs(o)
	if err != nil {
		return err
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	if err := checkDuplicateNetwork(ctx, c, o.name); err != nil {
		return err
	}
	res, err := c.NetworkCreate(ctx, o.name, sdk.NetworkCreateOptions{
		Driver:     o.driver,
		Options:    o.driverOpts.Values(),
		IPAM:       &network.IPAM{Driver: o.ipamDriver, Config: configs, Options: o.ipamOpts.Values()},
		EnableIPv4: o.ipv4,
		EnableIPv6: o.ipv6,
		Internal:   o.internal,
		Attachable: o.attachable,
		Ingress:    o.ingress,
		Scope:      o.scope,
		ConfigOnly: o.configOnly,
		ConfigFrom: o.configFrom,
		Labels:     opts.KVMap(o.labels.Values()),
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(a.streams.Out, res.ID)
	return nil
}

// ipamConfigs pairs --subnet, --ip-range, --gateway and --aux-address as
// the docker CLI does: each range, gateway and auxiliary address goes with
// the one subnet that holds it; subnets may not overlap. What the daemon
// checks beyond that (host bits, a gateway on the network address) is left
// to it, so the messages are the daemon's.
func ipamConfigs(o networkCreateOptions) ([]network.IPAMConfig, error) {
	if len(o.subnets) < len(o.ipRanges) || len(o.subnets) < len(o.gateways) {
		return nil, errors.New("every ip-range or gateway must have a corresponding subnet")
	}
	// docker parses a subnet only to compare it with something (another
	// subnet, a range, a gateway); a lone one goes to the daemon as typed.
	// Berth's wire types hold parsed prefixes, so that case gets the
	// daemon's words here.
	lone := len(o.subnets) == 1 && len(o.ipRanges) == 0 && len(o.gateways) == 0 && len(o.auxAddrs.Values()) == 0
	subnets := make([]netip.Prefix, len(o.subnets))
	for i, s := range o.subnets {
		p, err := parseCIDR(s)
		if err != nil && lone {
			return nil, fmt.Errorf("invalid network config:\ninvalid subnet %s: invalid CIDR block notation", s)
		}
		if err != nil {
			return nil, fmt.Errorf("invalid subnet: %w", err)
		}
		for _, q := range subnets[:i] {
			if q.Overlaps(p) {
				return nil, errors.New("multiple overlapping subnet configuration is not supported")
			}
		}
		subnets[i] = p
	}
	configs := make([]network.IPAMConfig, len(subnets))
	for i, p := range subnets {
		configs[i].Subnet = p
	}
	// holder is the index of the subnet that contains addr.
	holder := func(kind, raw string) (int, netip.Addr, error) {
		var addr netip.Addr
		if strings.Contains(raw, "/") {
			p, err := parseCIDR(raw)
			if err != nil {
				return 0, addr, err
			}
			addr = p.Addr()
		} else if a, err := netip.ParseAddr(raw); err == nil {
			addr = a
		}
		for i, p := range subnets {
			if addr.IsValid() && p.Masked().Contains(addr.Unmap()) {
				return i, addr, nil
			}
		}
		return 0, addr, fmt.Errorf("no matching subnet for %s %s", kind, raw)
	}
	for _, r := range o.ipRanges {
		i, _, err := holder("range", r)
		if err != nil {
			return nil, err
		}
		if configs[i].IPRange.IsValid() {
			return nil, fmt.Errorf("cannot configure multiple ranges (%s, %s) on the same subnet (%s)", r, configs[i].IPRange, o.subnets[i])
		}
		p, _ := parseCIDR(r)
		configs[i].IPRange = p
	}
	for _, g := range o.gateways {
		i, addr, err := holder("gateway", g)
		if err != nil {
			return nil, err
		}
		if configs[i].Gateway.IsValid() {
			return nil, fmt.Errorf("cannot configure multiple gateways (%s, %s) for the same subnet (%s)", g, configs[i].Gateway, o.subnets[i])
		}
		configs[i].Gateway = addr
	}
	for key, aux := range o.auxAddrs.Values() {
		i, addr, err := holder("aux-address", aux)
		if err != nil {
			return nil, err
		}
		if configs[i].AuxAddress == nil {
			configs[i].AuxAddress = map[string]netip.Addr{}
		}
		configs[i].AuxAddress[key] = addr
	}
	return configs, nil
}

// parseCIDR reads a prefix as the docker CLI's net.ParseCIDR does (and
// with its error), keeping the address as written: host bits are the
// daemon's to refuse.
func parseCIDR(s string) (netip.Prefix, error) {
	if _, _, err := net.ParseCIDR(s); err != nil {
		return netip.Prefix{}, err
	}
	return netip.ParsePrefix(s)
}

// checkDuplicateNetwork refuses a name a network already has, for daemons
// before API 1.44, which create a second network of the same name unless
// asked not to (CheckDuplicate, which the SDK no longer sends); newer
// daemons refuse it themselves. The message is the daemon's.
func checkDuplicateNetwork(ctx context.Context, c *client.Client, name string) error {
	if !versionLess(apiVersion(ctx, c), "1.44") {
		return nil
	}
	res, err := c.NetworkList(ctx, sdk.NetworkListOptions{Filters: make(sdk.Filters).Add("name", name)})
	if err != nil {
		return err
	}
	for _, n := range res.Items {
		if n.Name == name {
			return fmt.Errorf("Error response from daemon: network with name %s already exists", name)
		}
	}
	return nil
}
