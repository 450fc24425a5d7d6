package nettest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Host is a namespace standing for another machine, joined to the host by
// a veth pair on a /24 of its own: the host's end (HostLink, in the host's
// namespace) has HostAddr (.1), the namespace's end (eth0) has Addr (.2).
type Host struct {
	*Netns
	Subnet   netip.Prefix
	Addr     netip.Addr // the namespace's own address
	HostAddr netip.Addr // the host's end of the pair
	HostLink string     // the host's end's name
}

// NewClientHost makes a machine that uses the host as its router (default
// route via HostAddr): it reaches the host's HostAddr, and through the host
// whatever the host forwards, as a client on the LAN would.
func NewClientHost(t testing.TB) *Host {
	t.Helper()
	return newHost(t, true)
}

// NewRemoteHost makes a machine the host routes to (its subnet is on the
// host's HostLink) but which has no route beyond its own subnet: it can
// answer only HostAddr. A container's traffic reaches it, and gets an
// answer, only when the host masquerades it; the remote sees HostAddr as
// its client.
func NewRemoteHost(t testing.TB) *Host {
	t.Helper()
	return newHost(t, false)
}

func newHost(t testing.TB, defaultRoute bool) *Host {
	t.Helper()
	ns := NewNetns(t)
	subnet := Subnet(t)
	var b [5]byte
	_, _ = rand.Read(b[:])
	h := &Host{
		Netns:    ns,
		Subnet:   subnet,
		Addr:     Nth(subnet, 2),
		HostAddr: Nth(subnet, 1),
		HostLink: "nt" + hex.EncodeToString(b[:]), // 12 bytes: within IFNAMSIZ
	}
	nsh, err := netns.GetFromPath(ns.Path)
	if err != nil {
		t.Fatalf("nettest: %v", err)
	}
	defer nsh.Close()
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: h.HostLink},
		PeerName:      "eth0",
		PeerNamespace: netlink.NsFd(int(nsh)),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("nettest: add veth %s: %v", h.HostLink, err)
	}
	t.Cleanup(func() {
		// Deleting one end deletes the pair; the namespace going away
		// would too, but only once nothing holds it.
		if l, err := netlink.LinkByName(h.HostLink); err == nil {
			if err := netlink.LinkDel(l); err != nil {
				t.Errorf("nettest: delete %s: %v", h.HostLink, err)
			}
		} else if !errors.As(err, new(netlink.LinkNotFoundError)) {
			t.Errorf("nettest: %s: %v", h.HostLink, err)
		}
	})
	hostEnd, err := netlink.LinkByName(h.HostLink)
	if err != nil {
		t.Fatalf("nettest: %v", err)
	}
	if err := netlink.AddrAdd(hostEnd, addrOf(h.HostAddr, subnet)); err != nil {
		t.Fatalf("nettest: address %s on %s: %v", h.HostAddr, h.HostLink, err)
	}
	if err := netlink.LinkSetUp(hostEnd); err != nil {
		t.Fatalf("nettest: up %s: %v", h.HostLink, err)
	}
	in := ns.Handle()
	eth0, err := in.LinkByName("eth0")
	if err != nil {
		t.Fatalf("nettest: eth0 in %s: %v", ns.Name, err)
	}
	if err := in.AddrAdd(eth0, addrOf(h.Addr, subnet)); err != nil {
		t.Fatalf("nettest: address %s in %s: %v", h.Addr, ns.Name, err)
	}
	if err := in.LinkSetUp(eth0); err != nil {
		t.Fatalf("nettest: up eth0 in %s: %v", ns.Name, err)
	}
	if defaultRoute {
		gw := h.HostAddr.AsSlice()
		if err := in.RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: net.IP(gw)}); err != nil {
			t.Fatalf("nettest: default route in %s: %v", ns.Name, err)
		}
	}
	return h
}

func addrOf(a netip.Addr, subnet netip.Prefix) *netlink.Addr {
	return &netlink.Addr{IPNet: &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(subnet.Bits(), 32)}}
}
