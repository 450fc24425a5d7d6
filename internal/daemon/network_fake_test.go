package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/network"
)

// fakeNet stands in for network.Manager in unit tests: networks, IPAM,
// endpoints, published host ports and sandboxes kept in memory, with the
// manager's errors (classes and docker's words). Like the host's links and
// rules, its state outlives a daemon: a test's daemons share one fakeNet
// per data root (fakeNetFor).
type fakeNet struct {
	mu        sync.Mutex
	cfg       network.Config
	nets      map[string]*fakeNetwork // by id
	eps       map[string]network.Endpoint
	sandboxes map[string]string // container id -> path
	hostPorts map[string]string // "proto/port" -> endpoint id
	nextPort  uint16
	// connectErr, when set, fails Connect for the network it names
	// (after the address is taken, to check the daemon's undo).
	connectErr map[string]error
	// reconciled is the live map of the last Reconcile.
	reconciled map[string]string
	// recycled lists the containers whose sandbox went to RecycleSandbox.
	recycled []string
	closed   int
}

type fakeNetwork struct {
	network.Network
	next int
	used map[netip.Addr]string // address -> endpoint id
}

var fakeNets = struct {
	sync.Mutex
	byRoot map[string]*fakeNet
}{byRoot: map[string]*fakeNet{}}

// fakeNetFor is the fake network of the daemons on cfg's data root.
func fakeNetFor(cfg cfgT) *fakeNet {
	fakeNets.Lock()
	defer fakeNets.Unlock()
	f := fakeNets.byRoot[cfg.DataRoot]
	if f == nil {
		f = &fakeNet{
			nets:       map[string]*fakeNetwork{},
			eps:        map[string]network.Endpoint{},
			sandboxes:  map[string]string{},
			hostPorts:  map[string]string{},
			nextPort:   32768,
			connectErr: map[string]error{},
		}
		fakeNets.byRoot[cfg.DataRoot] = f
	}
	return f
}

func (f *fakeNet) open(_ context.Context, cfg network.Config) (netManager, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cfg = cfg
	if len(f.nets) == 0 {
		f.add(network.Network{Name: "host", Driver: "host", Predefined: true})
		f.add(network.Network{Name: "none", Driver: "null", Predefined: true})
		if cfg.DefaultBridge != "none" {
			gw := netip.MustParseAddr("172.31.250.1")
			sub := netip.MustParsePrefix("172.31.250.0/24")
			if cfg.BIP.IsValid() {
				gw, sub = cfg.BIP.Addr(), cfg.BIP.Masked()
			}
			f.add(network.Network{Name: "bridge", Driver: "bridge", Predefined: true, Subnet: sub, Gateway: gw, Bridge: cfg.Prefix + "0"})
		}
	}
	return f, nil
}

func (f *fakeNet) add(n network.Network) *fakeNetwork {
	n.ID = randomHex(32)
	n.Scope = "local"
	n.Created = time.Now().UTC()
	fn := &fakeNetwork{Network: n, next: 2, used: map[netip.Addr]string{}}
	f.nets[n.ID] = fn
	return fn
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (f *fakeNet) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed++
	return nil
}

func (f *fakeNet) find(idOrName string) (*fakeNetwork, error) {
	if n := f.nets[idOrName]; n != nil {
		return n, nil
	}
	for _, n := range f.nets {
		if n.Name == idOrName {
			return n, nil
		}
	}
	var found *fakeNetwork
	for id, n := range f.nets {
		if len(idOrName) > 0 && len(idOrName) < len(id) && id[:len(idOrName)] == idOrName {
			if found != nil {
				return nil, errdefs.Errorf(errdefs.ErrNotFound, "network %s not found", idOrName)
			}
			found = n
		}
	}
	if found == nil {
		return nil, errdefs.Errorf(errdefs.ErrNotFound, "network %s not found", idOrName)
	}
	return found, nil
}

func (f *fakeNet) CreateNetwork(_ context.Context, req network.CreateRequest) (network.Network, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if req.Driver != "" && req.Driver != "bridge" {
		return network.Network{}, errdefs.Errorf(errdefs.ErrNotFound, "plugin %q not found", req.Driver)
	}
	for _, n := range f.nets {
		if n.Name == req.Name {
			return network.Network{}, errdefs.Errorf(errdefs.ErrConflict, "network with name %s already exists", req.Name)
		}
	}
	sub := req.Subnet
	if !sub.IsValid() {
		sub = netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 30, byte(len(f.nets)), 0}), 24)
	}
	gw := req.Gateway
	if !gw.IsValid() {
		gw = sub.Masked().Addr().Next()
	}
	n := f.add(network.Network{Name: req.Name, Driver: "bridge", Subnet: sub, Gateway: gw, IPRange: req.IPRange, UserSubnet: req.Subnet.IsValid(),
		Internal: req.Internal, Attachable: req.Attachable, Labels: req.Labels, Options: req.Options})
	n.Bridge = f.cfg.Prefix + "-" + n.ID[:8]
	return n.Network, nil
}

func (f *fakeNet) Network(idOrName string) (network.Network, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.find(idOrName)
	if err != nil {
		return network.Network{}, err
	}
	return n.Network, nil
}

func (f *fakeNet) Networks() []network.Network {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []network.Network
	for _, n := range f.nets {
		out = append(out, n.Network)
	}
	slices.SortFunc(out, func(a, b network.Network) int { return a.Created.Compare(b.Created) })
	return out
}

func (f *fakeNet) RemoveNetwork(_ context.Context, idOrName string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.find(idOrName)
	if err != nil {
		return err
	}
	if n.Predefined {
		return errdefs.Errorf(errdefs.ErrForbidden, "%s is a pre-defined network and cannot be removed", n.Name)
	}
	for _, ep := range f.eps {
		if ep.NetworkID == n.ID {
			return errdefs.Errorf(errdefs.ErrConflict, "network %s has active endpoints", n.Name)
		}
	}
	delete(f.nets, n.ID)
	return nil
}

func (f *fakeNet) NewSandbox(_ context.Context, containerID string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.sandboxes[containerID]; ok {
		return "", errdefs.Errorf(errdefs.ErrConflict, "sandbox of %s exists", containerID)
	}
	// A file stands for the bind-mounted namespace.
	p := filepath.Join(f.cfg.ExecRoot, containerID)
	if err := os.MkdirAll(f.cfg.ExecRoot, 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		return "", err
	}
	f.sandboxes[containerID] = p
	return p, nil
}

func (f *fakeNet) RemoveSandbox(_ context.Context, containerID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.sandboxes[containerID]; ok {
		_ = os.Remove(p)
	}
	delete(f.sandboxes, containerID)
	return nil
}

func (f *fakeNet) RecycleSandbox(ctx context.Context, containerID string) error {
	f.mu.Lock()
	f.recycled = append(f.recycled, containerID)
	f.mu.Unlock()
	return f.RemoveSandbox(ctx, containerID)
}

func (f *fakeNet) Connect(_ context.Context, nsPath string, cfg network.EndpointConfig) (network.Endpoint, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.find(cfg.Network)
	if err != nil {
		return network.Endpoint{}, err
	}
	if n.Driver != "bridge" {
		return network.Endpoint{}, errdefs.Errorf(errdefs.ErrInvalidParameter, "cannot connect to network %s", n.Name)
	}
	if !slices.Contains(mapsValues(f.sandboxes), nsPath) {
		return network.Endpoint{}, errdefs.Errorf(errdefs.ErrNotFound, "no sandbox at %s", nsPath)
	}
	ifIndex := 0
	for _, ep := range f.eps {
		if ep.ContainerID == cfg.ContainerID {
			if ep.NetworkID == n.ID {
				return network.Endpoint{}, errdefs.Errorf(errdefs.ErrConflict, "endpoint with name %s already exists in network %s", cfg.ContainerName, n.Name)
			}
			ifIndex++
		}
	}
	ip := cfg.IPv4
	if ip.IsValid() {
		if !n.Subnet.Contains(ip) {
			return network.Endpoint{}, errdefs.Errorf(errdefs.ErrInvalidParameter, "no configured subnet or ip-range contain the IP address %s", ip)
		}
		if _, taken := n.used[ip]; taken || ip == n.Gateway {
			return network.Endpoint{}, errdefs.Errorf(errdefs.ErrInvalidParameter, "Address already in use")
		}
	} else {
		for ; ; n.next++ {
			b := n.Subnet.Masked().Addr().As4()
			b[3] = byte(n.next)
			a := netip.AddrFrom4(b)
			if _, taken := n.used[a]; !taken && a != n.Gateway {
				ip = a
				break
			}
		}
	}
	ep := network.Endpoint{
		ID: randomHex(32), NetworkID: n.ID, NetworkName: n.Name, ContainerID: cfg.ContainerID,
		IfName: fmt.Sprintf("eth%d", ifIndex), HostIfName: "veth" + randomHex(3),
		Address: netip.PrefixFrom(ip, n.Subnet.Bits()), Gateway: n.Gateway, Aliases: cfg.Aliases,
		MAC: cfg.MAC,
	}
	if ep.MAC == nil {
		a := ip.As4()
		ep.MAC = net.HardwareAddr{0x02, 0x42, a[0], a[1], a[2], a[3]}
	}
	if !n.Predefined {
		ep.DNS = n.Gateway
	}
	var taken []string
	for _, p := range cfg.Ports {
		if p.HostPort == 0 {
			p.HostPort = f.nextPort
			f.nextPort++
		}
		key := fmt.Sprintf("%s/%d", p.Proto, p.HostPort)
		if _, busy := f.hostPorts[key]; busy {
			for _, k := range taken {
				delete(f.hostPorts, k)
			}
			return network.Endpoint{}, errdefs.Errorf(errdefs.ErrConflict, "Bind for 0.0.0.0:%d failed: port is already allocated", p.HostPort)
		}
		f.hostPorts[key] = ep.ID
		taken = append(taken, key)
		ep.Ports = append(ep.Ports, p)
	}
	if err := f.connectErr[n.Name]; err != nil {
		for _, k := range taken {
			delete(f.hostPorts, k)
		}
		return network.Endpoint{}, err
	}
	n.used[ip] = ep.ID
	f.eps[ep.ID] = ep
	return ep, nil
}

func mapsValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func (f *fakeNet) Disconnect(_ context.Context, containerID, netw string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.find(netw)
	if err != nil {
		return err
	}
	for id, ep := range f.eps {
		if ep.ContainerID == containerID && ep.NetworkID == n.ID {
			f.release(id)
			return nil
		}
	}
	return errdefs.Errorf(errdefs.ErrNotFound, "container %s is not connected to network %s", containerID, n.Name)
}

func (f *fakeNet) release(id string) {
	ep := f.eps[id]
	if n := f.nets[ep.NetworkID]; n != nil {
		delete(n.used, ep.Address.Addr())
	}
	for k, owner := range f.hostPorts {
		if owner == id {
			delete(f.hostPorts, k)
		}
	}
	delete(f.eps, id)
}

func (f *fakeNet) Endpoints(containerID string) []network.Endpoint {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []network.Endpoint
	for _, ep := range f.eps {
		if ep.ContainerID == containerID {
			out = append(out, ep)
		}
	}
	slices.SortFunc(out, func(a, b network.Endpoint) int {
		if a.IfName < b.IfName {
			return -1
		}
		if a.IfName > b.IfName {
			return 1
		}
		return 0
	})
	return out
}

func (f *fakeNet) Reconcile(_ context.Context, live map[string]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reconciled = live
	for id, ep := range f.eps {
		if _, ok := live[ep.ContainerID]; !ok {
			f.release(id)
		}
	}
	for cid, p := range f.sandboxes {
		if _, ok := live[cid]; !ok {
			_ = os.Remove(p)
			delete(f.sandboxes, cid)
		}
	}
	return nil
}

// state is what the fake holds, for assertions: endpoints by container,
// sandboxes, host ports in use.
func (f *fakeNet) state() (eps int, sandboxes int, ports int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.eps), len(f.sandboxes), len(f.hostPorts)
}

var _ netManager = (*fakeNet)(nil)
