package dns

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
)

const (
	// forwardSlots bounds the UDP queries being forwarded at once, over
	// every scope: a packet storm then costs at most this many goroutines.
	forwardSlots = 256
	// tcpSlots bounds the open TCP connections over every scope.
	tcpSlots = 128
	// tcpIdle closes a TCP connection that sends no complete query for
	// this long.
	tcpIdle = 10 * time.Second
)

// Server is the embedded resolver of every user network of one daemon. Its
// methods are safe for concurrent use.
type Server struct {
	log      *slog.Logger
	defaults []netip.AddrPort
	host     *hostResolvers
	budget   time.Duration // tests shorten it

	forwards chan struct{} // a token per forwarded UDP query
	tcpConns chan struct{} // a token per open TCP connection
	done     chan struct{} // closed by Close: aborts forwards in flight
	inflight sync.WaitGroup

	mu        sync.RWMutex
	scopes    map[string]*scope
	upstreams map[netip.Addr][]netip.AddrPort
	own       map[netip.AddrPort]struct{} // our listening addresses
	closed    bool
}

// New returns a Server that forwards to defaultUpstreams the queries of
// clients without upstreams of their own; nil means the host's resolvers,
// read from /etc/resolv.conf (minus loopback ones; systemd-resolved's real
// servers when it names the 127.0.0.53 stub) when a query needs them.
func New(log *slog.Logger, defaultUpstreams []netip.AddrPort) *Server {
	if log == nil {
		log = slog.Default()
	}
	return &Server{
		log:       log,
		defaults:  normalizeUpstreams(defaultUpstreams),
		host:      &hostResolvers{path: hostResolvConf, systemdPath: systemdResolvConf},
		budget:    defaultBudget,
		forwards:  make(chan struct{}, forwardSlots),
		tcpConns:  make(chan struct{}, tcpSlots),
		done:      make(chan struct{}),
		scopes:    map[string]*scope{},
		upstreams: map[netip.Addr][]netip.AddrPort{},
		own:       map[netip.AddrPort]struct{}{},
	}
}

// ListenOption changes how one scope is served.
type ListenOption func(*listenOptions)

type listenOptions struct {
	internal *netip.Prefix
}

// Internal marks the scope as an --internal network with this subnet: its
// clients' queries are forwarded only to upstreams inside the subnet (a DNS
// server that is itself a container of the network), and get REFUSED when
// there is none, since the host's resolvers would otherwise be a way out
// of a network that has none (docker's CVE-2024-29018, fixed the same way
// in 26.0).
func Internal(subnet netip.Prefix) ListenOption {
	subnet = subnet.Masked()
	return func(o *listenOptions) { o.internal = &subnet }
}

// Listen serves scope (a network id) on addr port 53, UDP and TCP. It fails
// with an Unavailable error naming the address when either socket cannot be
// bound (port 53 taken, address not assigned to an interface). Listening
// again on the same address is a no-op (the options are applied again); on
// another address it is a Conflict.
func (s *Server) Listen(ctx context.Context, scope string, addr netip.Addr, opts ...ListenOption) error {
	var o listenOptions
	for _, opt := range opts {
		opt(&o)
	}
	addr = addr.Unmap()
	if !addr.IsValid() {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "dns: no address to listen on for network %s", scope)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errdefs.Errorf(errdefs.ErrUnavailable, "dns: resolver is closed")
	}
	sc := s.scopeLocked(scope)
	if sc.l != nil {
		if sc.l.addr.Addr() == addr {
			sc.internal.Store(o.internal)
			return nil
		}
		return errdefs.Errorf(errdefs.ErrConflict, "dns: network %s already has a resolver on %s", scope, sc.l.addr)
	}
	l, err := listen(netip.AddrPortFrom(addr, 53))
	if err != nil {
		s.dropIfIdleLocked(sc)
		return err
	}
	sc.l = l
	sc.internal.Store(o.internal)
	s.own[l.addr] = struct{}{}
	l.loops.Add(2)
	// The loops count in inflight too, so the forwards they start are
	// never added to a zero counter that Close is waiting on.
	s.inflight.Add(2)
	go s.serveUDP(sc, l)
	go s.serveTCP(sc, l)
	s.log.DebugContext(ctx, "dns: listening", "network", scope, "addr", l.addr)
	return nil
}

// Unlisten stops serving scope and has closed both sockets when it returns,
// so the address can be bound again at once. The scope's records are kept.
// A scope that does not listen is not an error.
func (s *Server) Unlisten(scope string) error {
	s.mu.Lock()
	sc, ok := s.scopes[scope]
	if !ok || sc.l == nil {
		s.mu.Unlock()
		return nil
	}
	l := sc.l
	sc.l = nil
	delete(s.own, l.addr)
	s.dropIfIdleLocked(sc)
	s.mu.Unlock()
	return l.close()
}

// SetUpstreams sets the servers that queries from client (a container's
// address) are forwarded to, e.g. its --dns servers; nil or empty restores
// the Server's defaults. A zero port means 53.
func (s *Server) SetUpstreams(client netip.Addr, ups []netip.AddrPort) {
	client = client.Unmap()
	ups = normalizeUpstreams(ups)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(ups) == 0 {
		delete(s.upstreams, client)
		return
	}
	s.upstreams[client] = ups
}

// Close stops every listener, aborts the forwarded queries in flight and
// waits for them. The Server cannot be used afterwards; closing it again
// is a no-op.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var ls []*listener
	for _, sc := range s.scopes {
		if sc.l != nil {
			ls = append(ls, sc.l)
			sc.l = nil
		}
	}
	clear(s.scopes)
	clear(s.own)
	s.mu.Unlock()
	close(s.done)
	var errs []error
	for _, l := range ls {
		errs = append(errs, l.close())
	}
	s.inflight.Wait()
	return errors.Join(errs...)
}

// forwardContext bounds one forward by the budget and by Close.
func (s *Server) forwardContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), s.budget)
	stop := make(chan struct{})
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-stop:
		}
	}()
	return ctx, func() { close(stop); cancel() }
}

// isClosed tells a loop's error that its socket was closed on purpose.
func isClosed(err error) bool { return errors.Is(err, net.ErrClosed) }
