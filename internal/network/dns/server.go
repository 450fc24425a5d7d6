package dns

import (
	"context"
	"log/slog"

	"github.com/berth-project/berth/internal/errdefs"
	"net/netip"
	"sync"
)

// Server is the embedded resolver of every user network of one daemon. Its
// methods are safe for concurrent use.
type Server struct {
	log      *slog.Logger
	defaults []netip.AddrPort

	mu        sync.Mutex
	scopes    map[string]*scope
	upstreams map[netip.Addr][]netip.AddrPort
	closed    bool
}

// New returns a Server that forwards to defaultUpstreams the queries of
// clients without upstreams of their own; nil means the host's resolvers,
// read from /etc/resolv.conf when a query needs them.
func New(log *slog.Logger, defaultUpstreams []netip.AddrPort) *Server {
	if log == nil {
		log = slog.Default()
	}
	return &Server{
		log:       log,
		defaults:  append([]netip.AddrPort(nil), defaultUpstreams...),
		scopes:    map[string]*scope{},
		upstreams: map[netip.Addr][]netip.AddrPort{},
	}
}

// Listen serves scope (a network id) on addr port 53, UDP and TCP. It fails
// with an Unavailable error naming the address when either socket cannot be
// bound (port 53 taken, address not assigned). Listening again on the same
// address is a no-op; on another address it is a Conflict.
func (s *Server) Listen(ctx context.Context, scope string, addr netip.Addr) error {
	return errdefs.Errorf(errdefs.ErrNotImplemented, "dns: not implemented yet")
}

// Unlisten stops serving scope and has closed both sockets when it returns,
// so the address can be bound again at once. The scope's records are kept.
// A scope that does not listen is not an error.
func (s *Server) Unlisten(scope string) error {
	return errdefs.Errorf(errdefs.ErrNotImplemented, "dns: not implemented yet")
}

// SetUpstreams sets the servers that queries from client (a container's
// address) are forwarded to, e.g. its --dns servers; nil or empty restores
// the Server's defaults. A zero port means 53.
func (s *Server) SetUpstreams(client netip.Addr, ups []netip.AddrPort) {
}

// Close stops every listener, aborts the forwarded queries in flight and
// waits for them. The Server cannot be used afterwards.
func (s *Server) Close() error {
	return errdefs.Errorf(errdefs.ErrNotImplemented, "dns: not implemented yet")
}
