package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/container/spec"
	"github.com/berth-project/berth/internal/errdefs"
	bmount "github.com/berth-project/berth/internal/mount"
	"github.com/berth-project/berth/internal/volume"
)

// mountPlan is a create request's mounts, parsed and checked before
// anything is touched: docker's registerMountPoints, split into its
// checks (planMounts) and its volumes (createMountPoints).
type mountPlan struct {
	from []volumesFrom
	// mounts are -v then --mount, in the request's order: their
	// destinations differ (a duplicate is refused).
	mounts []*container.MountPoint
	// images are the image's (and Config.Volumes') destinations that no
	// -v, --mount or --tmpfs covers, sorted.
	images []string
	// driver is HostConfig.VolumeDriver, for -v and image volumes.
	driver string
}

type volumesFrom struct {
	c    *container.Container
	mode string
}

func duplicateMountPoint(dest string) error {
	return errdefs.Errorf(errdefs.ErrInvalidParameter, "Duplicate mount point: %s", dest)
}

// planMounts parses and checks the request's mounts with docker's rules
// and words: --volumes-from (each container must exist), -v, --mount
// (two at one destination, or one where --tmpfs mounts, is "Duplicate
// mount point"; docker lets a --mount and a --tmpfs share one, which the
// spec would refuse at start), and Config.Volumes (the image's VOLUMEs
// merged in).
func (d *Daemon) planMounts(cfg *containertypes.Config, host *containertypes.HostConfig) (*mountPlan, error) {
	p := &mountPlan{driver: host.VolumeDriver}
	for _, s := range host.VolumesFrom {
		name, mode, err := spec.ParseVolumesFrom(s)
		if err != nil {
			return nil, err
		}
		c, err := d.containers.Get(name)
		if err != nil {
			// docker answers 400 here, with the lookup's words.
			return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "%v", err)
		}
		p.from = append(p.from, volumesFrom{c: c, mode: mode})
	}
	tmpfs := map[string]bool{}
	for dest := range host.Tmpfs {
		tmpfs[path.Clean(dest)] = true
	}
	seen := map[string]bool{}
	for _, b := range host.Binds {
		mp, err := spec.ParseBind(b)
		if err != nil {
			return nil, err
		}
		if seen[mp.Destination] || tmpfs[mp.Destination] {
			return nil, duplicateMountPoint(mp.Destination)
		}
		if mp.Type == mount.TypeVolume && mp.Driver == "" {
			mp.Driver = host.VolumeDriver
		}
		seen[mp.Destination] = true
		p.mounts = append(p.mounts, mp)
	}
	for _, m := range host.Mounts {
		mp, err := spec.ParseMount(m)
		if err != nil {
			return nil, err
		}
		if seen[mp.Destination] || tmpfs[mp.Destination] {
			return nil, duplicateMountPoint(m.Target)
		}
		seen[mp.Destination] = true
		p.mounts = append(p.mounts, mp)
	}
	for v := range cfg.Volumes {
		// Checked as an anonymous --mount would be: an absolute path,
		// not "/".
		mp, err := spec.ParseMount(mount.Mount{Type: mount.TypeVolume, Target: v})
		if err != nil {
			return nil, err
		}
		if !seen[mp.Destination] && !tmpfs[mp.Destination] && !slices.Contains(p.images, mp.Destination) {
			p.images = append(p.images, mp.Destination)
		}
	}
	slices.Sort(p.images)
	return p, nil
}

// createMountPoints makes container id's mount points from the plan, in
// docker's order: what --volumes-from brings (a reference taken on each
// volume), then -v and --mount (volumes created, or found, with the
// container as a reference; each replaces what --volumes-from put at its
// destination), then anonymous volumes for the image's VOLUMEs that
// nothing covers. New volumes are then seeded with the image's content
// at their destination (copy-up), from the container's snapshot key. On
// error nothing is left: references are dropped and the anonymous
// volumes made here removed.
func (d *Daemon) createMountPoints(ctx context.Context, id, key string, p *mountPlan) (_ map[string]*container.MountPoint, retErr error) {
	mps := map[string]*container.MountPoint{}
	held := map[string]*container.MountPoint{} // every volume referenced, by name
	defer func() {
		if retErr != nil {
			d.releaseMountPoints(context.WithoutCancel(ctx), id, held, true)
		}
	}()
	for _, f := range p.from {
		f.c.Lock()
		theirs := f.c.SortedMountPoints()
		f.c.Unlock()
		for _, m := range theirs {
			cp := &container.MountPoint{
				Type:                   m.Type,
				Name:                   m.Name,
				Source:                 m.Source,
				Destination:            m.Destination,
				Driver:                 m.Driver,
				RW:                     m.RW && spec.ReadWrite(f.mode),
				Propagation:            m.Propagation,
				Spec:                   m.Spec,
				SkipMountpointCreation: m.SkipMountpointCreation,
			}
			if cp.IsVolume() {
				if err := d.volumes.Acquire(cp.Name, id); err != nil {
					return nil, err
				}
				held[cp.Name] = cp
			}
			mps[cp.Destination] = cp
		}
	}
	for _, mp := range p.mounts {
		mp = mp.Clone()
		if mp.Type == mount.TypeVolume {
			o := volume.CreateOptions{Name: mp.Name, Driver: mp.Driver, Reference: id}
			if vo := mp.Spec.VolumeOptions; vo != nil {
				o.Labels = vo.Labels
				if vo.DriverConfig != nil {
					o.DriverOpts = vo.DriverConfig.Options
				}
			}
			v, err := d.createVolume(ctx, o)
			if err != nil {
				return nil, err
			}
			mp.Name, mp.Driver, mp.Source = v.Name, v.Driver, v.Mountpoint
			held[v.Name] = mp
		}
		mps[mp.Destination] = mp
	}
	for _, dest := range p.images {
		if mps[dest] != nil {
			continue // --volumes-from put one there
		}
		v, err := d.createVolume(ctx, volume.CreateOptions{Driver: p.driver, Reference: id})
		if err != nil {
			return nil, err
		}
		mp := &container.MountPoint{
			Type: mount.TypeVolume, Name: v.Name, Source: v.Mountpoint, Destination: dest, Driver: v.Driver,
			RW: true, CopyData: true, Spec: mount.Mount{Type: mount.TypeVolume, Target: dest},
		}
		held[v.Name] = mp
		mps[dest] = mp
	}
	// A volume another container lent whose destination a -v took over
	// is not this container's.
	unused := map[string]*container.MountPoint{}
	for name, m := range held {
		if !slices.ContainsFunc(mountPointList(mps), func(x *container.MountPoint) bool { return x.IsVolume() && x.Name == name }) {
			unused[name] = m
		}
	}
	d.releaseMountPoints(ctx, id, unused, true)
	for name := range unused {
		delete(held, name)
	}
	if err := d.copyUp(ctx, id, key, mps, p.images); err != nil {
		return nil, err
	}
	return mps, nil
}

func mountPointList(mps map[string]*container.MountPoint) []*container.MountPoint {
	out := make([]*container.MountPoint, 0, len(mps))
	for _, m := range mps {
		out = append(out, m)
	}
	container.SortMountPoints(out)
	return out
}

// createVolume creates (or finds) a volume; a new one is announced with
// docker's create event (a volume found is not).
func (d *Daemon) createVolume(ctx context.Context, o volume.CreateOptions) (volume.Volume, error) {
	existed := false
	if o.Name != "" {
		_, err := d.volumes.Get(o.Name)
		existed = err == nil
	}
	v, err := d.volumes.Create(ctx, o)
	if err != nil {
		return volume.Volume{}, err
	}
	if !existed {
		d.emitVolume(v.Name, events.ActionCreate, map[string]string{"driver": v.Driver})
	}
	return v, nil
}

// copyUp seeds the container's volumes with what the image has at their
// destinations, as docker does at create: only volumes (never binds),
// not with nocopy, not with a subpath, not those from --volumes-from,
// and only into an empty volume (volume.CopyUp checks), with the
// container's filesystem mounted for the copy. An image VOLUME where the
// image has a file is refused, with docker's words.
func (d *Daemon) copyUp(ctx context.Context, id, key string, mps map[string]*container.MountPoint, images []string) error {
	var todo []*container.MountPoint
	for _, m := range mountPointList(mps) {
		if m.IsVolume() && m.CopyData && subpath(m) == "" {
			todo = append(todo, m)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	mounts, err := d.snapshots.Mounts(ctx, key)
	if err != nil {
		return fmt.Errorf("container filesystem: %w", err)
	}
	return bmount.WithTempMount(ctx, mounts, func(rootfs string) error {
		for _, m := range todo {
			if slices.Contains(images, m.Destination) {
				if err := checkNotFile(rootfs, m.Destination); err != nil {
					return err
				}
			}
			p, err := d.volumes.Mount(ctx, m.Name, id)
			if err != nil {
				return err
			}
			err = volume.CopyUp(ctx, rootfs, m.Destination, p)
			if uerr := d.volumes.Unmount(context.WithoutCancel(ctx), m.Name, id); uerr != nil && err == nil {
				err = uerr
			}
			if err != nil {
				return fmt.Errorf("volume %s at %s: %w", m.Name, m.Destination, err)
			}
		}
		return nil
	})
}

// checkNotFile refuses a volume over a path the image has a non-directory
// at (resolved in the root, as the container would see it).
func checkNotFile(rootfs, dest string) error {
	root, err := os.OpenFile(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer root.Close()
	h, err := pathrs.OpenatInRoot(root, dest)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer h.Close()
	fi, err := h.Stat()
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("cannot mount volume over existing file, file exists %s", dest)
	}
	return nil
}

// subpath is a volume mount's subpath (--mount volume-subpath=), or "".
func subpath(m *container.MountPoint) string {
	if o := m.Spec.VolumeOptions; o != nil {
		return o.Subpath
	}
	return ""
}

// releaseMountPoints drops container id's reference to each volume in
// mps and, with removeAnonymous, removes the anonymous ones (rm -v; an
// undone create): one that another container still uses (--volumes-from)
// stays, as with docker. Errors are logged: the container is gone or was
// never made.
func (d *Daemon) releaseMountPoints(ctx context.Context, id string, mps map[string]*container.MountPoint, removeAnonymous bool) {
	for _, m := range mountPointList(mps) {
		if !m.IsVolume() {
			continue
		}
		if err := d.volumes.Release(m.Name, id); err != nil {
			d.log.Warn("release volume", "container", id, "volume", m.Name, "err", err)
		}
		if !removeAnonymous || !m.IsAnonymous() {
			continue
		}
		switch err := d.volumes.Remove(ctx, m.Name, false); {
		case err == nil:
			d.emitVolume(m.Name, events.ActionDestroy, map[string]string{"driver": m.Driver})
		case errdefs.IsConflict(err), errdefs.IsNotFound(err):
		default:
			d.log.Warn("remove anonymous volume", "container", id, "volume", m.Name, "err", err)
		}
	}
}
