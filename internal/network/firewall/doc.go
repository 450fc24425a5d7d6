// Package firewall installs the packet filtering and NAT of Berth's bridge
// networks: outbound masquerade, published ports (DNAT, hairpin through
// 127.0.0.1), isolation between bridges, internal networks, and a user
// chain that the administrator owns and that published-port traffic passes
// before it is accepted.
//
// Backends: nftables through netlink (github.com/google/nftables; no exec
// of nft), iptables (exec of iptables-save/iptables-restore) where nftables
// is unusable, and a no-op one. See docs/network.md, section "Firewall",
// for the tables, chains and rules.
package firewall
