package daemon

import (
	"context"
	"strconv"

	"github.com/moby/moby/api/types/events"
	volumetypes "github.com/moby/moby/api/types/volume"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/daemon/system"
	"github.com/berth-project/berth/internal/volume"
)

// The API's volume endpoints (server.VolumeBackend), over the volume
// store; the store has docker's rules and words (names, options, in use,
// prune candidates), the daemon adds the events.

// VolumeList is GET /volumes. Warnings stay null: the local driver has
// none to give, and docker sends null then.
func (d *Daemon) VolumeList(ctx context.Context, filters server.Filters) (volumetypes.ListResponse, error) {
	vols, err := d.volumes.List(ctx, volume.Filters(filters))
	if err != nil {
		return volumetypes.ListResponse{}, err
	}
	out := volumetypes.ListResponse{Volumes: make([]volumetypes.Volume, 0, len(vols))}
	for _, v := range vols {
		out.Volumes = append(out.Volumes, v.API())
	}
	return out, nil
}

// VolumeInspect is GET /volumes/{name}.
func (d *Daemon) VolumeInspect(ctx context.Context, name string) (volumetypes.Volume, error) {
	v, err := d.volumes.Get(name)
	if err != nil {
		return volumetypes.Volume{}, err
	}
	return v.API(), nil
}

// VolumeCreate is POST /volumes/create. An existing name answers the
// existing volume, as docker (with the store's one exception: other
// driver options than it has are a Conflict).
func (d *Daemon) VolumeCreate(ctx context.Context, req volumetypes.CreateRequest) (volumetypes.Volume, error) {
	v, err := d.createVolume(ctx, volume.CreateOptions{
		Name:       req.Name,
		Driver:     req.Driver,
		DriverOpts: req.DriverOpts,
		Labels:     req.Labels,
	})
	if err != nil {
		return volumetypes.Volume{}, err
	}
	return v.API(), nil
}

// VolumeRemove is DELETE /volumes/{name}: a volume in use is a Conflict
// ("remove NAME: volume is in use - [IDS]"), force or not; force makes a
// missing volume no error.
func (d *Daemon) VolumeRemove(ctx context.Context, name string, force bool) error {
	v, getErr := d.volumes.Get(name)
	if err := d.volumes.Remove(ctx, name, force); err != nil {
		return err
	}
	if getErr == nil {
		d.emitVolume(name, events.ActionDestroy, map[string]string{"driver": v.Driver})
	}
	return nil
}

// VolumesPrune is POST /volumes/prune: unused anonymous volumes, or every
// unused one with all=true (docker 23 and later).
func (d *Daemon) VolumesPrune(ctx context.Context, filters server.Filters) (volumetypes.PruneReport, error) {
	deleted, reclaimed, err := d.volumes.Prune(ctx, volume.Filters(filters))
	if err != nil {
		return volumetypes.PruneReport{}, err
	}
	for _, name := range deleted {
		d.emitVolume(name, events.ActionDestroy, map[string]string{"driver": volume.DriverLocal})
	}
	d.emitVolume("", events.ActionPrune, map[string]string{"reclaimed": strconv.FormatUint(reclaimed, 10)})
	return volumetypes.PruneReport{VolumesDeleted: deleted, SpaceReclaimed: reclaimed}, nil
}

// emitVolume publishes a volume event: the volume's name as the actor,
// with docker's attributes for the action.
func (d *Daemon) emitVolume(name string, action events.Action, attrs map[string]string) {
	d.events.Publish(events.Message{
		Type:   events.VolumeEventType,
		Action: action,
		Actor:  events.Actor{ID: name, Attributes: attrs},
		Scope:  "local",
	})
}

var _ server.VolumeBackend = (*Daemon)(nil)

// VolumesDiskUsage is the volumes part of docker system df (-v): every
// local volume without options with its size and how many containers
// use it; active are the used ones, and what the unused ones hold is
// reclaimable. A size that could not be measured (-1) counts for
// nothing.
func (d *Daemon) VolumesDiskUsage(ctx context.Context) (*volumetypes.DiskUsage, error) {
	vols, err := d.volumes.DiskUsage(ctx)
	if err != nil {
		return nil, err
	}
	du := &volumetypes.DiskUsage{Items: vols, TotalCount: int64(len(vols))}
	for _, v := range vols {
		u := v.UsageData
		if u == nil {
			continue
		}
		if u.Size >= 0 {
			du.TotalSize += u.Size
			if u.RefCount == 0 {
				du.Reclaimable += u.Size
			}
		}
		if u.RefCount > 0 {
			du.ActiveCount++
		}
	}
	return du, nil
}

var _ system.VolumeUsage = (*Daemon)(nil)
