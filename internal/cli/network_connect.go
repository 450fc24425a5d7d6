package cli

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/moby/moby/api/types/network"
	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/cli/opts"
)

type networkConnectOptions struct {
	network, container string
	ipv4, ipv6         string
	links              *opts.List
	aliases            []string
	linkLocalIPs       []string
	driverOpts         []string
	gwPriority         int
}

func newNetworkConnectCommand(a *app) *cobra.Command {
	o := networkConnectOptions{links: opts.NewList(opts.ValidateLink)}
	cmd := &cobra.Command{
		Use:   "connect [OPTIONS] NETWORK CONTAINER",
		Short: "Connect a container to a network",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.network, o.container = args[0], args[1]
			return runNetworkConnect(cmd.Context(), a, o)
		},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.StringVar(&o.ipv4, "ip", "", `IPv4 address (e.g., "172.30.100.104")`)
	f.StringVar(&o.ipv6, "ip6", "", `IPv6 address (e.g., "2001:db8::33")`)
	f.Var(o.links, "link", "Add link to another container")
	f.StringSliceVar(&o.aliases, "alias", []string{}, "Add network-scoped alias for the container")
	f.StringSliceVar(&o.linkLocalIPs, "link-local-ip", []string{}, "Add a link-local address for the container")
	f.StringSliceVar(&o.driverOpts, "driver-opt", []string{}, "driver options for the network")
	f.IntVar(&o.gwPriority, "gw-priority", 0, "Highest gw-priority provides the default gateway. Accepts positive and negative values.")
	return cmd
}

func runNetworkConnect(ctx context.Context, a *app, o networkConnectOptions) error {
	driverOpts, err := driverOptions(o.driverOpts)
	if err != nil {
		return err
	}
	// docker sends the addresses as typed and lets the daemon refuse
	// them; Berth's wire types hold parsed addresses, so a bad one is
	// refused here with the daemon's words.
	ipam := &network.EndpointIPAMConfig{}
	if ipam.IPv4Address, err = optionalAddr(o.ipv4, "invalid IPv4 address: %s"); err != nil {
		return err
	}
	if ipam.IPv6Address, err = optionalAddr(o.ipv6, "invalid IPv6 address: %s"); err != nil {
		return err
	}
	for _, s := range o.linkLocalIPs {
		a, err := optionalAddr(s, "invalid link-local IP address: %s")
		if err != nil {
			return err
		}
		ipam.LinkLocalIPs = append(ipam.LinkLocalIPs, a)
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	_, err = c.NetworkConnect(ctx, o.network, sdk.NetworkConnectOptions{
		Container: o.container,
		EndpointConfig: &network.EndpointSettings{
			IPAMConfig: ipam,
			Links:      o.links.Values(),
			Aliases:    o.aliases,
			DriverOpts: driverOpts,
			GwPriority: o.gwPriority,
		},
	})
	return err
}

// driverOptions reads --driver-opt k=v values as docker does (spaces
// around key and value trimmed).
func driverOptions(values []string) (map[string]string, error) {
	m := map[string]string{}
	for _, v := range values {
		k, val, ok := strings.Cut(v, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, errors.New("invalid key/value pair format in driver options")
		}
		m[k] = strings.TrimSpace(val)
	}
	return m, nil
}

func optionalAddr(s, msg string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf(msg, s)
	}
	return a, nil
}
