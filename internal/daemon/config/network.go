package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// The networking settings, with dockerd's names and meanings:
//
//   - bridge: the default bridge's Linux name, "none" for no default
//     bridge network (containers without --network get network mode
//     none, as dockerd's containers do with --bridge=none);
//   - bip: the default bridge's gateway and subnet, e.g. 10.10.0.1/24;
//   - default-address-pools: where user networks' subnets come from;
//   - dns, dns-search, dns-opts: containers' resolv.conf defaults (a
//     container's own --dns* win);
//   - iptables=false: no firewall rules at all (no NAT, no published
//     ports, no isolation);
//   - ip-forward, userland-proxy: accepted; Berth never runs a proxy
//     process (127.0.0.1 reaches published ports through the firewall's
//     hairpin rules);
//   - mtu: the default bridge's and its veths' MTU.

// maxIfName is IFNAMSIZ less the terminating NUL.
const maxIfName = 15

func checkNetworking(c *Config) error {
	if err := checkBridgeName(c.Bridge); err != nil {
		return err
	}
	if c.BIP != "" {
		if c.Bridge == "none" {
			return fmt.Errorf("--bip %s and --bridge none contradict each other: there is no default bridge to give the address", c.BIP)
		}
		if _, err := ParseBIP(c.BIP); err != nil {
			return err
		}
	}
	for _, p := range c.DefaultAddressPools {
		if _, err := p.Prefix(); err != nil {
			return err
		}
	}
	for _, s := range c.DNS {
		if _, err := netip.ParseAddr(s); err != nil {
			return fmt.Errorf("--dns %q: not an IP address", s)
		}
	}
	for _, s := range c.DNSSearch {
		if s == "" || strings.ContainsAny(s, " \t\n") || len(s) > 255 {
			return fmt.Errorf("--dns-search %q: not a domain name", s)
		}
	}
	for _, s := range c.DNSOptions {
		if s == "" || strings.ContainsAny(s, " \t\n") {
			return fmt.Errorf("--dns-opt %q: one option, without spaces", s)
		}
	}
	if c.MTU != 0 && (c.MTU < 68 || c.MTU > 65535) {
		return fmt.Errorf("--mtu %d: want 68 to 65535", c.MTU)
	}
	return nil
}

func checkBridgeName(name string) error {
	if name == "" || name == "none" {
		return nil
	}
	if len(name) > maxIfName || name == "." || name == ".." || strings.ContainsAny(name, "/: \t\n\x00") {
		return fmt.Errorf("--bridge %q: not a network interface name (at most %d characters, no '/', ':' or spaces)", name, maxIfName)
	}
	return nil
}

// ParseBIP parses --bip: an IPv4 gateway address with the subnet's
// prefix length, the address neither the subnet's first nor its last.
func ParseBIP(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("--bip %q: want an IPv4 address with its prefix length, e.g. 10.10.0.1/24", s)
	}
	if p.Bits() < 1 || p.Bits() > 30 {
		return netip.Prefix{}, fmt.Errorf("--bip %s: the prefix length must be 1 to 30", s)
	}
	if p.Addr() == p.Masked().Addr() || p.Addr() == lastAddr(p) {
		return netip.Prefix{}, fmt.Errorf("--bip %s: the gateway cannot be the subnet's network or broadcast address", s)
	}
	return p, nil
}

// Prefix checks the pool and returns its base.
func (p AddressPool) Prefix() (netip.Prefix, error) {
	base, err := netip.ParsePrefix(p.Base)
	if err != nil || !base.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("default address pool %q: want an IPv4 subnet (CIDR) as base", p.Base)
	}
	if base != base.Masked() {
		return netip.Prefix{}, fmt.Errorf("default address pool %s: the base is not a subnet's first address (%s)", p.Base, base.Masked())
	}
	if p.Size < base.Bits() || p.Size > 30 {
		return netip.Prefix{}, fmt.Errorf("default address pool %s: size %d must be between the base's prefix length (%d) and 30", p.Base, p.Size, base.Bits())
	}
	return base, nil
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := 32 - p.Bits()
	for i := 3; i >= 0 && host > 0; i-- {
		n := min(host, 8)
		b[i] |= byte(1<<n - 1)
		host -= n
	}
	return netip.AddrFrom4(b)
}
