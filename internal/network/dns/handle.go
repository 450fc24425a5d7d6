package dns

import (
	"context"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	mdns "github.com/miekg/dns"
)

// ttl is the time to live of our answers, docker's.
const ttl = 600

// handle answers one raw query that arrived on sc's address from client,
// forwarding it when it is not for one of sc's names. It returns nil when
// the packet deserves no answer at all. The listeners split it in two
// (local on the read loop, forward on a bounded slot); FuzzHandle drives it
// whole.
func (s *Server) handle(ctx context.Context, sc *scope, client netip.Addr, raw []byte, overTCP bool) []byte {
	req, ups, reply := s.local(sc, client, raw, overTCP)
	if req == nil {
		return reply
	}
	return s.forward(ctx, ups, req, overTCP)
}

// local answers raw from sc's names. It returns the packed reply, or the
// parsed request and the upstreams to forward it to, or nothing when raw
// is to be dropped (not a query, too short to answer). What needs no
// upstream (there is none, an internal network's stranger names) is
// answered here too, without taking a forwarding slot.
func (s *Server) local(sc *scope, client netip.Addr, raw []byte, overTCP bool) (*mdns.Msg, []netip.AddrPort, []byte) {
	const headerLen = 12
	if len(raw) < headerLen || raw[2]&0x80 != 0 {
		// Too short to carry an id, or a response: answering either could
		// start a loop between two servers.
		return nil, nil, nil
	}
	req := new(mdns.Msg)
	if err := req.Unpack(raw); err != nil {
		return nil, nil, formErr(raw)
	}
	if req.Response {
		return nil, nil, nil
	}
	reply := new(mdns.Msg)
	switch {
	case req.Opcode != mdns.OpcodeQuery:
		reply.SetRcode(req, mdns.RcodeNotImplemented)
		return nil, nil, s.pack(reply, req, overTCP)
	case len(req.Question) != 1:
		reply.SetRcode(req, mdns.RcodeFormatError)
		return nil, nil, s.pack(reply, req, overTCP)
	}
	q := req.Question[0]
	idx := sc.idx.Load()
	name := normalize(q.Name)
	ours := q.Qclass == mdns.ClassINET || q.Qclass == mdns.ClassANY
	if e, ok := idx.names[name]; ok && ours {
		reply.SetReply(req)
		reply.Authoritative = true
		reply.RecursionAvailable = true
		reply.Answer = addressAnswers(q, e.rotated())
		return nil, nil, s.pack(reply, req, overTCP)
	}
	if ours && (q.Qtype == mdns.TypePTR || q.Qtype == mdns.TypeANY) {
		if addr, ok := parseReverse(name); ok {
			if target, ok := idx.ptr[addr]; ok {
				reply.SetReply(req)
				reply.Authoritative = true
				reply.RecursionAvailable = true
				reply.Answer = []mdns.RR{&mdns.PTR{Hdr: header(q.Name, mdns.TypePTR), Ptr: target}}
				return nil, nil, s.pack(reply, req, overTCP)
			}
		}
	}
	ups := s.upstreamsFor(client)
	if subnet := sc.internal.Load(); subnet != nil {
		ups = slices.DeleteFunc(slices.Clone(ups), func(up netip.AddrPort) bool { return !subnet.Contains(up.Addr()) })
		if len(ups) == 0 {
			reply.SetRcode(req, mdns.RcodeRefused)
			return nil, nil, s.pack(reply, req, overTCP)
		}
	}
	if len(ups) == 0 {
		return nil, nil, s.pack(servFail(req), req, overTCP)
	}
	return req, ups, nil
}

// addressAnswers returns the A and AAAA records of addrs that q asks for;
// none (NOERROR, no data) for any other type, since the name is ours and is
// never forwarded.
func addressAnswers(q mdns.Question, addrs []netip.Addr) []mdns.RR {
	var rrs []mdns.RR
	for _, a := range addrs {
		switch {
		case a.Is4() && (q.Qtype == mdns.TypeA || q.Qtype == mdns.TypeANY):
			rrs = append(rrs, &mdns.A{Hdr: header(q.Name, mdns.TypeA), A: a.AsSlice()})
		case a.Is6() && (q.Qtype == mdns.TypeAAAA || q.Qtype == mdns.TypeANY):
			rrs = append(rrs, &mdns.AAAA{Hdr: header(q.Name, mdns.TypeAAAA), AAAA: a.AsSlice()})
		}
	}
	return rrs
}

// header names the owner as the client asked it (case included: some
// resolvers randomise it and check the echo).
func header(owner string, rrtype uint16) mdns.RR_Header {
	return mdns.RR_Header{Name: mdns.Fqdn(owner), Rrtype: rrtype, Class: mdns.ClassINET, Ttl: ttl}
}

// pack serialises reply for req's transport: over UDP it is cut to the size
// the client can take (setting TC). A reply that cannot be packed becomes a
// bare SERVFAIL.
func (s *Server) pack(reply, req *mdns.Msg, overTCP bool) []byte {
	if opt := req.IsEdns0(); opt != nil && reply.IsEdns0() == nil {
		reply.SetEdns0(ednsSize, false)
	}
	if overTCP {
		reply.Truncate(mdns.MaxMsgSize)
	} else {
		reply.Truncate(clientUDPSize(req))
	}
	reply.Compress = true
	out, err := reply.Pack()
	if err != nil {
		s.log.Debug("dns: cannot pack reply", "err", err)
		fail := new(mdns.Msg)
		fail.SetRcode(req, mdns.RcodeServerFailure)
		if out, err = fail.Pack(); err != nil {
			return nil
		}
	}
	return out
}

// ednsSize is the UDP payload we advertise: the DNS flag day's 1232 avoids
// fragmentation on any path.
const ednsSize = 1232

// clientUDPSize is the largest UDP reply req's sender accepts.
func clientUDPSize(req *mdns.Msg) int {
	if opt := req.IsEdns0(); opt != nil && int(opt.UDPSize()) > mdns.MinMsgSize {
		return int(opt.UDPSize())
	}
	return mdns.MinMsgSize
}

// formErr answers a query that does not parse: its header with FORMERR and
// no sections.
func formErr(raw []byte) []byte {
	out := make([]byte, 12)
	copy(out, raw[:4])
	out[2] = 0x80 | raw[2]&0x78 // QR, the opcode
	out[3] = mdns.RcodeFormatError
	return out
}

// servFail is the reply when no upstream answers.
func servFail(req *mdns.Msg) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetRcode(req, mdns.RcodeServerFailure)
	m.RecursionAvailable = true
	return m
}

// parseReverse returns the address of an in-addr.arpa or ip6.arpa name
// (normalised, without the trailing dot).
func parseReverse(name string) (netip.Addr, bool) {
	if rest, ok := strings.CutSuffix(name, ".in-addr.arpa"); ok {
		labels := strings.Split(rest, ".")
		if len(labels) != 4 {
			return netip.Addr{}, false
		}
		var b [4]byte
		for i, l := range labels {
			if len(l) == 0 || len(l) > 3 || (len(l) > 1 && l[0] == '0') {
				return netip.Addr{}, false
			}
			v, err := strconv.ParseUint(l, 10, 8)
			if err != nil {
				return netip.Addr{}, false
			}
			b[3-i] = byte(v)
		}
		return netip.AddrFrom4(b), true
	}
	if rest, ok := strings.CutSuffix(name, ".ip6.arpa"); ok {
		labels := strings.Split(rest, ".")
		if len(labels) != 32 {
			return netip.Addr{}, false
		}
		var b [16]byte
		for i, l := range labels {
			if len(l) != 1 {
				return netip.Addr{}, false
			}
			v, err := strconv.ParseUint(l, 16, 8)
			if err != nil {
				return netip.Addr{}, false
			}
			nib := 31 - i // labels run from the last nibble to the first
			if nib%2 == 0 {
				b[nib/2] |= byte(v) << 4
			} else {
				b[nib/2] |= byte(v)
			}
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}
