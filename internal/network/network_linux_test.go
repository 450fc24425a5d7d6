package network

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/berth-project/berth/internal/errdefs"
)

func TestCreateRemoveNetwork(t *testing.T) {
	t.Parallel()
	e := newTestNet(t)
	m := e.start()
	defer e.teardown(m)
	ctx := context.Background()

	sub := e.subnet()
	n, err := m.CreateNetwork(ctx, CreateRequest{Name: "front-" + e.prefix, Subnet: sub, Labels: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if n.Subnet != sub || n.Gateway != firstHost(sub) || n.Driver != "bridge" || n.Bridge != e.prefix+"-"+n.ID[:8] || n.Labels["a"] != "b" {
		t.Fatalf("network %+v", n)
	}
	link, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		t.Fatalf("bridge %s: %v", n.Bridge, err)
	}
	if link.Type() != "bridge" || link.Attrs().Flags&net.FlagUp == 0 || link.Attrs().MTU != 1500 {
		t.Errorf("bridge type %s flags %v mtu %d", link.Type(), link.Attrs().Flags, link.Attrs().MTU)
	}
	addrs, _ := netlink.AddrList(link, netlink.FAMILY_V4)
	if len(addrs) != 1 || addrs[0].IPNet.String() != netip.PrefixFrom(n.Gateway, 24).String() {
		t.Errorf("bridge addresses %v", addrs)
	}
	if b, _ := os.ReadFile("/proc/sys/net/ipv4/conf/" + n.Bridge + "/route_localnet"); strings.TrimSpace(string(b)) != "1" {
		t.Errorf("route_localnet %q", b)
	}
	for _, key := range []string{n.ID, n.Name, n.ID[:12]} {
		if got, err := m.Network(key); err != nil || got.ID != n.ID {
			t.Errorf("Network(%q) = %v, %v", key, got.ID, err)
		}
	}
	names := map[string]bool{}
	for _, x := range m.Networks() {
		names[x.Name] = true
	}
	if !names["host"] || !names["none"] || !names[n.Name] || names["bridge"] {
		t.Errorf("Networks: %v", names)
	}
	if err := m.RemoveNetwork(ctx, n.Name); err != nil {
		t.Fatal(err)
	}
	if linkExists(t, n.Bridge) {
		t.Errorf("bridge %s still there", n.Bridge)
	}
	if _, err := m.Network(n.ID); !errdefs.IsNotFound(err) || err.Error() != "network "+n.ID+" not found" {
		t.Errorf("after remove: %v", err)
	}
}

func TestTwoSandboxesTalk(t *testing.T) {
	t.Parallel()
	e := newTestNet(t)
	m := e.start()
	defer e.teardown(m)
	ctx := context.Background()
	n, err := m.CreateNetwork(ctx, CreateRequest{Name: "talk", Subnet: e.subnet()})
	if err != nil {
		t.Fatal(err)
	}
	var eps [2]Endpoint
	var paths [2]string
	for i, id := range []string{"a" + randHex(63), "b" + randHex(63)} {
		if paths[i], err = m.NewSandbox(ctx, id); err != nil {
			t.Fatal(err)
		}
		if paths[i] != filepath.Join(e.cfg.ExecRoot, id) {
			t.Errorf("sandbox path %s", paths[i])
		}
		eps[i], err = m.Connect(ctx, paths[i], EndpointConfig{ContainerID: id, ContainerName: "/c" + id[:1], Network: "talk", DefaultRoute: true})
		if err != nil {
			t.Fatal(err)
		}
	}
	a, b := eps[0], eps[1]
	if a.Address.Addr() != n.Gateway.Next() || b.Address.Addr() != a.Address.Addr().Next() || a.IfName != "eth0" || a.DNS != n.Gateway {
		t.Errorf("endpoints %+v %+v", a, b)
	}
	ip := b.Address.Addr().As4()
	if want := (net.HardwareAddr{0x02, 0x42, ip[0], ip[1], ip[2], ip[3]}); b.MAC.String() != want.String() {
		t.Errorf("mac %s", b.MAC)
	}

	// A TCP listener in b, a dial from a; and the default route in a.
	var ln net.Listener
	if err := inNetns(paths[1], func() (err error) { ln, err = net.Listen("tcp4", b.Address.Addr().String()+":7777"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, _ = c.Write([]byte("hello"))
			c.Close()
		}
	}()
	start := time.Now()
	err = inNetns(paths[0], func() error {
		defer func() { t.Logf("dial and read: %v", time.Since(start)) }()
		c, err := net.DialTimeout("tcp4", b.Address.Addr().String()+":7777", 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		got, err := io.ReadAll(c)
		if string(got) != "hello" {
			t.Errorf("read %q, %v", got, err)
		}
		routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		var def bool
		for _, r := range routes {
			def = def || ((r.Dst == nil || r.Dst.IP.IsUnspecified()) && r.Gw.Equal(n.Gateway.AsSlice()))
		}
		if !def {
			t.Errorf("no default route via %s in %v", n.Gateway, routes)
		}
		lo, err := netlink.LinkByName("lo")
		if err != nil || lo.Attrs().Flags&net.FlagUp == 0 {
			t.Errorf("lo not up: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !linkExists(t, a.HostIfName) {
		t.Errorf("host veth %s missing", a.HostIfName)
	}
	// Disconnect and RemoveSandbox leave nothing, and the bridge keeps its
	// MAC (the containers' ARP entry for the gateway stays right).
	br, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Disconnect(ctx, a.ContainerID, "talk"); err != nil {
		t.Fatal(err)
	}
	if len(m.Endpoints(a.ContainerID)) != 0 {
		t.Errorf("endpoint listed after Disconnect")
	}
	m.waitReleases()
	if br2, err := netlink.LinkByName(n.Bridge); err != nil || br2.Attrs().HardwareAddr.String() != br.Attrs().HardwareAddr.String() {
		t.Errorf("bridge MAC %v became %v (%v)", br.Attrs().HardwareAddr, br2, err)
	}
	if linkExists(t, a.HostIfName) || len(m.Endpoints(a.ContainerID)) != 0 {
		t.Errorf("disconnect left veth or endpoint")
	}
	if err := m.RemoveSandbox(ctx, a.ContainerID); err != nil {
		t.Fatal(err)
	}
	m.sandboxes.wait()
	if _, err := os.Stat(paths[0]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("sandbox file: %v", err)
	}
	if err := m.RemoveSandbox(ctx, a.ContainerID); err != nil {
		t.Errorf("second RemoveSandbox: %v", err)
	}
}

func TestIPAMPersistsAcrossRestart(t *testing.T) {
	t.Parallel()
	e := newTestNet(t)
	m := e.start()
	ctx := context.Background()
	n, err := m.CreateNetwork(ctx, CreateRequest{Name: "keep", Subnet: e.subnet()})
	if err != nil {
		t.Fatal(err)
	}
	c1 := "c1" + randHex(62)
	p1, err := m.NewSandbox(ctx, c1)
	if err != nil {
		t.Fatal(err)
	}
	ep1, err := m.Connect(ctx, p1, EndpointConfig{ContainerID: c1, ContainerName: "one", Network: n.ID, DefaultRoute: true,
		Ports: []PortBinding{{Proto: "tcp", ContainerPort: 80, HostPort: 0}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	m2 := e.start()
	defer e.teardown(m2)
	if got, err := m2.Network("keep"); err != nil || got.ID != n.ID || got.Subnet != n.Subnet {
		t.Fatalf("after restart: %+v %v", got, err)
	}
	if err := m2.Reconcile(ctx, map[string]string{c1: p1}); err != nil {
		t.Fatal(err)
	}
	eps := m2.Endpoints(c1)
	if len(eps) != 1 || eps[0].Address != ep1.Address || eps[0].Ports[0].HostPort != ep1.Ports[0].HostPort {
		t.Fatalf("endpoints after restart: %+v (was %+v)", eps, ep1)
	}
	c2 := "c2" + randHex(62)
	p2, err := m2.NewSandbox(ctx, c2)
	if err != nil {
		t.Fatal(err)
	}
	ep2, err := m2.Connect(ctx, p2, EndpointConfig{ContainerID: c2, Network: "keep",
		Ports: []PortBinding{{Proto: "tcp", ContainerPort: 80, HostPort: ep1.Ports[0].HostPort}}})
	if !errdefs.IsConflict(err) {
		t.Fatalf("the held host port was handed out again: %+v %v", ep2, err)
	}
	ep2, err = m2.Connect(ctx, p2, EndpointConfig{ContainerID: c2, Network: "keep"})
	if err != nil {
		t.Fatal(err)
	}
	if ep2.Address.Addr() != ep1.Address.Addr().Next() {
		t.Errorf("second address %s after %s", ep2.Address, ep1.Address)
	}
}

func TestReconcileReleasesDeadContainer(t *testing.T) {
	t.Parallel()
	e := newTestNet(t)
	m := e.start()
	defer func() { e.teardown(m) }()
	ctx := context.Background()
	if _, err := m.CreateNetwork(ctx, CreateRequest{Name: "rec", Subnet: e.subnet()}); err != nil {
		t.Fatal(err)
	}
	live, dead := "l"+randHex(63), "d"+randHex(63)
	lp, _ := m.NewSandbox(ctx, live)
	dp, err := m.NewSandbox(ctx, dead)
	if err != nil {
		t.Fatal(err)
	}
	lep, err := m.Connect(ctx, lp, EndpointConfig{ContainerID: live, Network: "rec"})
	if err != nil {
		t.Fatal(err)
	}
	dep, err := m.Connect(ctx, dp, EndpointConfig{ContainerID: dead, Network: "rec", Ports: []PortBinding{{Proto: "udp", ContainerPort: 53, HostPort: 5353}}})
	if err != nil {
		t.Fatal(err)
	}
	// A crash: the daemon is gone, the dead container's namespace is
	// still mounted, its veth still on the bridge.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m = e.start()
	// And a veth that a crash left on the bridge before its record.
	n, _ := m.Network("rec")
	br, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		t.Fatal(err)
	}
	stray := "v" + randHex(14)
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: stray, MasterIndex: br.Attrs().Index}, PeerName: "p" + randHex(14)}); err != nil {
		t.Fatal(err)
	}
	if err := m.Reconcile(ctx, map[string]string{live: lp}); err != nil {
		t.Fatal(err)
	}
	if linkExists(t, stray) {
		t.Errorf("stray veth %s kept", stray)
	}
	if linkExists(t, dep.HostIfName) {
		t.Errorf("dead container's veth %s kept", dep.HostIfName)
	}
	if !linkExists(t, lep.HostIfName) {
		t.Errorf("live container's veth %s removed", lep.HostIfName)
	}
	if _, err := os.Stat(dp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dead sandbox %s: %v", dp, err)
	}
	if _, err := os.Stat(lp); err != nil {
		t.Errorf("live sandbox: %v", err)
	}
	if len(m.Endpoints(dead)) != 0 || len(m.Endpoints(live)) != 1 {
		t.Errorf("endpoints dead %v live %v", m.Endpoints(dead), m.Endpoints(live))
	}
	// Its address and port are free again.
	np, _ := m.NewSandbox(ctx, dead)
	ep, err := m.Connect(ctx, np, EndpointConfig{ContainerID: dead, Network: "rec", Ports: []PortBinding{{Proto: "udp", ContainerPort: 53, HostPort: 5353}}})
	if err != nil || ep.Address != dep.Address {
		t.Errorf("reconnect: %+v %v (had %s)", ep, err, dep.Address)
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	e := newTestNet(t)
	m := e.start()
	defer e.teardown(m)
	ctx := context.Background()
	sub := e.subnet()
	n, err := m.CreateNetwork(ctx, CreateRequest{Name: "bad", Subnet: sub, IPRange: netip.PrefixFrom(sub.Addr(), 25)})
	if err != nil {
		t.Fatal(err)
	}
	auto, err := m.CreateNetwork(ctx, CreateRequest{Name: "auto"})
	if err != nil {
		t.Fatal(err)
	}
	c := "c" + randHex(63)
	p, err := m.NewSandbox(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.NewSandbox(ctx, c); !errdefs.IsConflict(err) {
		t.Errorf("second NewSandbox: %v", err)
	}
	held, err := m.Connect(ctx, p, EndpointConfig{ContainerID: c, ContainerName: "/web", Network: "bad",
		IPv4: sub.Addr().Next().Next().Next(), Ports: []PortBinding{{Proto: "tcp", ContainerPort: 80, HostPort: 18080}}})
	if err != nil {
		t.Fatal(err)
	}
	other := "o" + randHex(63)
	op, _ := m.NewSandbox(ctx, other)

	hostLn, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hostLn.Close()
	hostPort := uint16(hostLn.Addr().(*net.TCPAddr).Port)

	outside := lastAddr(sub).Next()
	inSubnetNotRange := netip.PrefixFrom(sub.Addr(), 25).Masked().Addr()
	for i := 0; i < 200; i++ {
		inSubnetNotRange = inSubnetNotRange.Next()
	}
	cases := []struct {
		name string
		do   func() error
		is   func(error) bool
		text string
	}{
		{"duplicate name", func() error {
			_, err := m.CreateNetwork(ctx, CreateRequest{Name: "bad", Subnet: e.subnet()})
			return err
		},
			errdefs.IsConflict, "network with name bad already exists"},
		{"overlapping subnet", func() error {
			_, err := m.CreateNetwork(ctx, CreateRequest{Name: "ov", Subnet: netip.PrefixFrom(sub.Addr(), 16).Masked()})
			return err
		}, errdefs.IsForbidden, "invalid pool request: Pool overlaps with other one on this address space"},
		{"predefined name", func() error { _, err := m.CreateNetwork(ctx, CreateRequest{Name: "host"}); return err },
			errdefs.IsForbidden, "operation is not permitted on predefined host network "},
		{"driver host", func() error { _, err := m.CreateNetwork(ctx, CreateRequest{Name: "h2", Driver: "host"}); return err },
			errdefs.IsForbidden, `only one instance of "host" network is allowed`},
		{"unknown driver", func() error { _, err := m.CreateNetwork(ctx, CreateRequest{Name: "o2", Driver: "overlay"}); return err },
			errdefs.IsNotImplemented, "could not find plugin overlay in v1 plugin registry: plugin not found"},
		{"unmasked subnet", func() error {
			_, err := m.CreateNetwork(ctx, CreateRequest{Name: "um", Subnet: netip.PrefixFrom(sub.Addr().Next(), 24)})
			return err
		}, errdefs.IsInvalidParameter, "invalid network config:\ninvalid subnet " + netip.PrefixFrom(sub.Addr().Next(), 24).String() + ": it should be " + sub.String()},
		{"gateway outside", func() error {
			s := e.subnet()
			_, err := m.CreateNetwork(ctx, CreateRequest{Name: "gw", Subnet: s, Gateway: outside})
			return err
		}, errdefs.IsInvalidParameter, ""},
		{"bad mtu option", func() error {
			_, err := m.CreateNetwork(ctx, CreateRequest{Name: "mtu", Options: map[string]string{optMTU: "x"}})
			return err
		}, errdefs.IsInvalidParameter, ""},
		{"ip outside subnet", func() error {
			_, err := m.Connect(ctx, op, EndpointConfig{ContainerID: other, Network: "bad", IPv4: outside})
			return err
		}, errdefs.IsInvalidParameter, "invalid endpoint settings:\nno configured subnet or ip-range contain the IP address " + outside.String()},
		{"ip outside ip-range", func() error {
			_, err := m.Connect(ctx, op, EndpointConfig{ContainerID: other, Network: "bad", IPv4: inSubnetNotRange})
			return err
		}, errdefs.IsInvalidParameter, "invalid endpoint settings:\nno configured subnet or ip-range contain the IP address " + inSubnetNotRange.String()},
		{"ip in use", func() error {
			_, err := m.Connect(ctx, op, EndpointConfig{ContainerID: other, Network: "bad", IPv4: held.Address.Addr()})
			return err
		}, errdefs.IsInvalidParameter, "Address already in use"},
		{"ip on a network without a user subnet", func() error {
			_, err := m.Connect(ctx, op, EndpointConfig{ContainerID: other, Network: auto.ID, IPv4: auto.Gateway.Next()})
			return err
		}, errdefs.IsInvalidParameter, "invalid endpoint settings:\nuser specified IP address is supported only when connecting to networks with user configured subnets"},
		{"host port taken", func() error {
			_, err := m.Connect(ctx, op, EndpointConfig{ContainerID: other, Network: "bad", Ports: []PortBinding{{Proto: "tcp", ContainerPort: 81, HostPort: 18080}}})
			return err
		}, errdefs.IsConflict, "Bind for 0.0.0.0:18080 failed: port is already allocated"},
		{"host port a host process listens on", func() error {
			_, err := m.Connect(ctx, op, EndpointConfig{ContainerID: other, Network: "bad", Ports: []PortBinding{{Proto: "tcp", ContainerPort: 80, HostPort: hostPort}}})
			return err
		}, errdefs.IsUnavailable, fmt.Sprintf("failed to bind host port for 0.0.0.0:%d:%s:80/tcp: address already in use", hostPort, n.Gateway.Next())},
		{"already connected", func() error {
			_, err := m.Connect(ctx, p, EndpointConfig{ContainerID: c, ContainerName: "/web", Network: n.ID})
			return err
		}, errdefs.IsConflict, "endpoint with name web already exists in network bad"},
		{"unknown network", func() error {
			_, err := m.Connect(ctx, op, EndpointConfig{ContainerID: other, Network: "nope"})
			return err
		},
			errdefs.IsNotFound, "network nope not found"},
		{"connect to host", func() error {
			_, err := m.Connect(ctx, op, EndpointConfig{ContainerID: other, Network: "host"})
			return err
		},
			errdefs.IsInvalidParameter, ""},
		{"remove in use", func() error { return m.RemoveNetwork(ctx, "bad") },
			errdefs.IsConflict, "error while removing network: network bad id " + n.ID + " has active endpoints"},
		{"remove predefined", func() error { return m.RemoveNetwork(ctx, "none") },
			errdefs.IsForbidden, "none is a pre-defined network and cannot be removed"},
		{"remove unknown", func() error { return m.RemoveNetwork(ctx, "nope") }, errdefs.IsNotFound, "network nope not found"},
		{"disconnect not connected", func() error { return m.Disconnect(ctx, other, "bad") }, errdefs.IsNotFound, ""},
		{"sandbox id with a slash", func() error { _, err := m.NewSandbox(ctx, "../x"); return err }, errdefs.IsInvalidParameter, ""},
	}
	for _, tc := range cases {
		err := tc.do()
		if err == nil || !tc.is(err) {
			t.Errorf("%s: error %v (class wrong)", tc.name, err)
			continue
		}
		if tc.text != "" && err.Error() != tc.text {
			t.Errorf("%s: error %q, want %q", tc.name, err, tc.text)
		}
	}
	// The failures left nothing held: other gets the next address, and
	// no other network was made.
	ep, err := m.Connect(ctx, op, EndpointConfig{ContainerID: other, Network: "bad"})
	if err != nil || ep.Address.Addr() != n.Gateway.Next() {
		t.Errorf("after failures: %+v %v", ep, err)
	}
	if got := len(m.Networks()); got != 4 {
		t.Errorf("%d networks", got)
	}
}

func TestDefaultBridge(t *testing.T) {
	t.Parallel()
	e := newTestNet(t)
	sub := e.subnet()
	e.cfg.DefaultBridge = ""
	e.cfg.BIP = netip.PrefixFrom(sub.Addr().Next(), 24)
	e.cfg.MTU = 1400
	m := e.start()
	defer e.teardown(m)
	ctx := context.Background()
	n, err := m.Network("bridge")
	if err != nil {
		t.Fatal(err)
	}
	if n.Bridge != e.prefix+"0" || n.Subnet != sub || n.Gateway != sub.Addr().Next() || !n.Predefined || n.Options[optBridgeName] != n.Bridge {
		t.Fatalf("default bridge %+v", n)
	}
	link, err := netlink.LinkByName(n.Bridge)
	if err != nil || link.Attrs().MTU != 1400 {
		t.Fatalf("bridge %v %v", link, err)
	}
	c := "c" + randHex(63)
	p, err := m.NewSandbox(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Connect(ctx, p, EndpointConfig{ContainerID: c, Network: "bridge", IPv4: sub.Addr().Next().Next()}); !errdefs.IsInvalidParameter(err) {
		t.Errorf("--ip on the default bridge: %v", err)
	}
	if _, err := m.Connect(ctx, p, EndpointConfig{ContainerID: c, Network: "bridge", Aliases: []string{"x"}}); !errdefs.IsInvalidParameter(err) {
		t.Errorf("alias on the default bridge: %v", err)
	}
	ep, err := m.Connect(ctx, p, EndpointConfig{ContainerID: c, Network: "bridge", DefaultRoute: true,
		Ports: []PortBinding{{Proto: "tcp", ContainerPort: 80}, {Proto: "udp", ContainerPort: 80}}})
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := ephemeralRange()[0], ephemeralRange()[1]
	for _, pb := range ep.Ports {
		if pb.HostPort < lo || pb.HostPort > hi {
			t.Errorf("port %+v outside %d-%d", pb, lo, hi)
		}
	}
	if ep.Address.Addr() != n.Gateway.Next() || ep.DNS.IsValid() {
		t.Errorf("endpoint %+v", ep)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	// A restart keeps the default network's id and the endpoint.
	m2 := e.start()
	n2, _ := m2.Network("bridge")
	if n2.ID != n.ID || len(m2.Endpoints(c)) != 1 {
		t.Errorf("after restart: %s vs %s, %v", n2.ID, n.ID, m2.Endpoints(c))
	}
	e.teardown(m2)
}

func TestAutoSubnetAvoidsRoutes(t *testing.T) {
	t.Parallel()
	e := newTestNet(t)
	// A pool of four /24s; the first overlaps a route the test adds.
	var pool netip.Prefix
	for {
		s := e.subnet()
		if s.Addr().As4()[2]%4 == 0 {
			pool = netip.PrefixFrom(s.Addr(), 22)
			break
		}
	}
	e.cfg.DefaultAddressPools = []AddressPool{{Base: pool, Size: 24}}
	dummy := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: e.prefix + "d"}}
	if err := netlink.LinkAdd(dummy); err != nil {
		t.Fatal(err)
	}
	defer netlink.LinkDel(dummy)
	if err := netlink.AddrAdd(dummy, &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(pool.Addr().Next(), 24))}); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(dummy); err != nil {
		t.Fatal(err)
	}
	m := e.start()
	defer e.teardown(m)
	ctx := context.Background()
	a, err := m.CreateNetwork(ctx, CreateRequest{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.CreateNetwork(ctx, CreateRequest{Name: "b", Internal: true})
	if err != nil {
		t.Fatal(err)
	}
	second := netip.PrefixFrom(u32ToAddr(addrToU32(pool.Addr())+256), 24)
	third := netip.PrefixFrom(u32ToAddr(addrToU32(pool.Addr())+512), 24)
	if a.Subnet != second || b.Subnet != third || !b.Internal {
		t.Errorf("subnets %s %s, want %s %s", a.Subnet, b.Subnet, second, third)
	}
}

// TestParallelConnects: containers starting together get distinct
// addresses and interfaces, and the manager's state stays whole.
func TestParallelConnects(t *testing.T) {
	t.Parallel()
	e := newTestNet(t)
	m := e.start()
	defer e.teardown(m)
	ctx := context.Background()
	if _, err := m.CreateNetwork(ctx, CreateRequest{Name: "par", Subnet: e.subnet()}); err != nil {
		t.Fatal(err)
	}
	const n = 8
	type result struct {
		ep  Endpoint
		err error
	}
	results := make(chan result, n)
	for i := 0; i < n; i++ {
		go func() {
			id := "p" + randHex(63)
			p, err := m.NewSandbox(ctx, id)
			if err != nil {
				results <- result{err: err}
				return
			}
			ep, err := m.Connect(ctx, p, EndpointConfig{ContainerID: id, Network: "par", DefaultRoute: true,
				Ports: []PortBinding{{Proto: "tcp", ContainerPort: 80}}})
			results <- result{ep, err}
		}()
	}
	addrs, ports := map[netip.Addr]bool{}, map[uint16]bool{}
	for i := 0; i < n; i++ {
		r := <-results
		if r.err != nil {
			t.Fatal(r.err)
		}
		if addrs[r.ep.Address.Addr()] || ports[r.ep.Ports[0].HostPort] {
			t.Errorf("address %s or port %d handed out twice", r.ep.Address, r.ep.Ports[0].HostPort)
		}
		addrs[r.ep.Address.Addr()], ports[r.ep.Ports[0].HostPort] = true, true
		if !linkExists(t, r.ep.HostIfName) {
			t.Errorf("veth %s missing", r.ep.HostIfName)
		}
	}
}

// TestReuseAfterDisconnect: what a Disconnect still releases in the
// background is waited for, not refused: the same container back on the
// network, the same --ip and host port for another one, and removing the
// network, all right after Disconnect returns.
func TestReuseAfterDisconnect(t *testing.T) {
	t.Parallel()
	e := newTestNet(t)
	m := e.start()
	defer e.teardown(m)
	ctx := context.Background()
	sub := e.subnet()
	if _, err := m.CreateNetwork(ctx, CreateRequest{Name: "again", Subnet: sub}); err != nil {
		t.Fatal(err)
	}
	ip := sub.Addr().Next().Next().Next().Next()
	cfg := func(id string) EndpointConfig {
		return EndpointConfig{ContainerID: id, Network: "again", IPv4: ip, DefaultRoute: true,
			Ports: []PortBinding{{Proto: "tcp", ContainerPort: 80, HostPort: 18181}}}
	}
	a, b := "a"+randHex(63), "b"+randHex(63)
	pa, _ := m.NewSandbox(ctx, a)
	pb, err := m.NewSandbox(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Connect(ctx, pa, cfg(a)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := m.Disconnect(ctx, a, "again"); err != nil {
			t.Fatal(err)
		}
		ep, err := m.Connect(ctx, pa, cfg(a))
		if err != nil || ep.IfName != "eth0" || ep.Address.Addr() != ip {
			t.Fatalf("reconnect %d: %+v %v", i, ep, err)
		}
	}
	if err := m.Disconnect(ctx, a, "again"); err != nil {
		t.Fatal(err)
	}
	// A restart: the sandbox removed and made again at once.
	if err := m.RemoveSandbox(ctx, a); err != nil {
		t.Fatal(err)
	}
	if pa2, err := m.NewSandbox(ctx, a); err != nil || pa2 != pa {
		t.Fatalf("NewSandbox right after RemoveSandbox: %s %v", pa2, err)
	}
	if _, err := m.Connect(ctx, pb, cfg(b)); err != nil {
		t.Fatalf("another container on the released address and port: %v", err)
	}
	if err := m.Disconnect(ctx, b, "again"); err != nil {
		t.Fatal(err)
	}
	if err := m.RemoveNetwork(ctx, "again"); err != nil {
		t.Fatalf("remove right after the last Disconnect: %v", err)
	}
}

// TestReadyInterface: a sandbox's first Connect takes a ready-made
// interface (ready_linux.go) and gets what a created one gets: its MAC,
// the network's MTU, an address that answers; RemoveSandbox removes both
// mount layers. A later Connect of the same sandbox creates its veth.
func TestReadyInterface(t *testing.T) {
	t.Parallel()
	e := newTestNet(t)
	m := e.start()
	defer e.teardown(m)
	ctx := context.Background()
	if _, err := m.CreateNetwork(ctx, CreateRequest{Name: "ready", Subnet: e.subnet(), Options: map[string]string{optMTU: "1400"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateNetwork(ctx, CreateRequest{Name: "second", Subnet: e.subnet()}); err != nil {
		t.Fatal(err)
	}
	var paths [2]string
	var eps [2]Endpoint
	for i := range paths {
		m.sandboxes.fillReady()
		before := m.sandboxes.readyTaken.Load()
		id := "r" + randHex(63)
		p, err := m.NewSandbox(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		ep, err := m.Connect(ctx, p, EndpointConfig{ContainerID: id, Network: "ready", DefaultRoute: true})
		if err != nil {
			t.Fatal(err)
		}
		if m.sandboxes.readyTaken.Load() != before+1 {
			t.Fatalf("Connect %d did not take a ready interface", i)
		}
		paths[i], eps[i] = p, ep
	}
	var ln net.Listener
	if err := inNetns(paths[1], func() (err error) { ln, err = net.Listen("tcp4", ":7"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	err := inNetns(paths[0], func() error {
		link, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		if link.Attrs().MTU != 1400 || link.Attrs().HardwareAddr.String() != eps[0].MAC.String() {
			t.Errorf("eth0 MTU %d MAC %s, want 1400 %s", link.Attrs().MTU, link.Attrs().HardwareAddr, eps[0].MAC)
		}
		c, err := net.DialTimeout("tcp4", netip.AddrPortFrom(eps[1].Address.Addr(), 7).String(), 3*time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	host, err := netlink.LinkByName(eps[0].HostIfName)
	if err != nil || host.Attrs().MTU != 1400 || host.Attrs().MasterIndex == 0 {
		t.Errorf("host side %v %v", host, err)
	}
	// Not fresh any more: a second network gets a created veth.
	before := m.sandboxes.readyTaken.Load()
	m.sandboxes.fillReady()
	if ep, err := m.Connect(ctx, paths[0], EndpointConfig{ContainerID: eps[0].ContainerID, Network: "second"}); err != nil || ep.IfName != "eth1" {
		t.Fatalf("second network: %+v %v", ep, err)
	}
	if m.sandboxes.readyTaken.Load() != before {
		t.Error("a connected sandbox took a ready interface")
	}
	for _, ep := range eps {
		if err := m.Disconnect(ctx, ep.ContainerID, "ready"); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Disconnect(ctx, eps[0].ContainerID, "second"); err != nil {
		t.Fatal(err)
	}
	for _, ep := range eps {
		if err := m.RemoveSandbox(ctx, ep.ContainerID); err != nil {
			t.Fatal(err)
		}
	}
	m.sandboxes.wait()
	for _, p := range paths {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("sandbox %s: %v", p, err)
		}
	}
}

// TestInternalNetwork: an endpoint on an --internal network gets no
// default route and publishes nothing, as docker's.
func TestInternalNetwork(t *testing.T) {
	t.Parallel()
	e := newTestNet(t)
	m := e.start()
	defer e.teardown(m)
	ctx := context.Background()
	if _, err := m.CreateNetwork(ctx, CreateRequest{Name: "inside", Subnet: e.subnet(), Internal: true}); err != nil {
		t.Fatal(err)
	}
	id := "i" + randHex(63)
	p, err := m.NewSandbox(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := m.Connect(ctx, p, EndpointConfig{ContainerID: id, Network: "inside", DefaultRoute: true,
		Ports: []PortBinding{{Proto: "tcp", ContainerPort: 80, HostPort: 18282}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ep.Ports) != 0 || !ep.DNS.IsValid() {
		t.Errorf("endpoint %+v", ep)
	}
	err = inNetns(p, func() error {
		routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
		for _, r := range routes {
			if r.Gw != nil {
				t.Errorf("route via a gateway on an internal network: %v", r)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
