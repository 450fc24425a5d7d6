package dns

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	mdns "github.com/miekg/dns"
)

// fakeUpstream is a resolver on the host's 127.0.0.1 (UDP and TCP on one
// port). It answers every A query with its own marker address, NXDOMAIN
// for names under nx., and over UDP only a truncated empty answer for
// names under big. (the full one comes over TCP).
type fakeUpstream struct {
	addr   netip.AddrPort
	marker netip.Addr

	mu      sync.Mutex
	queries []upstreamQuery
}

type upstreamQuery struct {
	name string
	net  string
	id   uint16
}

func newFakeUpstream(t *testing.T, marker netip.Addr) *fakeUpstream {
	t.Helper()
	f := &fakeUpstream{marker: marker}
	var pc net.PacketConn
	var l net.Listener
	for try := 0; ; try++ {
		var err error
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
		if try == 10 {
			t.Fatalf("fake upstream: no port free for both udp and tcp: %v", err)
		}
	}
	f.addr = pc.LocalAddr().(*net.UDPAddr).AddrPort()
	udp := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(f.serve)}
	tcp := &mdns.Server{Listener: l, Handler: mdns.HandlerFunc(f.serve)}
	start := func(srv *mdns.Server) {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { _ = srv.ActivateAndServe() }()
		<-started
	}
	start(udp)
	start(tcp)
	t.Cleanup(func() {
		_ = udp.Shutdown()
		_ = tcp.Shutdown()
	})
	return f
}

func (f *fakeUpstream) serve(w mdns.ResponseWriter, req *mdns.Msg) {
	q := req.Question[0]
	network := w.LocalAddr().Network()
	f.mu.Lock()
	f.queries = append(f.queries, upstreamQuery{name: strings.ToLower(q.Name), net: network, id: req.Id})
	f.mu.Unlock()
	m := new(mdns.Msg)
	m.SetReply(req)
	switch {
	case strings.HasPrefix(q.Name, "nx."):
		m.Rcode = mdns.RcodeNameError
	case strings.HasPrefix(q.Name, "big.") && network == "udp":
		m.Truncated = true
	case q.Qtype == mdns.TypeA:
		m.Answer = []mdns.RR{&mdns.A{
			Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 30},
			A:   f.marker.AsSlice(),
		}}
	}
	_ = w.WriteMsg(m)
}

func (f *fakeUpstream) seen() []upstreamQuery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]upstreamQuery(nil), f.queries...)
}

// deadUpstream returns a 127.0.0.1 port where nothing listens: a query
// there is refused at once. The port is below the ephemeral range, so no
// client socket of ours is given it as its source port meanwhile.
func deadUpstream(t testing.TB) netip.AddrPort {
	t.Helper()
	for range 100 {
		addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(10000+rand.IntN(20000)))
		pc, err := net.ListenPacket("udp", addr.String())
		if err != nil {
			continue
		}
		pc.Close()
		return addr
	}
	t.Fatal("no free port below the ephemeral range")
	return netip.AddrPort{}
}

// silentUpstream returns a 127.0.0.1 port that takes queries and never
// answers them.
func silentUpstream(t testing.TB) netip.AddrPort {
	addr, _ := countingSilentUpstream(t)
	return addr
}

// countingSilentUpstream is silentUpstream that also counts the queries it
// got.
func countingSilentUpstream(t testing.TB) (netip.AddrPort, *atomic.Int64) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
			n.Add(1)
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return pc.LocalAddr().(*net.UDPAddr).AddrPort(), &n
}
