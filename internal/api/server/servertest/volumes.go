package servertest

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/volume"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
)

// anonymousLabel marks the volumes docker creates for `-v /path` and an
// image's VOLUME: prune removes only those unless all=true (API 1.42 on).
const anonymousLabel = "com.docker.volume.anonymous"

// fakeVolume is an in-memory volume: no directory, a made-up size.
type fakeVolume struct {
	volume.Volume
	size int64
}

// AddVolume creates a volume directly (test setup) with a size for
// system df, and returns its name.
func (f *Fake) AddVolume(name string, labels map[string]string, size int64) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.createVolumeLocked(volume.CreateRequest{Name: name, Driver: "local", Labels: labels})
	v.size = size
	return v.Name
}

// createVolumeLocked creates (or returns the existing) volume. f.mu must
// be held.
func (f *Fake) createVolumeLocked(req volume.CreateRequest) *fakeVolume {
	if f.volumes == nil {
		f.volumes = map[string]*fakeVolume{}
	}
	if req.Name == "" {
		req.Name = newID()
	}
	if v, ok := f.volumes[req.Name]; ok {
		return v
	}
	if req.Labels == nil {
		req.Labels = map[string]string{}
	}
	if req.DriverOpts == nil {
		req.DriverOpts = map[string]string{}
	}
	v := &fakeVolume{Volume: volume.Volume{
		Name: req.Name, Driver: req.Driver, Scope: "local", Labels: req.Labels, Options: req.DriverOpts,
		Mountpoint: "/var/lib/berth/volumes/" + req.Name + "/_data",
		CreatedAt:  time.Now().UTC().Format(time.RFC3339),
	}}
	f.volumes[v.Name] = v
	f.publish(events.VolumeEventType, events.ActionCreate, v.Name, map[string]string{"driver": v.Driver})
	return v
}

// volumeUsers returns the IDs of the containers that use volume name, by
// their binds and mounts. f.mu must be held.
func (f *Fake) volumeUsers(name string) []string {
	var ids []string
	for _, c := range f.containers {
		if slices.Contains(containerVolumes(c.host), name) {
			ids = append(ids, c.id)
		}
	}
	slices.Sort(ids)
	return ids
}

// containerVolumes lists the volume names a host config refers to: binds
// whose source is not a path, and mounts of type volume.
func containerVolumes(h *container.HostConfig) []string {
	if h == nil {
		return nil
	}
	var names []string
	for _, b := range h.Binds {
		src, _, ok := strings.Cut(b, ":")
		if ok && src != "" && !strings.HasPrefix(src, "/") {
			names = append(names, src)
		}
	}
	for _, m := range h.Mounts {
		if m.Type == mount.TypeVolume && m.Source != "" {
			names = append(names, m.Source)
		}
	}
	return names
}

func (f *Fake) findVolume(name string) (*fakeVolume, error) {
	if v, ok := f.volumes[name]; ok {
		return v, nil
	}
	return nil, errdefs.Errorf(errdefs.ErrNotFound, "get %s: no such volume", name)
}

// VolumeList lists volumes; it understands the filters name (substring),
// label (key or key=value), dangling and driver.
func (f *Fake) VolumeList(ctx context.Context, filters server.Filters) (volume.ListResponse, error) {
	if err := f.enter("VolumeList", "", filters); err != nil {
		return volume.ListResponse{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := volume.ListResponse{Volumes: []volume.Volume{}}
	for _, v := range f.volumes {
		if !f.volumeMatches(v, filters) {
			continue
		}
		resp.Volumes = append(resp.Volumes, v.Volume)
	}
	slices.SortFunc(resp.Volumes, func(a, b volume.Volume) int { return strings.Compare(a.Name, b.Name) })
	return resp, nil
}

// volumeMatches applies list and prune filters. f.mu must be held.
func (f *Fake) volumeMatches(v *fakeVolume, filters server.Filters) bool {
	if names := filters["name"]; len(names) > 0 && !slices.ContainsFunc(names, func(n string) bool { return strings.Contains(v.Name, n) }) {
		return false
	}
	if drivers := filters["driver"]; len(drivers) > 0 && !slices.Contains(drivers, v.Driver) {
		return false
	}
	for _, l := range filters["label"] {
		if !hasLabel(v.Labels, l) {
			return false
		}
	}
	for _, l := range filters["label!"] {
		if hasLabel(v.Labels, l) {
			return false
		}
	}
	for _, d := range filters["dangling"] {
		dangling := d == "true" || d == "1"
		if dangling != (len(f.volumeUsers(v.Name)) == 0) {
			return false
		}
	}
	return true
}

func hasLabel(labels map[string]string, filter string) bool {
	k, want, withValue := strings.Cut(filter, "=")
	got, ok := labels[k]
	return ok && (!withValue || got == want)
}

// VolumeInspect returns a volume.
func (f *Fake) VolumeInspect(ctx context.Context, name string) (volume.Volume, error) {
	if err := f.enter("VolumeInspect", name, nil); err != nil {
		return volume.Volume{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	v, err := f.findVolume(name)
	if err != nil {
		return volume.Volume{}, err
	}
	return v.Volume, nil
}

// VolumeCreate creates a volume with the local driver (any other driver
// is not found, as an unknown plugin); an existing name is returned as is.
func (f *Fake) VolumeCreate(ctx context.Context, req volume.CreateRequest) (volume.Volume, error) {
	if err := f.enter("VolumeCreate", req.Name, req); err != nil {
		return volume.Volume{}, err
	}
	if req.Driver != "local" {
		return volume.Volume{}, errdefs.Errorf(errdefs.ErrNotFound, "error looking up volume plugin %s: plugin %q not found", req.Driver, req.Driver)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.createVolumeLocked(req).Volume, nil
}

// VolumeRemove removes an unused volume; force ignores a missing one.
func (f *Fake) VolumeRemove(ctx context.Context, name string, force bool) error {
	if err := f.enter("VolumeRemove", name, force); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	v, err := f.findVolume(name)
	if err != nil {
		if force {
			return nil
		}
		return err
	}
	if users := f.volumeUsers(name); len(users) > 0 {
		return errdefs.Errorf(errdefs.ErrConflict, "remove %s: volume is in use - [%s]", name, strings.Join(users, ", "))
	}
	delete(f.volumes, v.Name)
	f.publish(events.VolumeEventType, events.ActionDestroy, v.Name, map[string]string{"driver": v.Driver})
	return nil
}

// VolumesPrune removes unused volumes selected by label filters: only
// anonymous ones unless the filter all is true.
func (f *Fake) VolumesPrune(ctx context.Context, filters server.Filters) (volume.PruneReport, error) {
	if err := f.enter("VolumesPrune", "", filters); err != nil {
		return volume.PruneReport{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	all := false
	for _, a := range filters["all"] {
		all, _ = strconv.ParseBool(a)
	}
	var rep volume.PruneReport
	for name, v := range f.volumes {
		if len(f.volumeUsers(name)) > 0 || !f.volumeMatches(v, server.Filters{"label": filters["label"], "label!": filters["label!"]}) {
			continue
		}
		if _, anon := v.Labels[anonymousLabel]; !anon && !all {
			continue
		}
		delete(f.volumes, name)
		rep.VolumesDeleted = append(rep.VolumesDeleted, name)
		rep.SpaceReclaimed += uint64(v.size)
		f.publish(events.VolumeEventType, events.ActionDestroy, name, map[string]string{"driver": v.Driver})
	}
	slices.Sort(rep.VolumesDeleted)
	return rep, nil
}

// volumeUsage is system df's volume section. f.mu must be held.
func (f *Fake) volumeUsage() *volume.DiskUsage {
	du := &volume.DiskUsage{}
	for _, v := range f.volumes {
		item := v.Volume
		item.UsageData = &volume.UsageData{Size: v.size, RefCount: int64(len(f.volumeUsers(v.Name)))}
		du.Items = append(du.Items, item)
		du.TotalCount++
		du.TotalSize += v.size
		if item.UsageData.RefCount > 0 {
			du.ActiveCount++
		} else {
			du.Reclaimable += v.size
		}
	}
	slices.SortFunc(du.Items, func(a, b volume.Volume) int { return strings.Compare(a.Name, b.Name) })
	return du
}
