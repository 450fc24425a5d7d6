package daemon

import (
	"context"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/moby/moby/api/types/mount"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/container/spec"
	"github.com/berth-project/berth/internal/errdefs"
)

// fsMounts are the container's mount points as docker cp sees them:
// volumes and binds (not tmpfs, which a container that does not run has
// not got), parents first. The caller holds c's lock.
func fsMounts(c *container.Container) []*container.MountPoint {
	mps := c.SortedMountPoints()
	if len(mps) == 0 {
		// A record from before mount points were kept: its binds, as
		// the spec reads them.
		mps = legacyMountPoints(c)
	}
	out := mps[:0]
	for _, m := range mps {
		if m.Type == mount.TypeBind || m.Type == mount.TypeVolume {
			out = append(out, m)
		}
	}
	return out
}

// legacyMountPoints parses HostConfig's binds and mounts for a record
// without MountPoints. What does not parse is left out: the container
// could not have started with it either.
func legacyMountPoints(c *container.Container) []*container.MountPoint {
	if c.HostConfig == nil {
		return nil
	}
	var out []*container.MountPoint
	for _, b := range c.HostConfig.Binds {
		if mp, err := spec.ParseBind(b); err == nil {
			out = append(out, mp)
		}
	}
	for _, m := range c.HostConfig.Mounts {
		if mp, err := spec.ParseMount(m); err == nil {
			out = append(out, mp)
		}
	}
	container.SortMountPoints(out)
	return out
}

// checkWritable is docker's check before a copy into the container
// (daemon/archive.go, checkIfPathIsInAVolume): a destination under a
// read-only volume or bind is refused, and one on the rootfs of a
// --read-only container. resolved is the extraction point in the
// container, every symlink resolved. The deepest mount point holding it
// decides (docker takes the first it finds in a map).
func checkWritable(mps []*container.MountPoint, readonlyRootfs bool) func(resolved string) error {
	return func(resolved string) error {
		var in *container.MountPoint
		for _, m := range mps {
			if under(resolved, m.Destination) && (in == nil || len(m.Destination) > len(in.Destination)) {
				in = m
			}
		}
		switch {
		case in != nil && !in.RW:
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "mounted volume is marked read-only")
		case in == nil && readonlyRootfs:
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "container rootfs is marked read-only")
		}
		return nil
	}
}

// under says p is dir or below it (both clean absolute paths).
func under(p, dir string) bool {
	p, dir = path.Clean("/"+p), path.Clean("/"+dir)
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// hostBind is a mount of a host path in the private view of a container
// that does not run.
type hostBind struct {
	source, dest string
	ro           bool
}

// networkFileBinds are the container's /etc/resolv.conf, /etc/hostname and
// /etc/hosts on the host, read under its lock.
func networkFileBinds(c *container.Container) []hostBind {
	ro := c.HostConfig != nil && c.HostConfig.ReadonlyRootfs
	var out []hostBind
	for _, f := range []struct{ src, dest string }{
		{c.ResolvConfPath, "/etc/resolv.conf"},
		{c.HostnamePath, "/etc/hostname"},
		{c.HostsPath, "/etc/hosts"},
	} {
		if f.src != "" {
			out = append(out, hostBind{source: f.src, dest: f.dest, ro: ro})
		}
	}
	return out
}

// viewBinds resolves the mount points of container id to host paths for
// a private view: binds as they are, volumes through the volume store
// (which mounts the ones backed by a device, counted for the container
// until release). Then files, the container's network files, as
// dockerd's setupMounts adds them, unless a mount of the container's own
// is there.
func (d *Daemon) viewBinds(ctx context.Context, id string, mps []*container.MountPoint, files []hostBind) (_ []hostBind, release func(), err error) {
	var mounted []string
	release = func() {
		for _, name := range mounted {
			if uerr := d.volumes.Unmount(context.WithoutCancel(ctx), name, id); uerr != nil {
				d.log.Warn("cp: unmount volume", "container", id, "volume", name, "err", uerr)
			}
		}
	}
	defer func() {
		if err != nil {
			release()
		}
	}()
	var out []hostBind
	taken := map[string]bool{}
	for _, m := range mps {
		src := m.Source
		if m.IsVolume() {
			if d.volumes == nil {
				return nil, nil, errdefs.Errorf(errdefs.ErrUnavailable, "volume %s: no volume store", m.Name)
			}
			src, err = d.volumes.Mount(ctx, m.Name, id)
			if err != nil {
				return nil, nil, err
			}
			mounted = append(mounted, m.Name)
			if o := m.Spec.VolumeOptions; o != nil && o.Subpath != "" {
				src, err = volumeSubpath(src, o.Subpath)
				if err != nil {
					return nil, nil, err
				}
			}
		}
		if src == "" {
			continue
		}
		taken[path.Clean(m.Destination)] = true
		out = append(out, hostBind{source: src, dest: m.Destination, ro: !m.RW})
	}
	for _, f := range files {
		if !taken[f.dest] {
			out = append(out, f)
		}
	}
	return out, release, nil
}

// volumeSubpath is the directory a volume-subpath mount binds: subpath
// resolved inside the volume's directory, never out of it.
func volumeSubpath(volDir, subpath string) (string, error) {
	if !filepath.IsLocal(subpath) {
		return "", errdefs.Errorf(errdefs.ErrInvalidParameter, "subpath must be a relative path within the volume")
	}
	p, err := securejoin.SecureJoin(volDir, subpath)
	if err != nil {
		return "", errdefs.Errorf(errdefs.ErrInvalidParameter, "volume subpath %s: %w", subpath, err)
	}
	return p, nil
}
