package dns

import (
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"

	mdns "github.com/miekg/dns"
)

// Record is what a scope resolves for one endpoint: each name (container
// name, aliases, 12-character short id) to Addr, and Addr back to the first
// name. Names are matched case-insensitively and without a trailing dot.
type Record struct {
	Names []string
	Addr  netip.Addr
}

// scope is one network's names and, while it listens, its sockets. Its
// fields other than idx are guarded by Server.mu.
type scope struct {
	id      string
	records map[string]Record // by endpoint id, names normalised
	l       *listener         // nil while not listening

	// internal is the subnet of Listen's Internal option, nil for a
	// network with a way out; read by the listeners.
	internal atomic.Pointer[netip.Prefix]

	// idx is rebuilt on every change and read without a lock by the
	// listeners, so a query never waits for SetRecord.
	idx atomic.Pointer[index]
}

// index is an immutable lookup view of a scope's records.
type index struct {
	names map[string]*nameEntry // normalised name -> addresses
	ptr   map[netip.Addr]string // address -> first name, as an FQDN
}

// nameEntry holds the addresses of one name; next rotates them, so clients
// of several containers sharing an alias spread over them.
type nameEntry struct {
	addrs []netip.Addr
	next  atomic.Uint32
}

// SetRecord registers r under key (an endpoint id) in scope, replacing what
// key had. The scope need not listen yet. Names that are not valid domain
// names are left out, and so is a record without a valid address.
func (s *Server) SetRecord(scope, key string, r Record) {
	r = s.cleanRecord(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.scopeLocked(scope)
	sc.records[key] = r
	sc.rebuild()
}

// DeleteRecord removes key's record from scope; an absent one is not an error.
func (s *Server) DeleteRecord(scope, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc, ok := s.scopes[scope]
	if !ok {
		return
	}
	if _, ok := sc.records[key]; !ok {
		return
	}
	delete(sc.records, key)
	sc.rebuild()
	s.dropIfIdleLocked(sc)
}

// scopeLocked returns scope id, creating it. s.mu must be held.
func (s *Server) scopeLocked(id string) *scope {
	sc, ok := s.scopes[id]
	if !ok {
		sc = &scope{id: id, records: map[string]Record{}}
		sc.idx.Store(&index{})
		s.scopes[id] = sc
	}
	return sc
}

// dropIfIdleLocked forgets a scope that neither listens nor has records, so
// removed networks leave nothing behind. s.mu must be held.
func (s *Server) dropIfIdleLocked(sc *scope) {
	if sc.l == nil && len(sc.records) == 0 {
		delete(s.scopes, sc.id)
	}
}

func (s *Server) cleanRecord(r Record) Record {
	out := Record{Addr: r.Addr.Unmap()}
	if !out.Addr.IsValid() {
		s.log.Debug("dns: record without a valid address ignored", "names", r.Names)
		return Record{}
	}
	for _, n := range r.Names {
		n = normalize(n)
		if n == "" || slices.Contains(out.Names, n) {
			continue
		}
		if _, ok := mdns.IsDomainName(n); !ok {
			s.log.Debug("dns: record name is not a domain name", "name", n)
			continue
		}
		out.Names = append(out.Names, n)
	}
	return out
}

// rebuild publishes a fresh index of sc.records. Records are taken in key
// order so the answer order does not depend on map iteration.
func (sc *scope) rebuild() {
	idx := &index{names: map[string]*nameEntry{}, ptr: map[netip.Addr]string{}}
	keys := make([]string, 0, len(sc.records))
	for k := range sc.records {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		r := sc.records[k]
		if !r.Addr.IsValid() || len(r.Names) == 0 {
			continue
		}
		for _, n := range r.Names {
			e := idx.names[n]
			if e == nil {
				e = &nameEntry{}
				idx.names[n] = e
			}
			if !slices.Contains(e.addrs, r.Addr) {
				e.addrs = append(e.addrs, r.Addr)
			}
		}
		if _, ok := idx.ptr[r.Addr]; !ok {
			idx.ptr[r.Addr] = mdns.Fqdn(r.Names[0])
		}
	}
	sc.idx.Store(idx)
}

// rotated returns e's addresses starting one further than last time.
func (e *nameEntry) rotated() []netip.Addr {
	n := len(e.addrs)
	if n <= 1 {
		return e.addrs
	}
	start := int((e.next.Add(1) - 1) % uint32(n))
	out := make([]netip.Addr, 0, n)
	out = append(out, e.addrs[start:]...)
	return append(out, e.addrs[:start]...)
}

// normalize turns a name as registered or asked into the index's key.
func normalize(name string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(name), "."))
}
