package daemon

import (
	"context"

	"github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
)

// These are the API's network endpoints. Until the network manager is
// wired in they answer 501, so the server builds against the whole
// server.Backend already.

var errNoNetworks = errdefs.Errorf(errdefs.ErrNotImplemented, "networks are not available yet")

// NetworkList is GET /networks.
func (d *Daemon) NetworkList(ctx context.Context, filters server.Filters) ([]network.Summary, error) {
	return nil, errNoNetworks
}

// NetworkInspect is GET /networks/{id}.
func (d *Daemon) NetworkInspect(ctx context.Context, idOrName string, opts server.NetworkInspectOptions) (network.Inspect, error) {
	return network.Inspect{}, errNoNetworks
}

// NetworkCreate is POST /networks/create.
func (d *Daemon) NetworkCreate(ctx context.Context, req network.CreateRequest) (network.CreateResponse, error) {
	return network.CreateResponse{}, errNoNetworks
}

// NetworkRemove is DELETE /networks/{id}.
func (d *Daemon) NetworkRemove(ctx context.Context, idOrName string) error {
	return errNoNetworks
}

// NetworkConnect is POST /networks/{id}/connect.
func (d *Daemon) NetworkConnect(ctx context.Context, idOrName string, req network.ConnectRequest) error {
	return errNoNetworks
}

// NetworkDisconnect is POST /networks/{id}/disconnect.
func (d *Daemon) NetworkDisconnect(ctx context.Context, idOrName string, req network.DisconnectRequest) error {
	return errNoNetworks
}

// NetworksPrune is POST /networks/prune.
func (d *Daemon) NetworksPrune(ctx context.Context, filters server.Filters) (network.PruneReport, error) {
	return network.PruneReport{}, errNoNetworks
}
