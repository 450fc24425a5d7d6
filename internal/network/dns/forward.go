package dns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
)

// defaultBudget is how long a forwarded query may take over every upstream
// together. Clients' own resolvers give up after about 5 s (glibc's
// default), so an answer we would produce later serves nobody.
const defaultBudget = 2 * time.Second

// forward sends req to ups in order and returns the first useful answer,
// packed, with the client's id. An upstream that fails, times out or
// answers SERVFAIL or REFUSED hands over to the next; when none answers,
// the client gets SERVFAIL (or the last such answer).
func (s *Server) forward(ctx context.Context, ups []netip.AddrPort, req *mdns.Msg, overTCP bool) []byte {
	ctx, cancel := context.WithTimeout(ctx, s.budget)
	defer cancel()
	var last *mdns.Msg
	for i, up := range ups {
		if ctx.Err() != nil {
			break
		}
		resp, err := s.exchange(ctx, req, up, len(ups)-i)
		if err != nil {
			s.log.Debug("dns: upstream failed", "upstream", up, "err", err)
			continue
		}
		last = resp
		if resp.Rcode != mdns.RcodeServerFailure && resp.Rcode != mdns.RcodeRefused {
			break
		}
	}
	if last == nil {
		last = servFail(req)
	}
	last.Id = req.Id
	return s.pack(last, req, overTCP)
}

// exchange asks one upstream over UDP and, when the answer is truncated,
// again over TCP. It spends at most its share of what remains of ctx's
// budget (left counts this upstream and the ones after it), so one dead
// upstream cannot eat the time of the others. The upstream sees a fresh id,
// so answers to different clients that reuse an id cannot be confused.
func (s *Server) exchange(ctx context.Context, req *mdns.Msg, up netip.AddrPort, left int) (*mdns.Msg, error) {
	if deadline, ok := ctx.Deadline(); ok && left > 1 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Until(deadline)/time.Duration(left))
		defer cancel()
	}
	q := req.Copy()
	q.Id = mdns.Id()
	addr := up.String()
	resp, err := exchangeOver(ctx, "udp", q, addr)
	if err != nil {
		return nil, err
	}
	if !resp.Truncated {
		return resp, nil
	}
	full, err := exchangeOver(ctx, "tcp", q, addr)
	if err != nil {
		// The truncated answer still tells the client to retry over TCP.
		s.log.Debug("dns: upstream TCP retry failed", "upstream", up, "err", err)
		return resp, nil
	}
	return full, nil
}

// upstreamsFor returns where client's queries go: its own upstreams, else
// the Server's defaults, else the host's. Our own listening addresses are
// left out so a container pointing --dns at its gateway cannot make us
// query ourselves forever.
func (s *Server) upstreamsFor(client netip.Addr) []netip.AddrPort {
	s.mu.RLock()
	ups := s.upstreams[client.Unmap()]
	if len(ups) == 0 {
		ups = s.defaults
	}
	own := len(s.own) > 0
	s.mu.RUnlock()
	if len(ups) == 0 {
		ups = s.host.get()
	}
	if !own {
		return ups
	}
	out := make([]netip.AddrPort, 0, len(ups))
	s.mu.RLock()
	for _, up := range ups {
		if _, ok := s.own[up]; !ok {
			out = append(out, up)
		}
	}
	s.mu.RUnlock()
	return out
}

// normalizeUpstreams gives every upstream a plain address and a port (53
// when none was given).
func normalizeUpstreams(ups []netip.AddrPort) []netip.AddrPort {
	var out []netip.AddrPort
	for _, up := range ups {
		if !up.Addr().IsValid() {
			continue
		}
		port := up.Port()
		if port == 0 {
			port = 53
		}
		out = append(out, netip.AddrPortFrom(up.Addr().Unmap(), port))
	}
	return out
}

// exchangeOver is one query and its answer over network. miekg/dns only
// turns ctx's deadline into socket deadlines, so cancelling ctx (Close)
// closes the socket to end the wait at once.
func exchangeOver(ctx context.Context, network string, q *mdns.Msg, addr string) (*mdns.Msg, error) {
	c := mdns.Client{Net: network}
	conn, err := c.DialContext(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	resp, _, err := c.ExchangeWithConnContext(ctx, q, conn)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	if err := checkAnswer(q, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// checkAnswer rejects what is not an answer to q: miekg/dns matches only
// the id, and a socket that ends up connected to itself (its source port
// equal to the upstream's, on loopback) reads its own query back.
func checkAnswer(q, resp *mdns.Msg) error {
	if !resp.Response {
		return errors.New("upstream sent a query, not a response")
	}
	if len(resp.Question) == 0 {
		return nil // allowed in an error response (FORMERR, NOTIMP)
	}
	a, b := resp.Question[0], q.Question[0]
	if a.Qtype != b.Qtype || a.Qclass != b.Qclass || !strings.EqualFold(a.Name, b.Name) {
		return fmt.Errorf("upstream answered %v to %v", a, b)
	}
	return nil
}
