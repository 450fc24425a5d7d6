package firewall

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A tiny network per test, made with ip(8): bridges with "containers"
// (network namespaces on a veth pair), and a "remote host" (a namespace on
// a veth pair routed from the host). Traffic only goes to these and to
// loopback. Everything is removed when the test ends.

// newPrefix is a resource prefix of 8 characters: bridge and veth names
// built from it stay under IFNAMSIZ.
func newPrefix() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return "bf" + hex.EncodeToString(b[:])
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

var subnetMu sync.Mutex
var subnetsTaken = map[netip.Prefix]bool{}

// subnet picks a /24 in 10.200.0.0-10.254.255.255 that no address or
// route of the host overlaps.
func subnet(t testing.TB) netip.Prefix {
	t.Helper()
	subnetMu.Lock()
	defer subnetMu.Unlock()
	routes := run(t, "ip", "-4", "route", "show", "table", "all")
	addrs := run(t, "ip", "-4", "-o", "addr", "show")
	var used []netip.Prefix
	for _, line := range strings.Split(routes+"\n"+addrs, "\n") {
		for _, f := range strings.Fields(line) {
			if p, err := netip.ParsePrefix(f); err == nil && p.Addr().Is4() {
				used = append(used, p.Masked())
			}
		}
	}
	for range 1000 {
		var b [2]byte
		_, _ = rand.Read(b[:])
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 200 + b[0]%55, b[1], 0}), 24)
		if subnetsTaken[p] {
			continue
		}
		free := true
		for _, u := range used {
			if u.Overlaps(p) {
				free = false
				break
			}
		}
		if free {
			subnetsTaken[p] = true
			return p
		}
	}
	t.Fatal("no free /24 in 10.200.0.0/16-10.254.0.0/16")
	return netip.Prefix{}
}

// host returns the n-th address of p.
func host(p netip.Prefix, n byte) netip.Addr {
	a := p.Addr().As4()
	a[3] = n
	return netip.AddrFrom4(a)
}

// topo builds the network in the namespace ns, which plays the host's
// part ("" is the real host).
type topo struct {
	t  testing.TB
	ns string
}

func (tp topo) ip(args ...string) string {
	tp.t.Helper()
	if tp.ns != "" {
		args = append([]string{"-n", tp.ns}, args...)
	}
	return run(tp.t, "ip", args...)
}

// cleanupLink deletes a link of the host namespace when the test ends (a
// link in another namespace goes with it).
func (tp topo) cleanupLink(name string) {
	if tp.ns == "" {
		tp.t.Cleanup(func() { _ = exec.Command("ip", "link", "del", name).Run() })
	}
}

type bridgeNet struct {
	name   string
	subnet netip.Prefix
	gw     netip.Addr
}

func (tp topo) addBridge(name string) bridgeNet {
	tp.t.Helper()
	b := bridgeNet{name: name, subnet: subnet(tp.t)}
	b.gw = host(b.subnet, 1)
	tp.ip("link", "add", name, "type", "bridge")
	tp.cleanupLink(name)
	tp.ip("addr", "add", netip.PrefixFrom(b.gw, 24).String(), "dev", name)
	tp.ip("link", "set", name, "up")
	return b
}

func addNetns(t testing.TB, name string) string {
	t.Helper()
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
	return name
}

// addContainer makes a namespace with eth0 = addr on the bridge, default
// route through the gateway. hostIf is the veth's host side.
func (tp topo) addContainer(b bridgeNet, ns, hostIf string, n byte) netip.Addr {
	t := tp.t
	t.Helper()
	addNetns(t, ns)
	addr := host(b.subnet, n)
	tp.ip("link", "add", hostIf, "type", "veth", "peer", "name", "eth0", "netns", ns)
	tp.cleanupLink(hostIf)
	tp.ip("link", "set", hostIf, "master", b.name, "up")
	// As the network package does: with br_netfilter, a container's
	// connection to its own published port is bridged back out of the
	// port it came in by.
	tp.ip("link", "set", hostIf, "type", "bridge_slave", "hairpin", "on")
	run(t, "ip", "-n", ns, "addr", "add", netip.PrefixFrom(addr, 24).String(), "dev", "eth0")
	run(t, "ip", "-n", ns, "link", "set", "eth0", "up")
	run(t, "ip", "-n", ns, "route", "add", "default", "via", b.gw.String())
	return addr
}

// remote is a "remote host": a namespace on a point-to-point subnet with
// the host, with no route to the containers' subnets (so only masquerade
// lets containers reach it).
type remote struct {
	ns       string
	hostAddr netip.Addr // the host's side
	addr     netip.Addr // the remote's
}

func (tp topo) addRemote(ns, hostIf string) remote {
	t := tp.t
	t.Helper()
	p := subnet(t)
	r := remote{ns: addNetns(t, ns), hostAddr: host(p, 1), addr: host(p, 2)}
	tp.ip("link", "add", hostIf, "type", "veth", "peer", "name", "eth0", "netns", ns)
	tp.cleanupLink(hostIf)
	tp.ip("addr", "add", netip.PrefixFrom(r.hostAddr, 24).String(), "dev", hostIf)
	tp.ip("link", "set", hostIf, "up")
	run(t, "ip", "-n", ns, "addr", "add", netip.PrefixFrom(r.addr, 24).String(), "dev", "eth0")
	run(t, "ip", "-n", ns, "link", "set", "eth0", "up")
	return r
}

// inNetns runs fn on an OS thread that joined the namespace ns ("" = the
// host's). The thread stays locked and dies with its goroutine, so the
// namespace change never leaks to other goroutines. Sockets made in fn
// stay in ns wherever they are used later.
func inNetns(ns string, fn func() error) error {
	if ns == "" {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // no Unlock: the thread exits with the goroutine
		f, err := os.Open("/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// serveTCP listens on addr in ns and answers each connection with the
// client's address as the server saw it.
func serveTCP(t testing.TB, ns string, addr netip.AddrPort) {
	t.Helper()
	var l net.Listener
	if err := inNetns(ns, func() (err error) {
		l, err = net.Listen("tcp4", addr.String())
		return err
	}); err != nil {
		t.Fatalf("listen %s in %s: %v", addr, ns, err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "%s\n", c.RemoteAddr())
			c.Close()
		}
	}()
}

// serveUDP answers each datagram with the sender's address.
func serveUDP(t testing.TB, ns string, addr netip.AddrPort) {
	t.Helper()
	var pc net.PacketConn
	if err := inNetns(ns, func() (err error) {
		pc, err = net.ListenPacket("udp4", addr.String())
		return err
	}); err != nil {
		t.Fatalf("listen udp %s in %s: %v", addr, ns, err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo([]byte(from.String()+"\n"), from)
		}
	}()
}

const (
	reachTimeout   = 3 * time.Second
	blockedTimeout = 800 * time.Millisecond
)

// dial connects from ns to addr and returns the client address the server
// reported (its IP only).
func dial(ns, network string, addr netip.AddrPort, timeout time.Duration) (netip.Addr, error) {
	var c net.Conn
	err := inNetns(ns, func() (err error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr.String())
		return err
	})
	if err != nil {
		return netip.Addr{}, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if network == "udp4" {
		if _, err := c.Write([]byte("x")); err != nil {
			return netip.Addr{}, err
		}
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return netip.Addr{}, err
	}
	ap, err := netip.ParseAddrPort(strings.TrimSpace(line))
	if err != nil {
		return netip.Addr{}, err
	}
	return ap.Addr(), nil
}

// mustReach dials and fails t unless the connection works; it returns the
// client address the server saw.
func mustReach(t testing.TB, what, ns string, addr netip.AddrPort) netip.Addr {
	t.Helper()
	return mustReachProto(t, what, ns, "tcp4", addr)
}

func mustReachProto(t testing.TB, what, ns, network string, addr netip.AddrPort) netip.Addr {
	t.Helper()
	from, err := dial(ns, network, addr, reachTimeout)
	if err != nil {
		t.Errorf("%s: %s from %q to %s: %v", what, network, ns, addr, err)
	}
	return from
}

func mustNotReach(t testing.TB, what, ns string, addr netip.AddrPort) {
	t.Helper()
	if from, err := dial(ns, "tcp4", addr, blockedTimeout); err == nil {
		t.Errorf("%s: tcp from %q to %s went through (server saw %s), want blocked", what, ns, addr, from)
	}
}

// freePort is a TCP port nothing listens on right now, so that DNAT rules
// of parallel tests do not collide.
func freePort(t testing.TB) uint16 {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	for {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := uint16(l.Addr().(*net.TCPAddr).Port)
		l.Close()
		// A port free now may be handed to a test running in parallel
		// too, once this one's probe is closed: each goes to one test
		// only (a mapping of another test on the same host port once
		// carried TestSyncAfterCrash's "gone" connection through).
		if !handedOut.ports[port] {
			handedOut.ports[port] = true
			return port
		}
	}
}

// handedOut are the ports freePort gave out in this process.
var handedOut = struct {
	sync.Mutex
	ports map[uint16]bool
}{ports: map[uint16]bool{}}
