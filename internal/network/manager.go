package network

import (
	"context"

	"github.com/berth-project/berth/internal/errdefs"
)

// Manager owns the networks, endpoints and sandboxes of one daemon.
type Manager struct {
	cfg Config
}

// New loads the state under cfg.Root, ensures the default bridge and
// installs the firewall's rules for every network.
func New(ctx context.Context, cfg Config) (*Manager, error) {
	return nil, errdefs.Errorf(errdefs.ErrNotImplemented, "network: not implemented")
}

// Close stops the resolvers; bridges, veths and rules stay (live restore).
func (m *Manager) Close() error { return nil }

// CreateNetwork creates a user network.
func (m *Manager) CreateNetwork(ctx context.Context, req CreateRequest) (Network, error) {
	return Network{}, errdefs.Errorf(errdefs.ErrNotImplemented, "network: not implemented")
}

// Network finds a network by exact id, exact name or unique id prefix.
func (m *Manager) Network(idOrName string) (Network, error) {
	return Network{}, errdefs.Errorf(errdefs.ErrNotFound, "network %s not found", idOrName)
}

// Networks lists every network, predefined ones included.
func (m *Manager) Networks() []Network { return nil }

// RemoveNetwork removes a user network.
func (m *Manager) RemoveNetwork(ctx context.Context, idOrName string) error {
	return errdefs.Errorf(errdefs.ErrNotImplemented, "network: not implemented")
}

// NewSandbox creates a container's network namespace.
func (m *Manager) NewSandbox(ctx context.Context, containerID string) (string, error) {
	return "", errdefs.Errorf(errdefs.ErrNotImplemented, "network: not implemented")
}

// RemoveSandbox removes a container's network namespace; absent => nil.
func (m *Manager) RemoveSandbox(ctx context.Context, containerID string) error { return nil }

// Connect attaches the sandbox at nsPath to a network.
func (m *Manager) Connect(ctx context.Context, nsPath string, cfg EndpointConfig) (Endpoint, error) {
	return Endpoint{}, errdefs.Errorf(errdefs.ErrNotImplemented, "network: not implemented")
}

// Disconnect detaches a container from a network.
func (m *Manager) Disconnect(ctx context.Context, containerID, network string) error {
	return errdefs.Errorf(errdefs.ErrNotImplemented, "network: not implemented")
}

// Endpoints lists a container's endpoints.
func (m *Manager) Endpoints(containerID string) []Endpoint { return nil }

// Reconcile keeps what belongs to live containers and releases the rest.
func (m *Manager) Reconcile(ctx context.Context, live map[string]string) error { return nil }
