// Package firewall installs the packet filtering and NAT of Berth's bridge
// networks: outbound masquerade, published ports (DNAT, hairpin through
// 127.0.0.1), isolation between bridges, internal networks, ICC, and a
// user chain that the administrator owns and that published-port traffic
// passes before it is accepted. IPv4 only.
//
// # Backends
//
// New picks one: "nftables" (netlink through github.com/google/nftables,
// one kernel transaction per call, no exec), "iptables" (exec of
// iptables-save and iptables-restore --noflush, one commit per table),
// used only when nf_tables is unusable (New builds our whole ruleset in a
// scratch table and deletes it in the same transaction: if the kernel
// rejects any expression, nftables is unusable) or when asked for, and
// "none" (--iptables=false: nothing is touched). Both real backends render
// the same rules (rules.go: netRules) and pass the same tests.
//
// # nftables: tables and chains (P is the resource prefix)
//
// Table ip P (ours; Sync rebuilds it, Teardown deletes it):
//
//	map anyports   inet_proto . inet_service : ipv4_addr . inet_service              (HostIP zero)
//	map hostports  ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service  (one HostIP)
//	chain prerouting  nat hook prerouting priority dstnat:  fib daddr type local jump ports
//	chain output      nat hook output priority -100:        fib daddr type local jump ports
//	chain ports       dnat ip to ip daddr . meta l4proto . th dport map @hostports
//	                  dnat ip to meta l4proto . th dport map @anyports
//	chain postrouting nat hook postrouting priority srcnat, per network:
//	                  oifname != BR ip saddr SUBNET masquerade               (Masquerade, not Internal)
//	                  oifname BR ip saddr 127.0.0.0/8 masquerade             (hairpin from the host)
//	                  oifname BR ip saddr SUBNET ct status dnat masquerade   (hairpin from the bridge)
//	chain guard       filter hook prerouting priority raw, per network:
//	                  iifname BR ip daddr 127.0.0.0/8 drop; iifname BR ip saddr 127.0.0.0/8 drop
//	chain forward     filter hook forward priority filter:
//	                  ct state established,related accept; jump fwd-in; jump fwd-out
//	chain fwd-in      per network: oifname BR ct status dnat accept (not Internal)
//	                  iifname BR oifname BR accept|drop (ICC); oifname BR drop
//	chain fwd-out     per network: iifname BR accept (drop when Internal)
//
// Table bridge P: chain forward (filter hook forward), per network with
// ICC off: ip saddr SUBNET ip daddr SUBNET drop. Frames between two ports
// of a bridge reach the IP forward hook only when br_netfilter is loaded;
// this enforces ICC without it (the kernel here has no nft_meta_bridge, so
// the bridge's name cannot be matched there; the subnet is ours alone).
//
// Table ip P-user, chain forward (filter hook forward priority filter - 1,
// policy accept): the user chain. Created when absent, never flushed,
// changed or deleted by Berth (not by Init, Sync nor Teardown).
//
// Published ports are map elements, not rules: SetPorts and DeletePorts
// add and delete a key's elements in one transaction, whatever the number
// of other containers. Each element carries its key (the endpoint id) as
// its comment; after a restart the backend reads the maps back to learn
// which element belongs to which key. Network rules carry the comment
// "net:BRIDGE". A mapping published on the same protocol, host address
// and port under another key is a Conflict.
//
// Measured (BenchmarkSetPorts, 1000 other keys installed): SetPorts of a
// new key about 1 ms; any transaction that deletes (DeletePorts, or
// SetPorts replacing a key) about 12 ms, the kernel's cost of a deletion
// here, the same for rules and elements. Calls without ports (N1 skips
// them) touch nothing.
//
// # Why each rule
//
// Published ports answer on local addresses only (fib daddr type local),
// for packets from outside or from containers (prerouting) and from the
// host itself (output), so the host reaches them on 127.0.0.1 and on its
// own addresses. Hairpin through 127.0.0.1 needs route_localnet on the
// bridge (the network package sets it at creation; SetNetwork and Sync set
// it too) and the masquerade of 127/8 sources leaving by the bridge, so
// that the container answers to the gateway. route_localnet would also let
// a container reach the host's loopback-only services by sending to
// 127.0.0.1 through its gateway (CVE-2020-8558's class): the guard chain
// drops 127/8 arriving from a bridge (answers of hairpin connections
// arrive addressed to the gateway, before NAT is undone, and pass). A
// container reaching a published port of a container on its own bridge
// (itself included) is masqueraded too, or the answer would come straight
// back over the bridge from an address the client never dialled; with
// br_netfilter loaded, a container reaching its own published port also
// needs hairpin mode on its bridge port (the network package's job, as
// docker's with userland-proxy=false).
//
// Forwarding: answers pass (conntrack); a bridge takes in only
// published-port traffic (ct status dnat) and, with ICC, traffic between
// its own members: everything else entering a bridge is dropped, which
// isolates bridges from each other and from the outside. Leaving a bridge
// is accepted, unless the network is internal. Published ports stay
// reachable from containers of other networks (through the host's
// addresses), as docker's.
//
// # The user chain
//
// A separate base chain at an earlier priority, in a table of its own, so
// that our table can be deleted and rebuilt atomically without touching
// it. nftables semantics make it effective: an accept in one base chain
// does not stop a later base chain of the same hook from dropping, and a
// drop is final. So a drop there blocks a published port, whatever our
// chain says. It sees every forwarded packet, after DNAT (as docker's
// DOCKER-USER): match published-port traffic by `ct status dnat`, the host
// port by `ct original proto-dst`, the client by `ip saddr`. Example:
//
//	nft add rule ip berth-user forward meta l4proto tcp ct original proto-dst 8080 ip saddr != 192.0.2.0/24 drop
//
// Traffic from the host itself to a published port is not forwarded and
// does not pass it (as with docker).
//
// # iptables backend
//
// Same rules in chains: raw P-GUARD (from PREROUTING), nat P-PORTS (from
// PREROUTING and OUTPUT with -m addrtype --dst-type LOCAL; DNAT rules,
// host-address ones first), nat P-POSTROUTING, filter P-FORWARD
// (conntrack, then P-FWD-IN, P-FWD-OUT) and the user chain filter P-USER.
// FORWARD jumps to P-USER, then to P-FORWARD, at its top; the jumps carry
// the comment "P", our rules "P:net:BRIDGE" or
// "P:port:KEY:PROTO/HOSTIP/PORT", which is how they are found again. An
// ACCEPT in P-USER is final here (iptables semantics), unlike nftables.
// ICC off is `-i BR -o BR -j DROP`, which needs br_netfilter (as docker);
// SetNetwork turns bridge-nf-call-iptables on when the module is there and
// warns otherwise.
//
// # iptables FORWARD policy DROP
//
// dockerd sets iptables' FORWARD policy to DROP. With iptables-nft that
// chain (ip filter FORWARD) is another base chain of the forward hook:
// our accepts do not stop its policy from dropping our bridges' traffic.
// The nftables backend detects the policy (over netlink), warns once, and
// inserts `-i BR -j ACCEPT` and `-o BR -j ACCEPT` (comment "P:BR") at the
// top of FORWARD through the iptables command, as dockerd does for its own
// bridges. They neutralise that policy for our bridges only; what must be
// dropped is dropped by our chain and the user chain. DeleteNetwork
// removes them, Sync and Teardown reconcile them. An iptables-legacy
// FORWARD chain is invisible to nftables and is not handled. The iptables
// backend needs nothing: everything it lets through it ACCEPTs explicitly
// from the top of FORWARD.
//
// Init also sets net.ipv4.ip_forward=1.
package firewall
