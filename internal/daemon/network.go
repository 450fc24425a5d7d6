package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"sync"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/network"
)

// netManager is what the daemon uses of network.Manager (see that type for
// the contract of each method). Unit tests give the daemon an in-memory
// fake, so they run without touching the host's links and rules.
type netManager interface {
	Close() error
	CreateNetwork(ctx context.Context, req network.CreateRequest) (network.Network, error)
	Network(idOrName string) (network.Network, error)
	Networks() []network.Network
	RemoveNetwork(ctx context.Context, idOrName string) error
	NewSandbox(ctx context.Context, containerID string) (nsPath string, err error)
	RemoveSandbox(ctx context.Context, containerID string) error
	RecycleSandbox(ctx context.Context, containerID string) error
	Connect(ctx context.Context, nsPath string, cfg network.EndpointConfig) (network.Endpoint, error)
	Disconnect(ctx context.Context, containerID, network string) error
	Endpoints(containerID string) []network.Endpoint
	Reconcile(ctx context.Context, live map[string]string) error
}

var _ netManager = (*network.Manager)(nil)

// newNetManager makes the daemon's network manager from its config; tests
// replace it (withNetworkManager).
type newNetManager func(ctx context.Context, cfg network.Config) (netManager, error)

func realNetManager(ctx context.Context, cfg network.Config) (netManager, error) {
	m, err := network.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// withNetworkManager replaces network.New (tests).
func withNetworkManager(f newNetManager) Option { return func(o *options) { o.network = f } }

// networking is the daemon's side of networking: the manager, and one lock
// per container that orders what changes its sandbox (start's set-up, the
// teardown at exit, connect and disconnect).
type networking struct {
	m     netManager
	locks sync.Map // container id -> *sync.Mutex
	// joined holds the ids of containers whose network namespace another
	// container has joined (network mode container:<id>): theirs is never
	// recycled, whatever it looks like.
	joined sync.Map
	// recyclable holds the ids of containers whose current run's sandbox
	// may be recycled at its end (sandboxRecyclable).
	recyclable sync.Map
}

// lock takes container id's network lock; the caller unlocks it.
func (n *networking) lock(id string) *sync.Mutex {
	v, _ := n.locks.LoadOrStore(id, &sync.Mutex{})
	mu := v.(*sync.Mutex)
	mu.Lock()
	return mu
}

// forget drops a removed container's lock.
func (n *networking) forget(id string) { n.locks.Delete(id) }

// openNetwork starts the network manager: it loads the networks, makes
// sure the default bridge exists and installs the firewall's rules. It
// runs before restore, which settles the containers' endpoints.
func (d *Daemon) openNetwork(ctx context.Context, open newNetManager) error {
	cfg, err := d.networkConfig()
	if err != nil {
		return err
	}
	if open == nil {
		open = realNetManager
	}
	m, err := open(ctx, cfg)
	if err != nil {
		return fmt.Errorf("networking: %w", err)
	}
	d.nets = &networking{m: m}
	return nil
}

// networkConfig turns the daemon's settings into the manager's.
func (d *Daemon) networkConfig() (network.Config, error) {
	cfg := network.Config{
		Root:          filepath.Join(d.dataRoot, "network"),
		ExecRoot:      filepath.Join(d.execRoot, "netns"),
		Prefix:        d.cfg.ResourcePrefix,
		DefaultBridge: d.cfg.Bridge,
		MTU:           d.cfg.MTU,
		Logger:        d.log,
	}
	if d.cfg.BIP != "" {
		p, err := netip.ParsePrefix(d.cfg.BIP)
		if err != nil {
			return cfg, errdefs.Errorf(errdefs.ErrInvalidParameter, "--bip %q: %v", d.cfg.BIP, err)
		}
		cfg.BIP = p
	}
	for _, p := range d.cfg.DefaultAddressPools {
		base, err := p.Prefix()
		if err != nil {
			return cfg, errdefs.Errorf(errdefs.ErrInvalidParameter, "%v", err)
		}
		cfg.DefaultAddressPools = append(cfg.DefaultAddressPools, network.AddressPool{Base: base, Size: p.Size})
	}
	if !d.cfg.IPTables {
		cfg.Firewall = "none"
	}
	return cfg, nil
}

// defaultBridge is the default bridge network; ok is false when the daemon
// runs without one (--bridge none).
func (d *Daemon) defaultBridge() (network.Network, bool) {
	n, err := d.nets.m.Network(defaultNetworkName)
	if err != nil || n.Driver != "bridge" {
		return network.Network{}, false
	}
	return n, true
}

// The predefined networks' names, docker's.
const (
	defaultNetworkName = "bridge"
	hostNetworkName    = "host"
	noneNetworkName    = "none"
)

// isUserNetwork: a network made by `network create` (not bridge, host or
// none), the kind with an embedded DNS server and aliases.
func isUserNetwork(n network.Network) bool { return !n.Predefined }
