package daemon

import (
	"context"

	"github.com/moby/moby/api/types/volume"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
)

// The API's volume endpoints (server.VolumeBackend). These stubs keep the
// tree building until the daemon's volume integration replaces them.

var errVolumesNotImplemented = errdefs.Errorf(errdefs.ErrNotImplemented, "Berth does not implement volumes yet")

// VolumeList is GET /volumes.
func (d *Daemon) VolumeList(ctx context.Context, filters server.Filters) (volume.ListResponse, error) {
	return volume.ListResponse{}, errVolumesNotImplemented
}

// VolumeInspect is GET /volumes/{name}.
func (d *Daemon) VolumeInspect(ctx context.Context, name string) (volume.Volume, error) {
	return volume.Volume{}, errVolumesNotImplemented
}

// VolumeCreate is POST /volumes/create.
func (d *Daemon) VolumeCreate(ctx context.Context, req volume.CreateRequest) (volume.Volume, error) {
	return volume.Volume{}, errVolumesNotImplemented
}

// VolumeRemove is DELETE /volumes/{name}.
func (d *Daemon) VolumeRemove(ctx context.Context, name string, force bool) error {
	return errVolumesNotImplemented
}

// VolumesPrune is POST /volumes/prune.
func (d *Daemon) VolumesPrune(ctx context.Context, filters server.Filters) (volume.PruneReport, error) {
	return volume.PruneReport{}, errVolumesNotImplemented
}
