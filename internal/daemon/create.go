package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/container/spec"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/logs"
	"github.com/berth-project/berth/internal/snapshot"
)

// ContainerCreate is POST /containers/create: validate, resolve the image
// (unpacking it if needed), merge its config, prepare the container's
// writable snapshot and its mount points (volumes created and referenced,
// seeded from the image: volumes_create.go), store the record and write
// its files. Every step is
// undone if a later one fails, so a refused or failed create leaves
// nothing behind.
func (d *Daemon) ContainerCreate(ctx context.Context, req server.ContainerCreateRequest) (containertypes.CreateResponse, error) {
	if resp, ok, err := d.claimNext(ctx, req); ok {
		return resp, err
	}
	c, warnings, repeatable, err := d.create(ctx, req, false)
	if err != nil {
		return containertypes.CreateResponse{}, err
	}
	r := newRun(c)
	if repeatable {
		r.nextReq = &req
	}
	d.mu.Lock()
	d.runs[c.ID] = r
	d.mu.Unlock()
	c.Lock()
	if c.HostConfig.AutoRemove {
		d.prestart(c, r, false)
	}
	d.emit(c, "create", nil)
	c.Unlock()
	return containertypes.CreateResponse{ID: c.ID, Warnings: warnings}, nil
}

// create makes a container from req: checks, image, snapshot, mount
// points, files and, unless ahead, its record. Ahead, for a container
// prepared before its create (next.go), it writes no record and reserves
// no name. repeatable says whether a container like it may be prepared
// ahead for the same request (nextFits).
func (d *Daemon) create(ctx context.Context, req server.ContainerCreateRequest, ahead bool) (_ *container.Container, warnings []string, repeatable bool, retErr error) {
	fail := func(err error) (*container.Container, []string, bool, error) { return nil, nil, false, err }
	cfg, host, err := cloneConfigs(req.Config, req.Host)
	if err != nil {
		return fail(err)
	}
	if err := spec.CheckCreate(cfg, host); err != nil {
		return fail(err)
	}
	if cfg.Image == "" {
		return fail(errdefs.Errorf(errdefs.ErrInvalidParameter, "no image specified"))
	}
	if req.Name != "" {
		if _, err := container.NormalizeName(req.Name); err != nil {
			return fail(err)
		}
	}
	warnings, err = d.validateCreate(cfg, host)
	if err != nil {
		return fail(err)
	}
	// Stored, so inspect shows them as docker's does.
	spec.FillHostDefaults(host)
	netSettings, netWarnings, err := d.createNetworking(cfg, host, req.Networking)
	if err != nil {
		return fail(err)
	}
	warnings = append(warnings, netWarnings...)

	img, err := d.images.Get(ctx, cfg.Image)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return fail(errdefs.Errorf(errdefs.ErrNotFound, "No such image: %s", image.NotFoundName(cfg.Image)))
		}
		return fail(err)
	}
	res, err := d.images.Resolve(ctx, img)
	if err != nil {
		return fail(err)
	}
	if req.Platform != "" {
		want, err := image.ParsePlatform(req.Platform)
		if err != nil {
			return fail(err)
		}
		have := image.NormalizePlatform(image.Platform{OS: res.Config.OS, Architecture: res.Config.Architecture, Variant: res.Config.Variant})
		if !want.Matches(have) {
			return fail(errdefs.Errorf(errdefs.ErrNotFound,
				"image with reference %s was found but its platform (%s) does not match the specified platform (%s)", cfg.Image, have, want))
		}
	}
	if err := mergeImage(cfg, res.Config.Config); err != nil {
		return fail(err)
	}
	mounts, err := d.planMounts(cfg, host)
	if err != nil {
		return fail(err)
	}

	id := container.NewID()
	if cfg.Hostname == "" {
		if host.NetworkMode.IsHost() {
			cfg.Hostname, _ = os.Hostname()
		} else {
			cfg.Hostname = container.ShortID(id)
		}
	}
	top, unpacked, err := d.images.Unpacked(ctx, img)
	if err != nil {
		return fail(err)
	}
	if !unpacked {
		if top, err = d.images.Unpack(ctx, img); err != nil {
			return fail(fmt.Errorf("unpack %s: %w", cfg.Image, err))
		}
	}
	snapKey, ok := d.takeSpare(top, ahead, host.AutoRemove)
	if !ok {
		snapKey = id
		if _, err := d.snapshots.Prepare(ctx, id, top, snapshot.WithLabels(map[string]string{containerLabel: id})); err != nil {
			return fail(fmt.Errorf("prepare the container's filesystem: %w", err))
		}
		if host.AutoRemove {
			d.spares.parents.Store(snapKey, top)
		}
	}
	defer func() {
		if retErr != nil {
			d.spares.parents.Delete(snapKey)
			if err := d.snapshots.Remove(context.WithoutCancel(ctx), snapKey); err != nil {
				d.log.Warn("undo create: remove snapshot", "container", id, "err", err)
			}
		}
	}()
	mountPoints, err := d.createMountPoints(ctx, id, snapKey, mounts)
	if err != nil {
		return fail(err)
	}
	defer func() {
		if retErr != nil {
			d.releaseMountPoints(context.WithoutCancel(ctx), id, mountPoints, true)
		}
	}()

	argv := append(append([]string(nil), cfg.Entrypoint...), cfg.Cmd...)
	manifest := res.Manifest
	c := &container.Container{
		ID:            id,
		Name:          req.Name,
		Created:       time.Now().UTC(),
		Path:          argv[0],
		Args:          argv[1:],
		Config:        cfg,
		HostConfig:    host,
		Image:         res.ID(),
		ImageManifest: &manifest,
		Platform:      "linux",
		State:         container.State{Status: container.Created},
		Driver:        "overlay2",
		Snapshotter:   d.snapshotter,
		SnapshotKey:   snapKey,
		Runtime:       host.Runtime,

		NetworkSettings: netSettings,
		MountPoints:     mountPoints,
	}
	switch host.LogConfig.Type {
	case logs.None:
	case logs.Local:
		// docker's place for the local driver's files (the shim creates
		// the directory); inspect does not show it, as docker does not.
		c.LogPath = filepath.Join(d.containers.Dir(id), "local-logs", "container.log")
	default:
		c.LogPath = filepath.Join(d.containers.Dir(id), id+"-json.log")
	}
	// The files are written before the record, which is written (and
	// fsynced) last; they are not fsynced themselves: start rewrites any
	// that a crash lost (ensureContainerFiles).
	files := func(string) error { return d.writeContainerFiles(c) }
	if ahead {
		err = d.containers.PrepareDir(id, files)
	} else {
		err = d.containers.Create(c, files)
	}
	if err != nil {
		return fail(err)
	}
	if warnings == nil {
		warnings = []string{}
	}
	return c, warnings, nextFits(c, req), nil
}

// cloneConfigs deep-copies the request's configs: the record keeps its
// own, and the checks normalize them in place.
func cloneConfigs(cfg *containertypes.Config, host *containertypes.HostConfig) (*containertypes.Config, *containertypes.HostConfig, error) {
	c := &containertypes.Config{}
	h := &containertypes.HostConfig{}
	if cfg != nil {
		if err := deepCopy(c, cfg); err != nil {
			return nil, nil, err
		}
	}
	if host != nil {
		if err := deepCopy(h, host); err != nil {
			return nil, nil, err
		}
	}
	return c, h, nil
}

func deepCopy(dst, src any) error {
	b, err := json.Marshal(src)
	if err != nil {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "%v", err)
	}
	return json.Unmarshal(b, dst)
}

// mergeImage fills cfg from the image's config as docker does at create
// (spec.MergeImageConfig), health check included: the image's check
// applies unless the container sets its own, and a container's check
// without a test or with zero durations takes those from the image's.
func mergeImage(cfg *containertypes.Config, img dockerspec.DockerOCIImageConfig) error {
	if err := spec.MergeImageConfig(cfg, img.ImageConfig); err != nil {
		return err
	}
	cfg.Healthcheck = mergeHealthcheck(cfg.Healthcheck, img.Healthcheck)
	if len(cfg.Shell) == 0 {
		cfg.Shell = img.Shell
	}
	return nil
}

// mergeHealthcheck is a container's health check over an image's, as
// docker merges them at create and at commit: the image's applies unless
// the container sets its own, and the container's takes a missing test or
// zero durations and retries from the image's. from is never modified.
func mergeHealthcheck(own, from *dockerspec.HealthcheckConfig) *dockerspec.HealthcheckConfig {
	if from == nil {
		return own
	}
	if own == nil {
		h := *from
		return &h
	}
	if len(own.Test) == 0 {
		own.Test = from.Test
	}
	if own.Interval == 0 {
		own.Interval = from.Interval
	}
	if own.Timeout == 0 {
		own.Timeout = from.Timeout
	}
	if own.StartPeriod == 0 {
		own.StartPeriod = from.StartPeriod
	}
	if own.StartInterval == 0 {
		own.StartInterval = from.StartInterval
	}
	if own.Retries == 0 {
		own.Retries = from.Retries
	}
	return own
}
