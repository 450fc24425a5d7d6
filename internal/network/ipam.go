package network

import (
	"encoding/binary"
	"net/netip"
)

// IPAM: IPv4 only, as the rest of the package. Addresses are handed out
// lowest-free first from the network's ip-range (or its subnet), as
// docker's default allocator does, so the first container on the default
// bridge is 172.17.0.2.

func addrToU32(a netip.Addr) uint32 { b := a.As4(); return binary.BigEndian.Uint32(b[:]) }

func u32ToAddr(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

// lastAddr is p's broadcast address.
func lastAddr(p netip.Prefix) netip.Addr {
	return u32ToAddr(addrToU32(p.Masked().Addr()) | (1<<(32-p.Bits()) - 1))
}

// firstHost is the first usable address of p: docker's default gateway.
func firstHost(p netip.Prefix) netip.Addr { return p.Masked().Addr().Next() }

// chooseSubnet returns the first subnet that the pools yield and that
// overlaps nothing in taken (host routes and other networks).
func chooseSubnet(pools []AddressPool, taken []netip.Prefix) (netip.Prefix, bool) {
	for _, pool := range pools {
		base := addrToU32(pool.Base.Masked().Addr())
		step := uint64(1) << (32 - pool.Size)
		count := uint64(1) << (pool.Size - pool.Base.Bits())
		for i := uint64(0); i < count; i++ {
			cand := netip.PrefixFrom(u32ToAddr(base+uint32(i*step)), pool.Size)
			if !overlapsAny(cand, taken) {
				return cand, true
			}
		}
	}
	return netip.Prefix{}, false
}

func overlapsAny(p netip.Prefix, taken []netip.Prefix) bool {
	for _, t := range taken {
		if t.IsValid() && p.Overlaps(t) {
			return true
		}
	}
	return false
}

// pool is one network's address book: which addresses are held and by
// whom (an endpoint id, or "gateway").
type pool struct {
	subnet, ipRange netip.Prefix
	used            map[netip.Addr]string
}

func newPool(subnet, ipRange netip.Prefix, gateway netip.Addr) *pool {
	p := &pool{subnet: subnet, ipRange: ipRange, used: map[netip.Addr]string{}}
	if gateway.IsValid() {
		p.used[gateway] = "gateway"
	}
	return p
}

// usable says whether a is an address a container may hold: inside the
// subnet and neither its network nor its broadcast address.
func (p *pool) usable(a netip.Addr) bool {
	return a.Is4() && p.subnet.Contains(a) && a != p.subnet.Masked().Addr() && a != lastAddr(p.subnet)
}

// next returns the lowest free address of the range, or false when the
// range is full.
func (p *pool) next() (netip.Addr, bool) {
	r := p.ipRange
	if !r.IsValid() {
		r = p.subnet
	}
	lo, hi := addrToU32(r.Masked().Addr()), addrToU32(lastAddr(r))
	for v := uint64(lo); v <= uint64(hi); v++ {
		a := u32ToAddr(uint32(v))
		if _, held := p.used[a]; !held && p.usable(a) {
			return a, true
		}
	}
	return netip.Addr{}, false
}

func (p *pool) hold(a netip.Addr, owner string) { p.used[a] = owner }

// release frees a if owner holds it (a second release is a no-op).
func (p *pool) release(a netip.Addr, owner string) {
	if p.used[a] == owner {
		delete(p.used, a)
	}
}
