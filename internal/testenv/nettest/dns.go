package nettest

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// DNSServer is a fake upstream resolver: it answers A queries for its
// records, NXDOMAIN for every other name, and counts what it was asked.
type DNSServer struct {
	Addr netip.AddrPort
	// Host is the remote host the server runs in, when NewUpstream made
	// it.
	Host *Host

	records map[string]netip.Addr
	mu      sync.Mutex
	queries []string
}

// NewUpstream makes a remote host running a DNSServer with no records: a
// resolver for a daemon's --dns, so that names the daemon forwards reach
// the test's namespace rather than the host's own resolvers.
func NewUpstream(t testing.TB) *DNSServer {
	t.Helper()
	h := NewRemoteHost(t)
	s := h.StartDNS(h.Addr, nil)
	s.Host = h
	return s
}

// StartDNS runs a DNSServer on addr port 53 (udp and tcp) inside the
// namespace. Names in records are matched without case and without the
// trailing dot. It stops when the test ends.
func (n *Netns) StartDNS(addr netip.Addr, records map[string]netip.Addr) *DNSServer {
	n.t.Helper()
	s := &DNSServer{Addr: netip.AddrPortFrom(addr, 53), records: map[string]netip.Addr{}}
	for name, a := range records {
		s.records[strings.ToLower(dns.Fqdn(name))] = a
	}
	pc, err := n.ListenPacket("udp4", s.Addr.String())
	if err != nil {
		n.t.Fatalf("nettest: dns udp in %s: %v", n.Name, err)
	}
	l, err := n.Listen("tcp4", s.Addr.String())
	if err != nil {
		n.t.Fatalf("nettest: dns tcp in %s: %v", n.Name, err)
	}
	for _, srv := range []*dns.Server{
		{PacketConn: pc, Handler: s},
		{Listener: l, Handler: s},
	} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = srv.ActivateAndServe() // ends with an error when the socket closes
		}()
		n.t.Cleanup(func() {
			_ = srv.Shutdown()
			<-done
		})
	}
	return s
}

// ServeDNS answers one query.
func (s *DNSServer) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.Authoritative = true
	for _, q := range req.Question {
		name := strings.ToLower(q.Name)
		s.mu.Lock()
		s.queries = append(s.queries, strings.TrimSuffix(name, ".")+" "+dns.TypeToString[q.Qtype])
		a, ok := s.records[name]
		s.mu.Unlock()
		switch {
		case !ok:
			resp.Rcode = dns.RcodeNameError
		case q.Qtype == dns.TypeA && a.Is4():
			resp.Answer = append(resp.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
				A:   net.IP(a.AsSlice()),
			})
		}
	}
	_ = w.WriteMsg(resp)
}

// Set adds or replaces the record for name.
func (s *DNSServer) Set(name string, a netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[strings.ToLower(dns.Fqdn(name))] = a
}

// Queries lists what the server was asked so far, as "name TYPE" (for
// example "only.upstream.test A").
func (s *DNSServer) Queries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.queries...)
}
