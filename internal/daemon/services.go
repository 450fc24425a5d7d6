package daemon

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"

	containertypes "github.com/moby/moby/api/types/container"
	"github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/daemon/images"
	"github.com/berth-project/berth/internal/daemon/system"
	"github.com/berth-project/berth/internal/events"
	"github.com/berth-project/berth/internal/volume"
)

// openServices wires the engine's parts, explicitly and in order: the
// event bus, the image service (content, snapshots, images, registry
// client), the container store, the volume store, and the system service
// over all of them.
func (d *Daemon) openServices(ctx context.Context) error {
	d.events = events.NewBus()
	is, err := images.New(ctx, images.Options{
		Root:               d.dataRoot,
		Events:             d.events,
		InsecureRegistries: d.cfg.InsecureRegistries,
		Mirrors:            d.cfg.RegistryMirrors,
		SnapshotterName:    d.cfg.Snapshotter(),
		ImageInUse:         d.ImageInUse,
		ContainerRunning:   d.containerRunning,
		SettleRemovals:     d.SettleRemovals,
		Logger:             d.log,
	})
	if err != nil {
		return err
	}
	d.imageService = is
	d.images = is.Store()
	d.snapshots = d.images.Snapshotter()
	d.snapshotter = "overlay"
	if is.Driver() == images.DriverNative {
		d.snapshotter = "native"
	}
	d.containers, err = container.Open(filepath.Join(d.dataRoot, "containers"))
	if err != nil {
		return fmt.Errorf("container store: %w", err)
	}
	d.volumes, err = volume.Open(ctx, filepath.Join(d.dataRoot, "volumes"), volume.WithLogger(d.log))
	if err != nil {
		return fmt.Errorf("volume store: %w", err)
	}
	runtimes := map[string]string{}
	for name, rt := range d.runtimes {
		runtimes[name] = rt.Path
	}
	d.systemService = system.New(system.Options{
		Version:            Version,
		APIVersion:         "1.50",
		MinAPIVersion:      "1.24",
		DataRoot:           d.dataRoot,
		Events:             d.events,
		Images:             is,
		Containers:         d,
		Volumes:            d,
		Runtimes:           runtimes,
		DefaultRuntime:     d.cfg.DefaultRuntime,
		LoggingDriver:      d.cfg.LogDriver,
		LiveRestore:        d.cfg.LiveRestore,
		Debug:              d.cfg.LogLevel == "debug",
		InsecureRegistries: d.cfg.InsecureRegistries,
		Mirrors:            d.cfg.RegistryMirrors,
		Logger:             d.log,
	})
	return nil
}

// Version is the engine's version string.
var Version = "0.4.0-dev"

// ImageInUse lists the containers created from image id: the image
// service refuses to delete such an image without force.
func (d *Daemon) ImageInUse(id digest.Digest) []string {
	var out []string
	for _, c := range d.containers.List() {
		c.Lock()
		if c.Image == id {
			out = append(out, c.ID)
		}
		c.Unlock()
	}
	return out
}

func (d *Daemon) containerRunning(id string) bool {
	c, err := d.containers.Get(id)
	if err != nil {
		return false
	}
	c.Lock()
	defer c.Unlock()
	return c.State.IsRunning()
}

// Counts is docker info's container counts.
func (d *Daemon) Counts() (total, running, paused, stopped int) {
	for _, c := range d.containers.List() {
		c.Lock()
		total++
		switch {
		case c.State.Status == container.Paused:
			paused++
		case c.State.IsRunning():
			running++
		default:
			stopped++
		}
		c.Unlock()
	}
	return total, running, paused, stopped
}

// ContainersDiskUsage is the containers part of docker system df: each
// container with its sizes, and what removing the stopped ones frees.
func (d *Daemon) ContainersDiskUsage(ctx context.Context) (*containertypes.DiskUsage, error) {
	du := &containertypes.DiskUsage{Items: []containertypes.Summary{}}
	for _, c := range d.containers.List() {
		c.Lock()
		s := summary(c)
		running := c.State.IsRunning()
		c.Unlock()
		s.SizeRw, s.SizeRootFs = d.sizes(ctx, c)
		du.Items = append(du.Items, s)
		du.TotalCount++
		du.TotalSize += s.SizeRw
		if running {
			du.ActiveCount++
		} else {
			du.Reclaimable += s.SizeRw
		}
	}
	slices.SortFunc(du.Items, func(a, b containertypes.Summary) int { return int(b.Created - a.Created) })
	return du, nil
}

var _ system.ContainerCounter = (*Daemon)(nil)
