package daemon

// This file stands in for the image and system services
// (internal/daemon/images and internal/daemon/system) until they land:
// thin calls into the image store, enough for berthd to serve load,
// import, list, inspect, tag, rmi, history, save, events and version.
// It goes away when the Daemon embeds the real services.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/moby/moby/api/types/events"
	imagetypes "github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/system"
	"github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/image/interchange"
)

// Version is the engine's version string.
var Version = "0.4.0-dev"

func notYet(what string) error {
	return errdefs.Errorf(errdefs.ErrNotImplemented, "%s: not available in this build of berthd yet", what)
}

func (d *Daemon) ImagePull(ctx context.Context, ref string, opts server.ImagePullOptions, out io.Writer) error {
	return notYet("pull")
}

func (d *Daemon) ImageImport(ctx context.Context, src io.Reader, opts server.ImageImportOptions, out io.Writer) error {
	name := opts.Repo
	if name != "" && opts.Tag != "" {
		name += ":" + opts.Tag
	}
	id, err := d.images.Import(ctx, src, image.WithImportName(name), image.WithChanges(opts.Changes...), image.WithMessage(opts.Message))
	if err != nil {
		return err
	}
	return json.NewEncoder(out).Encode(map[string]string{"status": id.String()})
}

func (d *Daemon) ImagePush(ctx context.Context, ref string, opts server.ImagePushOptions, out io.Writer) error {
	return notYet("push")
}

func (d *Daemon) ImageTag(ctx context.Context, source, repo, tag string) error {
	target := repo
	if tag != "" {
		target += ":" + tag
	}
	_, err := d.images.Tag(ctx, source, target)
	return err
}

func (d *Daemon) ImageDelete(ctx context.Context, ref string, force, noPrune bool) ([]imagetypes.DeleteResponse, error) {
	opts := []image.DeleteOpt{image.WithInUse(d.imageUsed)}
	if force {
		opts = append(opts, image.WithForce())
	}
	return d.images.Delete(ctx, ref, opts...)
}

func (d *Daemon) ImageList(ctx context.Context, opts server.ImageListOptions) ([]imagetypes.Summary, error) {
	return d.images.List(ctx, image.ListOptions{All: opts.All, Filters: opts.Filters})
}

func (d *Daemon) ImageInspect(ctx context.Context, ref string) (imagetypes.InspectResponse, error) {
	return d.images.Inspect(ctx, ref)
}

func (d *Daemon) ImageHistory(ctx context.Context, ref string) ([]imagetypes.HistoryResponseItem, error) {
	return d.images.History(ctx, ref)
}

func (d *Daemon) ImageSave(ctx context.Context, refs []string, out io.Writer) error {
	return interchange.Save(ctx, out, d.images, refs)
}

func (d *Daemon) ImageLoad(ctx context.Context, src io.Reader, quiet bool, out io.Writer) error {
	loaded, err := interchange.Load(ctx, src, d.images)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(out)
	for _, l := range loaded {
		for _, n := range l.Names {
			_ = enc.Encode(map[string]string{"stream": "Loaded image: " + image.FamiliarName(n) + "\n"})
		}
		if len(l.Names) == 0 {
			_ = enc.Encode(map[string]string{"stream": "Loaded image ID: " + l.ID.String() + "\n"})
		}
	}
	return nil
}

func (d *Daemon) ImagesPrune(ctx context.Context, filters server.Filters) (imagetypes.PruneReport, error) {
	return d.images.Prune(ctx, image.PruneOptions{Filters: filters, InUse: d.imageUsed})
}

func (d *Daemon) imageUsed(_ context.Context, id digest.Digest) (bool, error) {
	return len(d.ImageInUse(id.String())) > 0, nil
}

func (d *Daemon) ImageSearch(ctx context.Context, term string, limit int, filters server.Filters, auth *registry.AuthConfig) ([]registry.SearchResult, error) {
	return nil, notYet("search")
}

func (d *Daemon) Info(ctx context.Context) (system.Info, error) {
	var total, running, paused, stopped int
	for _, c := range d.containers.List() {
		c.Lock()
		total++
		switch {
		case c.State.Status == "paused":
			paused++
		case c.State.IsRunning():
			running++
		default:
			stopped++
		}
		c.Unlock()
	}
	host, _ := os.Hostname()
	imgs, _ := d.images.Records(ctx)
	return system.Info{
		ID: "berth", Containers: total, ContainersRunning: running, ContainersPaused: paused, ContainersStopped: stopped,
		Images: len(imgs), Driver: "overlay2", DockerRootDir: d.dataRoot, Name: host, ServerVersion: Version,
		OperatingSystem: "linux", OSType: "linux", Architecture: runtime.GOARCH, NCPU: runtime.NumCPU(),
		MemTotal: int64(hostMemory()), LoggingDriver: d.cfg.LogDriver, CgroupDriver: "cgroupfs",
		DefaultRuntime: d.cfg.DefaultRuntime, LiveRestoreEnabled: d.cfg.LiveRestore,
		SystemTime: time.Now().Format(time.RFC3339Nano),
	}, nil
}

func (d *Daemon) Version(ctx context.Context) (system.VersionResponse, error) {
	return system.VersionResponse{
		Version: Version, APIVersion: "1.50", MinAPIVersion: "1.24", Os: "linux", Arch: runtime.GOARCH,
		GoVersion: runtime.Version(), Components: []system.ComponentVersion{{Name: "Engine", Version: Version}},
	}, nil
}

func (d *Daemon) DiskUsage(ctx context.Context, opts server.DiskUsageOptions) (system.DiskUsage, error) {
	return system.DiskUsage{}, notYet("df")
}

func (d *Daemon) Events(ctx context.Context, opts server.EventsOptions, send func(events.Message) error) error {
	return d.events.Subscribe(ctx, opts.Since, opts.Until, opts.Filters, send)
}

func (d *Daemon) Login(ctx context.Context, auth registry.AuthConfig) (string, string, error) {
	return "", "", fmt.Errorf("login: %w", notYet("login"))
}

var _ server.Backend = (*Daemon)(nil)
