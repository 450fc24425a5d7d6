package network

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/network/dns"
	"github.com/berth-project/berth/internal/network/firewall"
)

// Drivers and the predefined networks, with docker's names.
const (
	driverBridge = "bridge"
	driverHost   = "host"
	driverNull   = "null"

	nameBridge = "bridge"
	nameHost   = "host"
	nameNone   = "none"
)

// Bridge driver options, docker's keys.
const (
	optBridgeName  = "com.docker.network.bridge.name"
	optICC         = "com.docker.network.bridge.enable_icc"
	optMasquerade  = "com.docker.network.bridge.enable_ip_masquerade"
	optHostBinding = "com.docker.network.bridge.host_binding_ipv4"
	optMTU         = "com.docker.network.driver.mtu"
	optDefault     = "com.docker.network.bridge.default_bridge"
)

// Manager owns the networks, endpoints and sandboxes of one daemon. Its
// methods are safe for concurrent use; the slow parts of Connect (netlink)
// run outside its lock, so containers start in parallel.
type Manager struct {
	cfg       Config
	log       *slog.Logger
	store     store
	sandboxes *sandboxes
	fw        firewall.Backend
	dns       *dns.Server
	hostNS    int             // the daemon's network namespace, to come back to
	nl        *netlink.Handle // host netlink socket of Connect and Disconnect (safe for concurrent use)
	closed    bool
	ephemeral [2]uint16

	inflight sync.WaitGroup // Disconnects releasing in the background

	mu       sync.Mutex
	nets     map[string]*netState // by network id
	eps      map[string]*epRecord // by endpoint id
	ports    map[portKey][]portHolder
	nextPort uint16
}

type netState struct {
	rec  *netRecord
	pool *pool
}

// New loads the state under cfg.Root, makes sure the default bridge and the
// bridges of the stored networks exist, and installs the firewall's rules
// for them (the endpoints' ports included, until Reconcile says which are
// live). It leaves containers' endpoints alone: Reconcile settles them.
func New(ctx context.Context, cfg Config) (_ *Manager, err error) {
	cfg, err = makeConfig(cfg)
	if err != nil {
		return nil, err
	}
	m := &Manager{
		cfg:   cfg,
		log:   cfg.Logger,
		store: store{root: cfg.Root, runRoot: cfg.RunRoot, log: cfg.Logger},
		nets:  map[string]*netState{},
		eps:   map[string]*epRecord{},
		ports: map[portKey][]portHolder{},
	}
	if err := m.store.init(); err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	m.ephemeral = ephemeralRange()
	m.nextPort = m.ephemeral[0]
	// The calling thread's namespace is the host's for this daemon
	// (/proc/self names the main thread's, which need not be the same).
	m.hostNS, err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: "/proc/thread-self/ns/net", Err: err}
	}
	defer func() {
		if err != nil {
			m.closeAll()
		}
	}()
	if m.nl, err = routeHandle(); err != nil {
		return nil, err
	}
	if m.fw, err = firewall.New(ctx, cfg.Prefix, cfg.Firewall, m.log); err != nil {
		return nil, err
	}
	m.dns = dns.New(m.log, cfg.DNSUpstreams)
	if err := m.load(); err != nil {
		return nil, err
	}
	if err := m.ensurePredefined(ctx); err != nil {
		return nil, err
	}
	if err := m.ensureBridges(); err != nil {
		return nil, err
	}
	if err := m.fw.Init(ctx); err != nil {
		return nil, fmt.Errorf("network: firewall %s: %w", m.fw.Name(), err)
	}
	m.mu.Lock()
	err = m.syncFirewall(ctx)
	m.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("network: firewall %s: %w", m.fw.Name(), err)
	}
	for _, n := range m.nets {
		m.listenDNS(ctx, n.rec)
	}
	if m.sandboxes, err = newSandboxes(cfg.ExecRoot, m.hostNS, m.log, cfg.MTU); err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	return m, nil
}

// Close stops the resolvers and the sandbox pool. Bridges, veths, sandboxes
// and firewall rules stay as they are, for live restore.
func (m *Manager) Close() error {
	return m.closeAll()
}

func (m *Manager) closeAll() error {
	m.waitReleases()
	var errs []error
	if m.sandboxes != nil {
		m.sandboxes.close()
		m.sandboxes = nil
	}
	if m.dns != nil && !m.closed {
		if err := m.dns.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	m.closed = true
	// The published ports' sockets: the next daemon binds them again.
	m.mu.Lock()
	for _, hs := range m.ports {
		for i := range hs {
			if hs[i].fd >= 0 {
				unix.Close(hs[i].fd)
				hs[i].fd = -1
			}
		}
	}
	m.mu.Unlock()
	if m.nl != nil {
		m.nl.Close() // a closed Handle opens a socket per request: still usable
	}
	if m.hostNS > 0 {
		unix.Close(m.hostNS)
		m.hostNS = -1
	}
	return errors.Join(errs...)
}

// load reads the store into memory: networks, then endpoints with their
// addresses and ports held.
func (m *Manager) load() error {
	nets, err := m.store.loadNetworks()
	if err != nil {
		return fmt.Errorf("network: load: %w", err)
	}
	for i := range nets {
		r := &nets[i]
		m.nets[r.ID] = &netState{rec: r, pool: newPool(r.Subnet, r.IPRange, r.Gateway)}
	}
	eps, err := m.store.loadEndpoints()
	if err != nil {
		return fmt.Errorf("network: load: %w", err)
	}
	for i := range eps {
		ep := &eps[i]
		n := m.nets[ep.NetworkID]
		if n == nil {
			// Its network's record is gone (removed while a crash
			// interrupted the endpoint's release): drop it.
			m.log.Warn("network: dropping an endpoint of an unknown network", "endpoint", ep.ID, "network", ep.NetworkID)
			_ = m.store.deleteEndpoint(ep.ID)
			continue
		}
		m.eps[ep.ID] = ep
		n.pool.hold(ep.Address.Addr(), ep.ID)
		m.holdPorts(ep.ID, ep.Ports, nil) // Reconcile binds the kept ones
	}
	return nil
}

func newID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// byName returns the network called name, or nil. Callers hold m.mu.
func (m *Manager) byName(name string) *netState {
	for _, n := range m.nets {
		if n.rec.Name == name {
			return n
		}
	}
	return nil
}

// lookup finds a network as docker does: exact id, exact name, then a
// unique id prefix. Callers hold m.mu.
func (m *Manager) lookup(idOrName string) (*netState, error) {
	if idOrName != "" {
		if n := m.nets[idOrName]; n != nil {
			return n, nil
		}
		if n := m.byName(idOrName); n != nil {
			return n, nil
		}
		var found *netState
		for id, n := range m.nets {
			if strings.HasPrefix(id, idOrName) {
				if found != nil {
					return nil, errdefs.Errorf(errdefs.ErrNotFound, "network %s is ambiguous (%d matches found based on ID prefix)", idOrName, m.countPrefix(idOrName))
				}
				found = n
			}
		}
		if found != nil {
			return found, nil
		}
	}
	return nil, errdefs.Errorf(errdefs.ErrNotFound, "network %s not found", idOrName)
}

func (m *Manager) countPrefix(p string) int {
	c := 0
	for id := range m.nets {
		if strings.HasPrefix(id, p) {
			c++
		}
	}
	return c
}

// ensurePredefined makes the records of "host", "none" and (unless
// DefaultBridge is "none") "bridge" exist and match the configuration.
func (m *Manager) ensurePredefined(ctx context.Context) error {
	for _, p := range []struct{ name, driver string }{{nameHost, driverHost}, {nameNone, driverNull}} {
		if m.byName(p.name) != nil {
			continue
		}
		r := &netRecord{Network: Network{
			ID: newID(), Name: p.name, Driver: p.driver, Scope: "local",
			Created: time.Now().UTC(), Predefined: true,
			Labels: map[string]string{}, Options: map[string]string{},
		}}
		if err := m.store.putNetwork(r); err != nil {
			return err
		}
		m.nets[r.ID] = &netState{rec: r, pool: newPool(r.Subnet, r.IPRange, r.Gateway)}
	}
	return m.ensureDefaultBridge()
}

// ensureDefaultBridge settles the default network's record: --bip if
// given; else the stored subnet; else the address of an existing
// user-managed --bridge; else the first pool subnet that overlaps no host
// route and no other network.
func (m *Manager) ensureDefaultBridge() error {
	old := m.byName(nameBridge)
	if m.cfg.DefaultBridge == "none" {
		if old != nil {
			m.log.Info("network: default bridge disabled; dropping its record", "id", old.rec.ID)
			if err := m.store.deleteNetwork(old.rec.ID); err != nil {
				return err
			}
			delete(m.nets, old.rec.ID)
		}
		return nil
	}
	h, err := routeHandle()
	if err != nil {
		return err
	}
	defer h.Close()

	var gw netip.Prefix
	switch {
	case m.cfg.BIP.IsValid():
		gw = m.cfg.BIP
	case old != nil && old.rec.Bridge == m.cfg.DefaultBridge && old.rec.Subnet.IsValid():
		gw = netip.PrefixFrom(old.rec.Gateway, old.rec.Subnet.Bits())
	default:
		if p, ok := bridgeGateway(h, m.cfg.DefaultBridge); ok {
			gw = p
			break
		}
		routes, err := hostRoutes(h)
		if err != nil {
			return err
		}
		for _, n := range m.nets {
			if n != old && n.rec.Subnet.IsValid() {
				routes = append(routes, n.rec.Subnet)
			}
		}
		sub, ok := chooseSubnet(m.cfg.DefaultAddressPools, routes)
		if !ok {
			return errdefs.Errorf(errdefs.ErrUnavailable, "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")
		}
		gw = netip.PrefixFrom(firstHost(sub), sub.Bits())
	}
	r := &netRecord{Network: Network{
		ID: newID(), Name: nameBridge, Driver: driverBridge, Scope: "local",
		Created: time.Now().UTC(), Predefined: true, Labels: map[string]string{},
	}}
	if old != nil {
		r.Network = old.rec.Network
		if old.rec.Gateway != gw.Addr() && old.rec.Bridge == m.cfg.DefaultBridge {
			// --bip changed: the bridge must not keep the old gateway.
			deleteAddr(h, old.rec.Bridge, netip.PrefixFrom(old.rec.Gateway, old.rec.Subnet.Bits()))
		}
	}
	r.Subnet, r.Gateway, r.Bridge = gw.Masked(), gw.Addr(), m.cfg.DefaultBridge
	r.IPRange = netip.Prefix{}
	r.MTU = m.cfg.MTU
	r.Options = map[string]string{
		optDefault:     "true",
		optICC:         "true",
		optMasquerade:  "true",
		optHostBinding: "0.0.0.0",
		optBridgeName:  m.cfg.DefaultBridge,
		optMTU:         strconv.Itoa(m.cfg.MTU),
	}
	if err := m.store.putNetwork(r); err != nil {
		return err
	}
	pool := newPool(r.Subnet, r.IPRange, r.Gateway)
	if old != nil {
		for a, owner := range old.pool.used {
			pool.used[a] = owner
		}
		delete(m.nets, old.rec.ID)
	}
	m.nets[r.ID] = &netState{rec: r, pool: pool}
	return nil
}

// ensureBridges makes every bridge network's Linux bridge exist (after a
// reboot, or a crash half-way through CreateNetwork).
func (m *Manager) ensureBridges() error {
	h, err := routeHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	for _, n := range m.nets {
		if n.rec.Driver != driverBridge {
			continue
		}
		if _, err := ensureBridge(h, n.rec.Bridge, netip.PrefixFrom(n.rec.Gateway, n.rec.Subnet.Bits()), n.rec.mtu(m.cfg.MTU)); err != nil {
			return fmt.Errorf("network %s: %w", n.rec.Name, err)
		}
	}
	return nil
}

func (r *netRecord) mtu(def int) int {
	if r.MTU > 0 {
		return r.MTU
	}
	return def
}

// userNetwork says whether n gets the embedded resolver: every bridge
// network but the default one, as docker.
func (r *netRecord) userNetwork() bool { return r.Driver == driverBridge && !r.Predefined }

// listenDNS starts the resolver on a user network's gateway. A network
// without names still carries traffic, so a failure is logged, not fatal.
func (m *Manager) listenDNS(ctx context.Context, r *netRecord) {
	if !r.userNetwork() {
		return
	}
	var opts []dns.ListenOption
	if r.Internal {
		opts = append(opts, dns.Internal(r.Subnet))
	}
	if err := m.dns.Listen(ctx, r.ID, r.Gateway, opts...); err != nil {
		m.log.Warn("network: embedded DNS unavailable on this network", "network", r.Name, "address", r.Gateway, "err", err)
	}
}

// Networks lists every network, predefined ones included, oldest first.
func (m *Manager) Networks() []Network {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Network, 0, len(m.nets))
	for _, n := range m.nets {
		out = append(out, n.rec.public())
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Network finds a network by exact id, exact name or unique id prefix;
// NotFound "network X not found" otherwise.
func (m *Manager) Network(idOrName string) (Network, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup(idOrName)
	if err != nil {
		return Network{}, err
	}
	return n.rec.public(), nil
}

// public is a copy the caller may keep and change.
func (r *netRecord) public() Network {
	n := r.Network
	n.Labels = cloneMap(r.Labels)
	n.Options = cloneMap(r.Options)
	return n
}

func cloneMap(in map[string]string) map[string]string {
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}
