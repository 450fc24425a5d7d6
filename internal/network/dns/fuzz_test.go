package dns

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// handleServer is a Server with one scope of records and no listener, for
// driving handle directly; what it forwards is refused at once.
func handleServer(t testing.TB) (*Server, *scope) {
	s := New(slog.New(slog.NewTextHandler(io.Discard, nil)), []netip.AddrPort{deadUpstream(t)})
	s.host = &hostResolvers{path: filepath.Join(t.TempDir(), "resolv.conf")}
	s.budget = 200 * time.Millisecond
	t.Cleanup(func() { _ = s.Close() })
	s.SetRecord("n", "ep1", Record{Names: []string{"web", "alias", "0123456789ab"}, Addr: netip.MustParseAddr("10.1.0.2")})
	s.SetRecord("n", "ep2", Record{Names: []string{"db", "alias"}, Addr: netip.MustParseAddr("fd00::2")})
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s, s.scopes["n"]
}

func packed(t testing.TB, m *mdns.Msg) []byte {
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func question(name string, qtype uint16) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	return m
}

// hostileQueries are packets a container could send, with the rcode each
// deserves (-1: no answer at all).
func hostileQueries(t testing.TB) []struct {
	name  string
	raw   []byte
	rcode int
} {
	edns := question("web.", mdns.TypeA)
	edns.SetEdns0(4096, true)
	many := question("web.", mdns.TypeA)
	many.Question = append(many.Question, many.Question[0])
	none := question("web.", mdns.TypeA)
	none.Question = nil
	notify := question("web.", mdns.TypeSOA)
	notify.Opcode = mdns.OpcodeNotify
	resp := question("web.", mdns.TypeA)
	resp.Response = true
	chaos := question("version.bind.", mdns.TypeTXT)
	chaos.Question[0].Qclass = mdns.ClassCHAOS
	// A name that is a compression pointer to itself.
	loop := append(packed(t, question("x.", mdns.TypeA))[:12], 0xc0, 12, 0, 1, 0, 1)
	// A header that promises a question and stops.
	short := append([]byte(nil), packed(t, question("web.", mdns.TypeA))[:14]...)
	return []struct {
		name  string
		raw   []byte
		rcode int
	}{
		{"ours", packed(t, question("web.", mdns.TypeA)), mdns.RcodeSuccess},
		{"ours with edns", packed(t, edns), mdns.RcodeSuccess},
		{"ptr", packed(t, question("2.0.1.10.in-addr.arpa.", mdns.TypePTR)), mdns.RcodeSuccess},
		{"ptr v6", packed(t, question("2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", mdns.TypePTR)), mdns.RcodeSuccess},
		{"any", packed(t, question("alias.", mdns.TypeANY)), mdns.RcodeSuccess},
		{"forwarded, upstream dead", packed(t, question("example.test.", mdns.TypeA)), mdns.RcodeServerFailure},
		{"chaos class is forwarded", packed(t, chaos), mdns.RcodeServerFailure},
		{"two questions", packed(t, many), mdns.RcodeFormatError},
		{"no question", packed(t, none), mdns.RcodeFormatError},
		{"notify", packed(t, notify), mdns.RcodeNotImplemented},
		{"a response", packed(t, resp), -1},
		{"empty", nil, -1},
		{"eleven bytes", make([]byte, 11), -1},
		{"pointer loop", loop, mdns.RcodeFormatError},
		{"cut after the header", short, mdns.RcodeFormatError},
		{"garbage", []byte("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff"), mdns.RcodeFormatError},
	}
}

// checkReply holds for every answer handle gives: it parses (at least its
// header), carries the query's id, is a response and fits the transport.
func checkReply(t *testing.T, raw, out []byte, overTCP bool) {
	t.Helper()
	if out == nil {
		return
	}
	if len(out) < 12 || len(raw) < 12 {
		t.Fatalf("reply %x to %x", out, raw)
	}
	if binary.BigEndian.Uint16(out) != binary.BigEndian.Uint16(raw) {
		t.Fatalf("reply id %x, query id %x", out[:2], raw[:2])
	}
	if out[2]&0x80 == 0 {
		t.Fatalf("reply without QR: %x", out)
	}
	if !overTCP && len(out) > 65535 {
		t.Fatalf("UDP reply of %d bytes", len(out))
	}
	if len(out) > 12 {
		var m mdns.Msg
		if err := m.Unpack(out); err != nil {
			t.Fatalf("reply does not parse: %v (%x)", err, out)
		}
	}
}

func TestHostileQueries(t *testing.T) {
	t.Parallel()
	s, sc := handleServer(t)
	client := netip.MustParseAddr("10.1.0.9")
	for _, tc := range hostileQueries(t) {
		for _, overTCP := range []bool{false, true} {
			out := s.handle(context.Background(), sc, client, tc.raw, overTCP)
			checkReply(t, tc.raw, out, overTCP)
			got := -1
			if out != nil {
				got = int(out[3] & 0xf)
			}
			if got != tc.rcode {
				t.Errorf("%s (tcp %v): rcode %d, want %d", tc.name, overTCP, got, tc.rcode)
			}
		}
	}
}

func TestLargeAnswersAreTruncatedForUDP(t *testing.T) {
	t.Parallel()
	s, sc := handleServer(t)
	for i := range 100 {
		s.SetRecord("n", "many"+string(rune('a'+i%26))+string(rune('a'+i/26)), Record{
			Names: []string{"crowd"},
			Addr:  netip.AddrFrom4([4]byte{10, 3, 0, byte(i + 1)}),
		})
	}
	raw := packed(t, question("crowd.", mdns.TypeA))
	var udp, tcp mdns.Msg
	if err := udp.Unpack(s.handle(context.Background(), sc, netip.Addr{}, raw, false)); err != nil {
		t.Fatal(err)
	}
	if err := tcp.Unpack(s.handle(context.Background(), sc, netip.Addr{}, raw, true)); err != nil {
		t.Fatal(err)
	}
	if !udp.Truncated || len(udp.Answer) >= 100 {
		t.Errorf("UDP: %d answers, truncated %v; want fewer than 100 and TC", len(udp.Answer), udp.Truncated)
	}
	if tcp.Truncated || len(tcp.Answer) != 100 {
		t.Errorf("TCP: %d answers, truncated %v; want all 100", len(tcp.Answer), tcp.Truncated)
	}
}

func FuzzHandle(f *testing.F) {
	for _, tc := range hostileQueries(f) {
		f.Add(tc.raw, false)
		f.Add(tc.raw, true)
	}
	s, sc := handleServer(f)
	client := netip.MustParseAddr("10.1.0.9")
	f.Fuzz(func(t *testing.T, raw []byte, overTCP bool) {
		checkReply(t, raw, s.handle(context.Background(), sc, client, raw, overTCP), overTCP)
	})
}
