package dns

import "net/netip"

// Record is what a scope resolves for one endpoint: each name (container
// name, aliases, 12-character short id) to Addr, and Addr back to the first
// name. Names are matched case-insensitively and without a trailing dot.
type Record struct {
	Names []string
	Addr  netip.Addr
}

// scope is one network's names and, while it listens, its sockets.
type scope struct {
	records map[string]Record
}

// SetRecord registers r under key (an endpoint id) in scope, replacing what
// key had. The scope need not listen yet.
func (s *Server) SetRecord(scope, key string, r Record) {
}

// DeleteRecord removes key's record from scope; an absent one is not an error.
func (s *Server) DeleteRecord(scope, key string) {
}
