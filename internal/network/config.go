package network

import (
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"

	"github.com/berth-project/berth/internal/errdefs"
)

// maxPrefix keeps a user bridge's name, Prefix + "-" + 8 hex digits, within
// the kernel's 15 characters (IFNAMSIZ - 1).
const maxPrefix = 15 - 1 - 8

// defaultMTU is Ethernet's, as docker's default.
const defaultMTU = 1500

// dockerPools are docker's default address pools: 172.17-31.0.0/16 in /16s,
// 192.168.0.0/16 in /20s.
func dockerPools() []AddressPool {
	return []AddressPool{
		{Base: netip.MustParsePrefix("172.17.0.0/16"), Size: 16},
		{Base: netip.MustParsePrefix("172.18.0.0/15"), Size: 16},
		{Base: netip.MustParsePrefix("172.20.0.0/14"), Size: 16},
		{Base: netip.MustParsePrefix("172.24.0.0/14"), Size: 16},
		{Base: netip.MustParsePrefix("172.28.0.0/14"), Size: 16},
		{Base: netip.MustParsePrefix("192.168.0.0/16"), Size: 20},
	}
}

// makeConfig fills cfg's defaults and rejects what cannot work; every
// default of the package is here.
func makeConfig(cfg Config) (Config, error) {
	if cfg.Root == "" || cfg.ExecRoot == "" {
		return cfg, errdefs.Errorf(errdefs.ErrInvalidParameter, "network: Root and ExecRoot are required")
	}
	cfg.Root, cfg.ExecRoot = filepath.Clean(cfg.Root), filepath.Clean(cfg.ExecRoot)
	if cfg.RunRoot == "" {
		cfg.RunRoot = filepath.Join(filepath.Dir(cfg.ExecRoot), "network")
	}
	cfg.RunRoot = filepath.Clean(cfg.RunRoot)
	if cfg.Prefix == "" {
		cfg.Prefix = "berth"
	}
	if len(cfg.Prefix) > maxPrefix {
		return cfg, errdefs.Errorf(errdefs.ErrInvalidParameter,
			"network: resource prefix %q is longer than %d characters: bridge names would not fit in 15", cfg.Prefix, maxPrefix)
	}
	if cfg.DefaultBridge == "" {
		cfg.DefaultBridge = cfg.Prefix + "0"
	}
	if cfg.DefaultBridge != "none" {
		if err := checkIfName(cfg.DefaultBridge); err != nil {
			return cfg, err
		}
	}
	if cfg.BIP.IsValid() {
		if !cfg.BIP.Addr().Is4() || cfg.BIP.Bits() > 30 || cfg.BIP.Addr() == cfg.BIP.Masked().Addr() {
			return cfg, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid --bip %s: want an IPv4 gateway address/length, e.g. 172.17.0.1/16", cfg.BIP)
		}
	}
	if cfg.DefaultAddressPools == nil {
		cfg.DefaultAddressPools = dockerPools()
	}
	for _, p := range cfg.DefaultAddressPools {
		if !p.Base.Addr().Is4() || p.Size < p.Base.Bits() || p.Size > 30 {
			return cfg, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid default address pool base=%s size=%d", p.Base, p.Size)
		}
	}
	if cfg.MTU == 0 {
		cfg.MTU = defaultMTU
	}
	if cfg.MTU < 68 || cfg.MTU > 65535 {
		return cfg, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid MTU %d", cfg.MTU)
	}
	switch cfg.Firewall {
	case "", "nftables", "iptables", "none":
	default:
		return cfg, errdefs.Errorf(errdefs.ErrInvalidParameter, "unknown firewall backend %q", cfg.Firewall)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg, nil
}

// checkIfName rejects what the kernel would refuse as an interface name.
func checkIfName(name string) error {
	if name == "" || len(name) > 15 || name == "." || name == ".." {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid interface name %q: 1 to 15 characters", name)
	}
	for _, r := range name {
		if r == '/' || r == ':' || r <= ' ' || r > '~' {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid interface name %q", name)
		}
	}
	return nil
}

// bridgeName is a user network's bridge unless its options name one.
func (c *Config) bridgeName(id string) string { return fmt.Sprintf("%s-%s", c.Prefix, id[:8]) }
