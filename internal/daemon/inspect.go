package daemon

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/storage"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/logs"
)

// ContainerInspect is GET /containers/{id}/json.
func (d *Daemon) ContainerInspect(ctx context.Context, name string, size bool) (containertypes.InspectResponse, error) {
	c, _, err := d.get(name)
	if err != nil {
		return containertypes.InspectResponse{}, err
	}
	c.Lock()
	resp := containertypes.InspectResponse{
		ID:                      c.ID,
		Created:                 c.Created.UTC().Format(time.RFC3339Nano),
		Path:                    c.Path,
		Args:                    nonNilStrings(c.Args),
		State:                   c.State.APIState(),
		Image:                   c.Image.String(),
		ResolvConfPath:          c.ResolvConfPath,
		HostnamePath:            c.HostnamePath,
		HostsPath:               c.HostsPath,
		LogPath:                 c.LogPath,
		Name:                    c.Name,
		RestartCount:            c.RestartCount,
		Driver:                  c.Driver,
		Platform:                c.Platform,
		ExecIDs:                 nil,
		Mounts:                  mountPoints(c),
		NetworkSettings:         networkSettings(c),
		ImageManifestDescriptor: c.ImageManifest,
	}
	if c.State.StartedAt.IsZero() && c.State.Error == "" {
		// docker names these files when a start is first tried (one
		// that failed left its error); Berth writes them at create, but
		// shows them as docker does.
		resp.ResolvConfPath, resp.HostnamePath, resp.HostsPath, resp.LogPath = "", "", "", ""
	}
	if c.HostConfig.LogConfig.Type == logs.Local {
		// docker keeps the local driver's files out of the API: their
		// layout is not a promise.
		resp.LogPath = ""
	}
	cfg, host := *c.Config, *c.HostConfig
	resp.Config = &cfg
	resp.HostConfig = &host
	key := c.SnapshotKey
	id := c.ID
	c.Unlock()
	resp.ExecIDs = d.execIDs(id)
	resp.GraphDriver = d.graphDriver(ctx, key, id)
	if size {
		rw, rootfs := d.sizes(ctx, c)
		resp.SizeRw, resp.SizeRootFs = &rw, &rootfs
	}
	return resp, nil
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// graphDriver is docker's overlay2 GraphDriver data, from the snapshot's
// mounts: LowerDir, UpperDir, WorkDir, and MergedDir where the daemon
// mounts the rootfs.
func (d *Daemon) graphDriver(ctx context.Context, key, id string) *storage.DriverData {
	data := map[string]string{"MergedDir": d.rootfsDir(id)}
	if mounts, err := d.snapshots.Mounts(ctx, key); err == nil && len(mounts) > 0 {
		m := mounts[0]
		if m.Type == "overlay" {
			for _, o := range m.Options {
				k, v, _ := strings.Cut(o, "=")
				switch k {
				case "lowerdir":
					data["LowerDir"] = v
				case "upperdir":
					data["UpperDir"] = v
				case "workdir":
					data["WorkDir"] = v
				}
			}
		} else {
			data["UpperDir"] = m.Source
		}
	}
	return &storage.DriverData{Name: "overlay2", Data: data}
}

// sizes are docker's SizeRw (what the container wrote: writableSize) and
// SizeRootFs (that plus its image's layers).
func (d *Daemon) sizes(ctx context.Context, c *container.Container) (rw, rootfs int64) {
	c.Lock()
	key := c.SnapshotKey
	c.Unlock()
	rw = d.writableSize(ctx, key)
	rootfs = rw
	if info, err := d.snapshots.Stat(ctx, key); err == nil {
		for parent := info.Parent; parent != ""; {
			if u, err := d.snapshots.Usage(ctx, parent); err == nil {
				rootfs += u.Size
			}
			pi, err := d.snapshots.Stat(ctx, parent)
			if err != nil {
				break
			}
			parent = pi.Parent
		}
	}
	return rw, rootfs
}

// writableSize is what the container wrote as docker counts it: the
// length of each file (not directory) in its writable layer, a file with
// several links once. The snapshotter's Usage counts blocks, as du does,
// directories included, which would make a fresh container 4 KiB where
// docker says 0 B.
func (d *Daemon) writableSize(ctx context.Context, key string) int64 {
	mounts, err := d.snapshots.Mounts(ctx, key)
	if err != nil || len(mounts) == 0 {
		return 0
	}
	dir := mounts[0].Source
	if mounts[0].Type == "overlay" {
		dir = ""
		for _, o := range mounts[0].Options {
			if v, ok := strings.CutPrefix(o, "upperdir="); ok {
				dir = v
			}
		}
	}
	if dir == "" {
		return 0
	}
	size, err := filesSize(ctx, dir)
	if err != nil {
		d.log.Debug("container size", "snapshot", key, "err", err)
	}
	return size
}

// filesSize adds up the lengths of the files under dir, each inode once;
// directories count nothing. A file that goes away during the walk (the
// container is running) is skipped.
func filesSize(ctx context.Context, dir string) (int64, error) {
	type inode struct{ dev, ino uint64 }
	seen := map[inode]bool{}
	var total int64
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.IsDir() {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			k := inode{uint64(st.Dev), st.Ino}
			if seen[k] {
				return nil
			}
			seen[k] = true
		}
		total += fi.Size()
		return nil
	})
	return total, err
}

// mountPoints lists the container's mount points as inspect and ps show
// them; a record from before mount points were kept shows its binds. The
// caller holds c's lock.
func mountPoints(c *container.Container) []containertypes.MountPoint {
	if c.MountPoints != nil {
		return c.APIMounts()
	}
	return legacyAPIMounts(c.HostConfig)
}

// legacyAPIMounts are the binds and mounts of a record from before mount
// points were kept, from its HostConfig.
func legacyAPIMounts(host *containertypes.HostConfig) []containertypes.MountPoint {
	out := []containertypes.MountPoint{}
	for _, b := range host.Binds {
		parts := strings.Split(b, ":")
		if len(parts) < 2 {
			continue
		}
		mp := containertypes.MountPoint{Type: mount.TypeBind, Source: parts[0], Destination: parts[1], RW: true, Propagation: mount.PropagationRPrivate}
		if len(parts) > 2 {
			mp.Mode = parts[2]
			opts := strings.Split(parts[2], ",")
			if slices.Contains(opts, "ro") {
				mp.RW = false
			}
		}
		out = append(out, mp)
	}
	for _, m := range host.Mounts {
		mp := containertypes.MountPoint{Type: m.Type, Source: m.Source, Destination: m.Target, RW: !m.ReadOnly}
		if m.BindOptions != nil {
			mp.Propagation = m.BindOptions.Propagation
		}
		out = append(out, mp)
	}
	return out
}
