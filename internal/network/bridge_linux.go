package network

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The bridge driver: one Linux bridge per network holding the gateway
// address; containers hang off it by veth pairs (endpoint_linux.go).

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func isNotFound(err error) bool {
	var lnf netlink.LinkNotFoundError
	return errors.As(err, &lnf) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT)
}

// ensureBridge makes the bridge name exist, up, with gateway (address and
// length) and mtu, and turns route_localnet on so traffic from 127.0.0.1 to
// a published port can be DNATed to a container (hairpin). Existing
// bridges are kept as they are apart from what is missing: the daemon
// restarts with containers attached.
func ensureBridge(h *netlink.Handle, name string, gateway netip.Prefix, mtu int) (int, error) {
	link, err := h.LinkByName(name)
	if err != nil {
		if !isNotFound(err) {
			return 0, fmt.Errorf("bridge %s: %w", name, err)
		}
		// A MAC of its own: a bridge without one takes the lowest of its
		// ports' and changes it when that port goes, and every container
		// then sends to a gateway MAC that no longer exists until its ARP
		// entry expires.
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, MTU: mtu, Flags: net.FlagUp, TxQLen: -1, HardwareAddr: randomMAC()}}
		if err := h.LinkAdd(br); err != nil && !errors.Is(err, unix.EEXIST) {
			return 0, fmt.Errorf("create bridge %s: %w", name, err)
		}
		if link, err = h.LinkByName(name); err != nil {
			return 0, fmt.Errorf("bridge %s: %w", name, err)
		}
	}
	if gateway.IsValid() {
		addr := &netlink.Addr{IPNet: ipNet(gateway)}
		if err := h.AddrAdd(link, addr); err != nil && !errors.Is(err, unix.EEXIST) {
			return 0, fmt.Errorf("bridge %s: add address %s: %w", name, gateway, err)
		}
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := h.LinkSetUp(link); err != nil {
			return 0, fmt.Errorf("bridge %s: up: %w", name, err)
		}
	}
	if err := os.WriteFile("/proc/sys/net/ipv4/conf/"+name+"/route_localnet", []byte("1"), 0o644); err != nil {
		return 0, fmt.Errorf("bridge %s: route_localnet: %w", name, err)
	}
	return link.Attrs().Index, nil
}

// bridgeGateway returns the first IPv4 address of an existing bridge
// (a user-managed --bridge), or false.
func bridgeGateway(h *netlink.Handle, name string) (netip.Prefix, bool) {
	link, err := h.LinkByName(name)
	if err != nil {
		return netip.Prefix{}, false
	}
	addrs, err := h.AddrList(link, netlink.FAMILY_V4)
	if err != nil || len(addrs) == 0 {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(addrs[0].IP.To4())
	if !ok {
		return netip.Prefix{}, false
	}
	bits, _ := addrs[0].Mask.Size()
	return netip.PrefixFrom(a, bits), true
}

func deleteLink(h *netlink.Handle, name string) error {
	link, err := h.LinkByName(name)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return err
	}
	if err := h.LinkDel(link); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	return nil
}

// hostRoutes lists the IPv4 destinations the host routes somewhere (the
// default route aside), which new networks must not shadow.
func hostRoutes(h *netlink.Handle) ([]netip.Prefix, error) {
	routes, err := dump(func() ([]netlink.Route, error) { return h.RouteList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	var out []netip.Prefix
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		a, ok := netip.AddrFromSlice(r.Dst.IP.To4())
		if !ok {
			continue
		}
		bits, _ := r.Dst.Mask.Size()
		if bits == 0 {
			continue
		}
		out = append(out, netip.PrefixFrom(a, bits).Masked())
	}
	return out, nil
}

// deleteAddr removes addr from link name, if both are there.
func deleteAddr(h *netlink.Handle, name string, addr netip.Prefix) {
	if link, err := h.LinkByName(name); err == nil {
		_ = h.AddrDel(link, &netlink.Addr{IPNet: ipNet(addr)})
	}
}

// randomMAC is a random locally administered unicast address.
func randomMAC() net.HardwareAddr {
	mac := make(net.HardwareAddr, 6)
	_, _ = rand.Read(mac)
	mac[0] = mac[0]&^0x01 | 0x02
	return mac
}

// dump runs a netlink dump again when the kernel says a change interrupted
// it (links and routes come and go all the time on a busy host); after a
// few tries the last, possibly incomplete, result is used.
func dump[T any](list func() ([]T, error)) ([]T, error) {
	var out []T
	var err error
	for try := 0; try < 5; try++ {
		out, err = list()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return out, nil
}
