package firewall

import (
	"net/netip"
)

// The rules of one network, in a form both backends render (nftables
// expressions, iptables arguments), so that the two implement one design.
// docs/network.md ("Firewall") explains each rule.

// chain names one of our chains, independent of the backend.
type chain int

const (
	chGuard       chain = iota // filter, prerouting, raw priority: loopback addresses arriving on a bridge
	chPostrouting              // nat, postrouting: masquerade
	chFwdIn                    // filter, forward (jumped to): what may enter a bridge
	chFwdOut                   // filter, forward (jumped to, after chFwdIn): what may leave a bridge
)

type verdict int

const (
	vAccept verdict = iota
	vDrop
	vMasquerade
)

// rule is a conjunction of matches and a verdict; zero fields match
// anything.
type rule struct {
	chain          chain
	iif, oif       string
	iifNot, oifNot bool // the interface match is "is not"
	saddr, daddr   netip.Prefix
	ctDNAT         bool // the connection was DNATed (published port)
	verdict        verdict
}

// netRules are the rules of network n. Order matters within a chain.
func netRules(n Net) []rule {
	br := n.Bridge
	var rs []rule
	// route_localnet on the bridge (needed for hairpin through 127.0.0.1)
	// would otherwise let a container reach the host's loopback-only
	// services by sending to 127.0.0.1 through its gateway
	// (CVE-2020-8558's class); replies of hairpin connections arrive
	// addressed to the gateway, before their NAT is undone, so they pass.
	rs = append(rs,
		rule{chain: chGuard, iif: br, daddr: loopbackNet, verdict: vDrop},
		rule{chain: chGuard, iif: br, saddr: loopbackNet, verdict: vDrop},
	)
	if !n.Internal {
		if n.Masquerade {
			rs = append(rs, rule{chain: chPostrouting, saddr: n.Subnet, oif: br, oifNot: true, verdict: vMasquerade})
		}
		rs = append(rs,
			// host -> 127.0.0.1:port -> container: the container must
			// answer to an address that routes back to the host.
			rule{chain: chPostrouting, saddr: loopbackNet, oif: br, verdict: vMasquerade},
			// container -> host address:port -> container on the same
			// bridge: without this the answer would go straight back over
			// the bridge from an address the client never dialled. (The
			// input interface is unknown in postrouting: the source
			// address says where the packet came from.)
			rule{chain: chPostrouting, ctDNAT: true, saddr: n.Subnet, oif: br, verdict: vMasquerade},
			rule{chain: chFwdIn, oif: br, ctDNAT: true, verdict: vAccept},
		)
	}
	icc := vDrop
	if n.ICC {
		icc = vAccept
	}
	rs = append(rs,
		rule{chain: chFwdIn, oif: br, iif: br, verdict: icc},
		// Nothing else enters a bridge: this isolates bridges from each
		// other and from the outside (only published ports, above, and
		// answers, by the conntrack rule before, come in).
		rule{chain: chFwdIn, oif: br, verdict: vDrop},
	)
	out := vAccept
	if n.Internal {
		out = vDrop
	}
	rs = append(rs, rule{chain: chFwdOut, iif: br, verdict: out})
	return rs
}

// portID is what a published port is keyed by in the kernel: two
// mappings with the same portID cannot coexist.
type portID struct {
	proto  uint8
	hostIP netip.Addr // zero: every local address
	port   uint16
}

var protoNumbers = map[string]uint8{"tcp": 6, "udp": 17, "sctp": 132}

func protoName(n uint8) string {
	for name, v := range protoNumbers {
		if v == n {
			return name
		}
	}
	return ""
}

func (m Mapping) id() portID {
	return portID{proto: protoNumbers[m.Proto], hostIP: m.HostIP, port: m.HostPort}
}
