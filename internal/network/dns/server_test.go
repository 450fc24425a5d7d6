package dns

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/berth-project/berth/internal/errdefs"
)

func newTestServer(t *testing.T, defaults ...netip.AddrPort) *Server {
	t.Helper()
	s := New(slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})), defaults)
	// Never fall back to the host's real resolvers in a test.
	s.host = &hostResolvers{path: filepath.Join(t.TempDir(), "resolv.conf")}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func listenIn(t *testing.T, s *Server, scope string, addr netip.Addr, opts ...ListenOption) {
	t.Helper()
	if err := inNS(func() error { return s.Listen(context.Background(), scope, addr, opts...) }); err != nil {
		t.Fatalf("Listen(%s, %s): %v", scope, addr, err)
	}
}

// exchange asks server:53 over network ("udp" or "tcp") from src (zero:
// any source address) inside the test namespace.
func exchange(t *testing.T, server, src netip.Addr, network, name string, qtype uint16) (*mdns.Msg, error) {
	t.Helper()
	c := mdns.Client{Net: network, Timeout: 3 * time.Second}
	if src.IsValid() {
		d := &net.Dialer{Timeout: 3 * time.Second}
		if network == "tcp" {
			d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
		} else {
			d.LocalAddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
		}
		c.Dialer = d
	}
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	var resp *mdns.Msg
	err := inNS(func() error {
		var err error
		resp, _, err = c.Exchange(m, netip.AddrPortFrom(server, 53).String())
		return err
	})
	if err == nil && resp.Id != m.Id {
		t.Errorf("%s %s: reply id %d, query id %d", name, mdns.TypeToString[qtype], resp.Id, m.Id)
	}
	return resp, err
}

func mustExchange(t *testing.T, server, src netip.Addr, network, name string, qtype uint16) *mdns.Msg {
	t.Helper()
	resp, err := exchange(t, server, src, network, name, qtype)
	if err != nil {
		t.Fatalf("%s %s over %s: %v", name, mdns.TypeToString[qtype], network, err)
	}
	return resp
}

// addrsOf returns the addresses of resp's A and AAAA answers, in order.
func addrsOf(resp *mdns.Msg) []string {
	var out []string
	for _, rr := range resp.Answer {
		switch rr := rr.(type) {
		case *mdns.A:
			out = append(out, rr.A.String())
		case *mdns.AAAA:
			out = append(out, rr.AAAA.String())
		}
	}
	return out
}

func wantA(t *testing.T, resp *mdns.Msg, want ...string) {
	t.Helper()
	if resp.Rcode != mdns.RcodeSuccess {
		t.Fatalf("%v: rcode %s, want NOERROR", resp.Question, mdns.RcodeToString[resp.Rcode])
	}
	if got := addrsOf(resp); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("%v: answers %v, want %v", resp.Question, got, want)
	}
}

func TestResolveNameAliasShortID(t *testing.T) {
	t.Parallel()
	sub := testNet(t)
	gw, web := hostAddr(t, sub, 1), sub.Addr().Next().Next()
	up := newFakeUpstream(t, netip.MustParseAddr("10.9.9.9"))
	s := newTestServer(t, up.addr)
	s.SetRecord("net1", "ep1", Record{Names: []string{"Web", "frontend", "0123456789ab"}, Addr: web})
	listenIn(t, s, "net1", gw)

	for _, name := range []string{"web.", "WEB.", "frontend.", "0123456789AB."} {
		for _, network := range []string{"udp", "tcp"} {
			resp := mustExchange(t, gw, netip.Addr{}, network, name, mdns.TypeA)
			wantA(t, resp, web.String())
			if !resp.Authoritative || resp.Answer[0].Header().Ttl != ttl || resp.Answer[0].Header().Name != name {
				t.Errorf("%s over %s: answer %v (authoritative %v), want TTL %d owned by the name as asked", name, network, resp.Answer, resp.Authoritative, ttl)
			}
		}
	}
	// Our names are never forwarded, whatever the type.
	for _, qtype := range []uint16{mdns.TypeAAAA, mdns.TypeMX, mdns.TypeTXT} {
		wantA(t, mustExchange(t, gw, netip.Addr{}, "udp", "web.", qtype))
	}
	if q := up.seen(); len(q) != 0 {
		t.Errorf("queries for our names reached the upstream: %v", q)
	}
	// A name that is only a prefix of ours is not ours.
	wantA(t, mustExchange(t, gw, netip.Addr{}, "udp", "web2.", mdns.TypeA), "10.9.9.9")
}

func TestScopeIsolation(t *testing.T) {
	t.Parallel()
	subA, subB := testNet(t), testNet(t)
	gwA, gwB := hostAddr(t, subA, 1), hostAddr(t, subB, 1)
	up := newFakeUpstream(t, netip.MustParseAddr("10.9.9.9"))
	s := newTestServer(t, up.addr)
	a, b := netip.MustParseAddr("10.1.0.2"), netip.MustParseAddr("10.1.0.3")
	s.SetRecord("A", "ep-a", Record{Names: []string{"alpha"}, Addr: a})
	s.SetRecord("B", "ep-b", Record{Names: []string{"beta"}, Addr: b})
	listenIn(t, s, "A", gwA)
	listenIn(t, s, "B", gwB)

	wantA(t, mustExchange(t, gwA, netip.Addr{}, "udp", "alpha.", mdns.TypeA), a.String())
	wantA(t, mustExchange(t, gwB, netip.Addr{}, "udp", "beta.", mdns.TypeA), b.String())
	// Asked on the other network's address, the name is a stranger's: it
	// goes to the upstream like any other.
	wantA(t, mustExchange(t, gwB, netip.Addr{}, "udp", "alpha.", mdns.TypeA), "10.9.9.9")
	wantA(t, mustExchange(t, gwA, netip.Addr{}, "tcp", "beta.", mdns.TypeA), "10.9.9.9")
	resp := mustExchange(t, gwB, netip.Addr{}, "udp", "2.0.1.10.in-addr.arpa.", mdns.TypePTR)
	if len(resp.Answer) != 0 && resp.Answer[0].(*mdns.PTR).Ptr == "alpha." {
		t.Errorf("network B resolved network A's address back: %v", resp.Answer)
	}
}

func TestPTR(t *testing.T) {
	t.Parallel()
	sub := testNet(t)
	gw := hostAddr(t, sub, 1)
	s := newTestServer(t, deadUpstream(t))
	addr := netip.MustParseAddr("10.1.2.3")
	s.SetRecord("n", "ep", Record{Names: []string{"db", "database"}, Addr: addr})
	listenIn(t, s, "n", gw)

	arpa, _ := mdns.ReverseAddr(addr.String())
	resp := mustExchange(t, gw, netip.Addr{}, "udp", strings.ToUpper(arpa), mdns.TypePTR)
	if len(resp.Answer) != 1 || resp.Answer[0].(*mdns.PTR).Ptr != "db." {
		t.Fatalf("PTR %s: %v, want db.", arpa, resp.Answer)
	}
	// An address that is not ours goes upstream (dead here: SERVFAIL).
	if resp := mustExchange(t, gw, netip.Addr{}, "udp", "4.2.1.10.in-addr.arpa.", mdns.TypePTR); resp.Rcode != mdns.RcodeServerFailure {
		t.Fatalf("PTR of an unknown address: rcode %s, want SERVFAIL from the dead upstream", mdns.RcodeToString[resp.Rcode])
	}
}

func TestForward(t *testing.T) {
	t.Parallel()
	sub := testNet(t)
	gw := hostAddr(t, sub, 1)
	up := newFakeUpstream(t, netip.MustParseAddr("10.9.9.9"))
	s := newTestServer(t, up.addr)
	listenIn(t, s, "n", gw)

	wantA(t, mustExchange(t, gw, netip.Addr{}, "udp", "example.test.", mdns.TypeA), "10.9.9.9")
	wantA(t, mustExchange(t, gw, netip.Addr{}, "tcp", "example.test.", mdns.TypeA), "10.9.9.9")
	if resp := mustExchange(t, gw, netip.Addr{}, "udp", "nx.example.test.", mdns.TypeA); resp.Rcode != mdns.RcodeNameError {
		t.Errorf("nx: rcode %s, want the upstream's NXDOMAIN", mdns.RcodeToString[resp.Rcode])
	}
	seen := up.seen()
	if len(seen) != 3 {
		t.Fatalf("upstream saw %v, want 3 queries", seen)
	}
	for _, q := range seen {
		if q.net != "udp" {
			t.Errorf("upstream got %s over %s, want udp first", q.name, q.net)
		}
	}
}

func TestForwardRetriesOverTCPWhenTruncated(t *testing.T) {
	t.Parallel()
	sub := testNet(t)
	gw := hostAddr(t, sub, 1)
	up := newFakeUpstream(t, netip.MustParseAddr("10.9.9.8"))
	s := newTestServer(t, up.addr)
	listenIn(t, s, "n", gw)

	resp := mustExchange(t, gw, netip.Addr{}, "udp", "big.example.test.", mdns.TypeA)
	wantA(t, resp, "10.9.9.8")
	if resp.Truncated {
		t.Errorf("answer still truncated")
	}
	var nets []string
	for _, q := range up.seen() {
		nets = append(nets, q.net)
	}
	if strings.Join(nets, ",") != "udp,tcp" {
		t.Errorf("upstream saw transports %v, want udp then tcp", nets)
	}
}

func TestServfailWhenNoUpstreamAnswers(t *testing.T) {
	t.Parallel()
	sub := testNet(t)
	gw := hostAddr(t, sub, 1)
	t.Run("refused", func(t *testing.T) {
		s := newTestServer(t, deadUpstream(t), deadUpstream(t))
		listenIn(t, s, "n", gw)
		defer s.Unlisten("n")
		if resp := mustExchange(t, gw, netip.Addr{}, "udp", "example.test.", mdns.TypeA); resp.Rcode != mdns.RcodeServerFailure {
			t.Fatalf("rcode %s, want SERVFAIL", mdns.RcodeToString[resp.Rcode])
		}
	})
	t.Run("silent", func(t *testing.T) {
		s := newTestServer(t, silentUpstream(t))
		s.budget = 300 * time.Millisecond
		listenIn(t, s, "n", gw)
		defer s.Unlisten("n")
		start := time.Now()
		resp := mustExchange(t, gw, netip.Addr{}, "tcp", "example.test.", mdns.TypeA)
		if resp.Rcode != mdns.RcodeServerFailure {
			t.Fatalf("rcode %s, want SERVFAIL", mdns.RcodeToString[resp.Rcode])
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("SERVFAIL after %v, want within the budget", d)
		}
	})
	t.Run("none", func(t *testing.T) {
		s := newTestServer(t) // and the host's list is an absent file
		listenIn(t, s, "n", gw)
		defer s.Unlisten("n")
		if resp := mustExchange(t, gw, netip.Addr{}, "udp", "example.test.", mdns.TypeA); resp.Rcode != mdns.RcodeServerFailure {
			t.Fatalf("rcode %s, want SERVFAIL", mdns.RcodeToString[resp.Rcode])
		}
	})
	t.Run("a dead one then a live one", func(t *testing.T) {
		up := newFakeUpstream(t, netip.MustParseAddr("10.9.9.7"))
		s := newTestServer(t, silentUpstream(t), up.addr)
		listenIn(t, s, "n", gw)
		defer s.Unlisten("n")
		wantA(t, mustExchange(t, gw, netip.Addr{}, "udp", "example.test.", mdns.TypeA), "10.9.9.7")
	})
}

func TestPerClientUpstreams(t *testing.T) {
	t.Parallel()
	sub := testNet(t)
	gw, c1, c2 := hostAddr(t, sub, 1), hostAddr(t, sub, 2), hostAddr(t, sub, 3)
	def := newFakeUpstream(t, netip.MustParseAddr("10.9.0.1"))
	own := newFakeUpstream(t, netip.MustParseAddr("10.9.0.2"))
	s := newTestServer(t, def.addr)
	listenIn(t, s, "n", gw)

	s.SetUpstreams(c1, []netip.AddrPort{own.addr})
	wantA(t, mustExchange(t, gw, c1, "udp", "example.test.", mdns.TypeA), "10.9.0.2")
	wantA(t, mustExchange(t, gw, c1, "tcp", "example.test.", mdns.TypeA), "10.9.0.2")
	wantA(t, mustExchange(t, gw, c2, "udp", "example.test.", mdns.TypeA), "10.9.0.1")
	s.SetUpstreams(c1, nil)
	wantA(t, mustExchange(t, gw, c1, "udp", "example.test.", mdns.TypeA), "10.9.0.1")

	// A container whose --dns is its own gateway must not make us ask
	// ourselves forever.
	s.SetUpstreams(c2, []netip.AddrPort{netip.AddrPortFrom(gw, 0)})
	if resp := mustExchange(t, gw, c2, "udp", "example.test.", mdns.TypeA); resp.Rcode != mdns.RcodeServerFailure {
		t.Fatalf("upstream = ourselves: rcode %s, want SERVFAIL", mdns.RcodeToString[resp.Rcode])
	}
}

func TestRecordReplaceDeleteAndRoundRobin(t *testing.T) {
	t.Parallel()
	sub := testNet(t)
	gw := hostAddr(t, sub, 1)
	s := newTestServer(t, deadUpstream(t))
	a, b := netip.MustParseAddr("10.1.0.2"), netip.MustParseAddr("10.1.0.3")
	listenIn(t, s, "n", gw) // records may come after Listen
	s.SetRecord("n", "ep1", Record{Names: []string{"one", "db"}, Addr: a})
	s.SetRecord("n", "ep2", Record{Names: []string{"two", "db"}, Addr: b})

	first := addrsOf(mustExchange(t, gw, netip.Addr{}, "udp", "db.", mdns.TypeA))
	second := addrsOf(mustExchange(t, gw, netip.Addr{}, "udp", "db.", mdns.TypeA))
	if len(first) != 2 || len(second) != 2 || first[0] == second[0] {
		t.Errorf("db twice: %v then %v, want both addresses, rotated", first, second)
	}

	// Replacing ep1's record drops its old names.
	s.SetRecord("n", "ep1", Record{Names: []string{"uno"}, Addr: a})
	wantA(t, mustExchange(t, gw, netip.Addr{}, "udp", "uno.", mdns.TypeA), a.String())
	wantA(t, mustExchange(t, gw, netip.Addr{}, "udp", "db.", mdns.TypeA), b.String())
	if resp := mustExchange(t, gw, netip.Addr{}, "udp", "one.", mdns.TypeA); resp.Rcode != mdns.RcodeServerFailure {
		t.Errorf("old name after replace: %v, want it forwarded (SERVFAIL)", resp.Answer)
	}

	s.DeleteRecord("n", "ep2")
	s.DeleteRecord("n", "ep2")      // absent: no-op
	s.DeleteRecord("nowhere", "ep") // unknown scope: no-op
	if resp := mustExchange(t, gw, netip.Addr{}, "udp", "two.", mdns.TypeA); resp.Rcode != mdns.RcodeServerFailure {
		t.Errorf("deleted name: %v, want it forwarded (SERVFAIL)", resp.Answer)
	}
}

func TestListenAgainOnTheSameAddress(t *testing.T) {
	t.Parallel()
	sub := testNet(t)
	gw, other := hostAddr(t, sub, 1), hostAddr(t, sub, 2)
	s := newTestServer(t, deadUpstream(t))
	s.SetRecord("n", "ep", Record{Names: []string{"web"}, Addr: netip.MustParseAddr("10.1.0.2")})
	listenIn(t, s, "n", gw)
	listenIn(t, s, "n", gw) // idempotent
	if err := inNS(func() error { return s.Listen(context.Background(), "n", other) }); !errdefs.IsConflict(err) {
		t.Fatalf("Listen on a second address: %v, want a Conflict", err)
	}
	for range 3 {
		if err := s.Unlisten("n"); err != nil {
			t.Fatalf("Unlisten: %v", err)
		}
		// The sockets are gone: we can bind the address ourselves.
		if err := inNS(func() error {
			pc, err := net.ListenPacket("udp", netip.AddrPortFrom(gw, 53).String())
			if err != nil {
				return err
			}
			l, err := net.Listen("tcp", netip.AddrPortFrom(gw, 53).String())
			if err != nil {
				pc.Close()
				return err
			}
			return errors.Join(pc.Close(), l.Close())
		}); err != nil {
			t.Fatalf("bind after Unlisten: %v", err)
		}
		listenIn(t, s, "n", gw)
		// Records survive a restart of the listener.
		wantA(t, mustExchange(t, gw, netip.Addr{}, "tcp", "web.", mdns.TypeA), "10.1.0.2")
	}
	if err := s.Unlisten("unknown"); err != nil {
		t.Fatalf("Unlisten of a scope that never listened: %v", err)
	}
}

func TestListenFailsWhenPortTaken(t *testing.T) {
	t.Parallel()
	sub := testNet(t)
	gw, missing := hostAddr(t, sub, 1), sub.Addr().Next().Next().Next().Next()
	s := newTestServer(t, deadUpstream(t))
	for _, network := range []string{"udp", "tcp"} {
		var closer func() error
		if err := inNS(func() error {
			addr := netip.AddrPortFrom(gw, 53).String()
			if network == "udp" {
				pc, err := net.ListenPacket("udp", addr)
				if err != nil {
					return err
				}
				closer = pc.Close
				return nil
			}
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			closer = l.Close
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		err := inNS(func() error { return s.Listen(context.Background(), "n", gw) })
		if !errdefs.IsUnavailable(err) || !strings.Contains(err.Error(), gw.String()+":53/"+network) {
			t.Errorf("Listen with %s/53 taken: %v, want Unavailable naming %s:53/%s", network, err, gw, network)
		}
		closer()
	}
	// Under addrMu: while hostAddr adds another test's address, that
	// address is a /8 on the loopback for a moment, and every 10.x
	// address (missing too) is local.
	testNS.addrMu.Lock()
	err := inNS(func() error { return s.Listen(context.Background(), "n", missing) })
	testNS.addrMu.Unlock()
	if !errdefs.IsUnavailable(err) {
		t.Errorf("Listen on an address no interface has: %v, want Unavailable", err)
	}
	// The failures left nothing behind: the address can be served now.
	listenIn(t, s, "n", gw)
}

func TestTCPConnectionsBounded(t *testing.T) {
	t.Parallel()
	sub := testNet(t)
	gw := hostAddr(t, sub, 1)
	s := newTestServer(t, deadUpstream(t))
	s.tcpConns = make(chan struct{}, 2)
	s.SetRecord("n", "ep", Record{Names: []string{"web"}, Addr: netip.MustParseAddr("10.1.0.2")})
	listenIn(t, s, "n", gw)

	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range 2 {
		if err := inNS(func() error {
			c, err := net.Dial("tcp", netip.AddrPortFrom(gw, 53).String())
			held = append(held, c)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Both slots are taken once the server has accepted the two.
	deadline := time.Now().Add(2 * time.Second)
	for len(s.tcpConns) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := exchange(t, gw, netip.Addr{}, "tcp", "web.", mdns.TypeA); err == nil {
		t.Errorf("a third TCP connection was served, want it closed")
	}
	// UDP does not depend on TCP slots, and freed slots serve again.
	wantA(t, mustExchange(t, gw, netip.Addr{}, "udp", "web.", mdns.TypeA), "10.1.0.2")
	held[0].Close()
	deadline = time.Now().Add(2 * time.Second)
	for len(s.tcpConns) > 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	wantA(t, mustExchange(t, gw, netip.Addr{}, "tcp", "web.", mdns.TypeA), "10.1.0.2")
}

func TestCloseStopsEverything(t *testing.T) {
	t.Parallel()
	sub := testNet(t)
	gw := hostAddr(t, sub, 1)
	s := New(nil, []netip.AddrPort{silentUpstream(t)})
	s.host = &hostResolvers{path: filepath.Join(t.TempDir(), "resolv.conf")}
	listenIn(t, s, "n", gw)
	// A forward in flight is aborted by Close rather than waited for.
	go func() { _, _ = exchange(t, gw, netip.Addr{}, "udp", "example.test.", mdns.TypeA) }()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v", d)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := inNS(func() error { return s.Listen(context.Background(), "n", gw) }); !errdefs.IsUnavailable(err) {
		t.Fatalf("Listen after Close: %v, want Unavailable", err)
	}
}

func TestReadUpstreams(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	systemd := write("systemd", "nameserver 10.0.0.53\nnameserver 127.0.0.1\n")
	for _, tc := range []struct {
		name, conf, want string
	}{
		{"plain", "# c\nsearch example.com\nnameserver 10.0.0.1\nnameserver  fe80::1%eth0 \noptions ndots:2\n", "10.0.0.1:53,[fe80::1%eth0]:53"},
		{"loopback dropped", "nameserver 127.0.0.1\nnameserver ::1\nnameserver 10.0.0.2\n", "10.0.0.2:53"},
		{"systemd stub", "nameserver 127.0.0.53\noptions edns0 trust-ad\n", "10.0.0.53:53"},
		{"garbage", "nameserver\nnameserver bogus\nnameserverx 10.0.0.9\n", ""},
		{"only loopback", "nameserver 127.0.0.1\n", ""},
	} {
		got := readUpstreams(write(tc.name, tc.conf), systemd)
		var s []string
		for _, a := range got {
			s = append(s, a.String())
		}
		if strings.Join(s, ",") != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, s, tc.want)
		}
	}
	if got := readUpstreams(filepath.Join(dir, "absent"), systemd); got != nil {
		t.Errorf("absent file: %v", got)
	}
}

func TestParseReverse(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"10.1.2.3", "0.0.0.0", "255.255.255.255", "fd00::1", "2001:db8::abcd:1"} {
		arpa, err := mdns.ReverseAddr(addr)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := parseReverse(normalize(arpa))
		if !ok || got != netip.MustParseAddr(addr) {
			t.Errorf("%s: %v %v, want %s", arpa, got, ok, addr)
		}
	}
	for _, name := range []string{"1.2.3.in-addr.arpa", "256.1.2.3.in-addr.arpa", "01.1.2.3.in-addr.arpa", "a.1.2.3.in-addr.arpa", "1..2.3.in-addr.arpa", "1.ip6.arpa", "in-addr.arpa", "x.1.2.3.4.in-addr.arpa"} {
		if got, ok := parseReverse(name); ok {
			t.Errorf("%s: parsed as %v", name, got)
		}
	}
}

func TestCheckAnswer(t *testing.T) {
	t.Parallel()
	q := question("Example.test.", mdns.TypeA)
	ok := new(mdns.Msg).SetReply(q)
	ok.Question[0].Name = "example.TEST."
	echo := q.Copy()
	other := new(mdns.Msg).SetReply(question("example.test.", mdns.TypeAAAA))
	bare := new(mdns.Msg).SetRcode(q, mdns.RcodeFormatError)
	bare.Question = nil
	for _, tc := range []struct {
		name string
		resp *mdns.Msg
		ok   bool
	}{{"answer", ok, true}, {"own query echoed", echo, false}, {"other question", other, false}, {"formerr without question", bare, true}} {
		if err := checkAnswer(q, tc.resp); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestUDPStormIsBounded(t *testing.T) {
	t.Parallel()
	sub := testNet(t)
	gw := hostAddr(t, sub, 1)
	up, got := countingSilentUpstream(t)
	s := newTestServer(t, up)
	const slots = 4
	s.forwards = make(chan struct{}, slots)
	s.budget = 10 * time.Second           // no slot frees up during the test; Close aborts them
	s.log = slog.New(slog.DiscardHandler) // a line per dropped query is no news here
	s.SetRecord("n", "ep", Record{Names: []string{"web"}, Addr: netip.MustParseAddr("10.1.0.2")})
	listenIn(t, s, "n", gw)

	// 200 queries to forward, sent at once: only `slots` of them may be
	// in flight (the rest are dropped), and local names keep answering.
	err := inNS(func() error {
		c, err := net.Dial("udp", netip.AddrPortFrom(gw, 53).String())
		if err != nil {
			return err
		}
		defer c.Close()
		for i := range 200 {
			q := question(strings.Repeat("x", 1+i%50)+".example.test.", mdns.TypeA)
			if _, err := c.Write(packed(t, q)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The read loop may still be draining the socket (slowly, under the
	// race detector): like a real client, try again on a lost packet.
	var resp *mdns.Msg
	for try := 0; resp == nil && try < 5; try++ {
		resp, err = exchange(t, gw, netip.Addr{}, "udp", "web.", mdns.TypeA)
	}
	if resp == nil {
		t.Fatalf("a local name during the storm: %v", err)
	}
	wantA(t, resp, "10.1.0.2")
	time.Sleep(200 * time.Millisecond)
	if n := got.Load(); n == 0 || n > slots {
		t.Errorf("upstream got %d queries of the storm, want 1..%d", n, slots)
	}
}

func TestInternalNetworkIsNotForwarded(t *testing.T) {
	t.Parallel()
	sub := testNet(t)
	gw := hostAddr(t, sub, 1)
	up := newFakeUpstream(t, netip.MustParseAddr("10.9.9.9"))
	s := newTestServer(t, up.addr)
	s.SetRecord("n", "ep", Record{Names: []string{"web"}, Addr: netip.MustParseAddr("10.1.0.2")})
	listenIn(t, s, "n", gw, Internal(sub))

	wantA(t, mustExchange(t, gw, netip.Addr{}, "udp", "web.", mdns.TypeA), "10.1.0.2")
	if resp := mustExchange(t, gw, netip.Addr{}, "udp", "example.test.", mdns.TypeA); resp.Rcode != mdns.RcodeRefused {
		t.Fatalf("external name on an internal network: rcode %s, want REFUSED", mdns.RcodeToString[resp.Rcode])
	}
	if q := up.seen(); len(q) != 0 {
		t.Fatalf("an internal network's query reached the upstream: %v", q)
	}
	// Listening again without the option lifts it.
	listenIn(t, s, "n", gw)
	wantA(t, mustExchange(t, gw, netip.Addr{}, "udp", "example.test.", mdns.TypeA), "10.9.9.9")
}

func TestInternalNetworkForwardsWithinItsSubnet(t *testing.T) {
	t.Parallel()
	// Driven through handle: the upstream must be inside the subnet and
	// reachable from the host's namespace, which only loopback is here.
	up := newFakeUpstream(t, netip.MustParseAddr("10.9.9.6"))
	s := newTestServer(t, up.addr)
	sc := &scope{id: "n", records: map[string]Record{}}
	sc.idx.Store(&index{})
	loop := netip.MustParsePrefix("127.0.0.0/8")
	sc.internal.Store(&loop)
	client, stranger := netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")
	s.SetUpstreams(stranger, []netip.AddrPort{netip.MustParseAddrPort("10.255.255.1:53")})

	raw := packed(t, question("example.test.", mdns.TypeA))
	var m mdns.Msg
	if err := m.Unpack(s.handle(context.Background(), sc, client, raw, false)); err != nil {
		t.Fatal(err)
	}
	wantA(t, &m, "10.9.9.6")
	if err := m.Unpack(s.handle(context.Background(), sc, stranger, raw, false)); err != nil {
		t.Fatal(err)
	}
	if m.Rcode != mdns.RcodeRefused {
		t.Fatalf("upstream outside the internal subnet: rcode %s, want REFUSED", mdns.RcodeToString[m.Rcode])
	}
}
