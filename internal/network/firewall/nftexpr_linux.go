package firewall

import (
	"net"
	"net/netip"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// The nftables expressions our rules are made of, written as nft(8) would
// compile them (checked against `nft --debug=netlink`), so `nft list
// ruleset` prints them back readably.

// ruleComment is libnftnl's NFTNL_UDATA_RULE_COMMENT: a rule's UserData in
// this form shows up as `comment "..."` in nft(8) and is how we find our
// rules again after a restart.
const ruleComment userdata.Type = 0

func comment(s string) []byte { return userdata.AppendString(nil, ruleComment, s) }

func commentOf(udata []byte) string {
	s, _ := userdata.GetString(udata, ruleComment)
	return s
}

// ifname pads an interface name to IFNAMSIZ so that the comparison is an
// exact match, not a prefix match.
func ifname(s string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, s)
	return b
}

func matchIface(key expr.MetaKey, op expr.CmpOp, name string) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: ifname(name)},
	}
}

func iifIs(name string) []expr.Any    { return matchIface(expr.MetaKeyIIFNAME, expr.CmpOpEq, name) }
func iifIsNot(name string) []expr.Any { return matchIface(expr.MetaKeyIIFNAME, expr.CmpOpNeq, name) }
func oifIs(name string) []expr.Any    { return matchIface(expr.MetaKeyOIFNAME, expr.CmpOpEq, name) }
func oifIsNot(name string) []expr.Any { return matchIface(expr.MetaKeyOIFNAME, expr.CmpOpNeq, name) }

// isIPv4 is `meta protocol ip`: in the bridge family, the network header
// is only known to be IPv4 after this check.
func isIPv4() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(unix.ETH_P_IP)},
	}
}

// IPv4 header offsets of the source and destination addresses.
const (
	ipv4Saddr = 12
	ipv4Daddr = 16
)

// inPrefix matches the IPv4 address at offset (ipv4Saddr or ipv4Daddr)
// against p.
func inPrefix(offset uint32, p netip.Prefix) []expr.Any {
	p = p.Masked()
	addr := p.Addr().As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: net.CIDRMask(p.Bits(), 32), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: addr[:]},
	}
}

// loopbackNet is 127.0.0.0/8: hairpin traffic from the host to
// 127.0.0.1:port leaves by a bridge with that source.
var loopbackNet = netip.MustParsePrefix("127.0.0.0/8")

// ctBits matches when any of bits is set in the connection's key (state or
// status), which the kernel keeps in host byte order.
func ctBits(key expr.CtKey, bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: key},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

// ipsDstNAT is IPS_DST_NAT of the conntrack status: the connection was
// DNATed, i.e. it is published-port traffic.
const ipsDstNAT = 1 << 5

func ctEstablished() []expr.Any {
	return ctBits(expr.CtKeySTATE, expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED)
}

func ctDNAT() []expr.Any { return ctBits(expr.CtKeySTATUS, ipsDstNAT) }

// fibDaddrLocal is `fib daddr type local`: the packet is addressed to one
// of the host's own addresses (127.0.0.1 included).
func fibDaddrLocal() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
}

func accept() expr.Any           { return &expr.Verdict{Kind: expr.VerdictAccept} }
func drop() expr.Any             { return &expr.Verdict{Kind: expr.VerdictDrop} }
func jump(chain string) expr.Any { return &expr.Verdict{Kind: expr.VerdictJump, Chain: chain} }
func masquerade() expr.Any       { return &expr.Masq{} }
func join(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// Registers of the published-port lookups. In the 32-bit register
// numbering (NFT_REG32_00 = 8) a concatenation puts each field in its own
// 32-bit register; register 1 (128-bit) is NFT_REG32_00..03.
const (
	reg1    = 1
	reg32_1 = 9  // NFT_REG32_01
	reg32_2 = 10 // NFT_REG32_02
)

// dnatAnyPort is `dnat ip to meta l4proto . th dport map @anyports`.
func dnatAnyPort(mapName string, mapID uint32) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg1},
		&expr.Payload{DestRegister: reg32_1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Lookup{SourceRegister: reg1, DestRegister: reg1, IsDestRegSet: true, SetName: mapName, SetID: mapID},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: reg1, RegProtoMin: reg32_1},
	}
}

// dnatHostPort is `dnat ip to ip daddr . meta l4proto . th dport map @hostports`.
func dnatHostPort(mapName string, mapID uint32) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: ipv4Daddr, Len: 4},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg32_1},
		&expr.Payload{DestRegister: reg32_2, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Lookup{SourceRegister: reg1, DestRegister: reg1, IsDestRegSet: true, SetName: mapName, SetID: mapID},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: reg1, RegProtoMin: reg32_1},
	}
}
