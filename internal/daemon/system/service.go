package system

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/volume"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/daemon/images"
	bus "github.com/berth-project/berth/internal/events"
)

// ContainerCounter is what the system service needs of the daemon's
// containers.
type ContainerCounter interface {
	// Counts is every container, and how many run, are paused, are
	// stopped (created or exited), for docker info.
	Counts() (total, running, paused, stopped int)
	// ContainersDiskUsage is the containers part of docker system df.
	ContainersDiskUsage(ctx context.Context) (*container.DiskUsage, error)
}

// VolumeUsage is what the system service needs of the daemon's volumes.
type VolumeUsage interface {
	// VolumesDiskUsage is the volumes part of docker system df: each
	// volume with its size and reference count, and the totals.
	VolumesDiskUsage(ctx context.Context) (*volume.DiskUsage, error)
}

// Options configure New; the zero value of each field is a sensible
// default (or "none").
type Options struct {
	// Version is the engine's version (ServerVersion); GitCommit and
	// BuildTime say what it was built from.
	Version, GitCommit, BuildTime string
	// APIVersion and MinAPIVersion are the API versions served.
	APIVersion, MinAPIVersion string
	// DataRoot is the daemon's data root (DockerRootDir); the engine ID
	// is kept there.
	DataRoot string
	Events   *bus.Bus
	// Images is the image service (image count, driver, df, login).
	Images     *images.Service
	Containers ContainerCounter
	Volumes    VolumeUsage
	// Runtimes maps runtime names to their binaries; DefaultRuntime names
	// one of them.
	Runtimes       map[string]string
	DefaultRuntime string
	// CgroupDriver is "cgroupfs" (default); CgroupVersion "1" or "2", or
	// "" to detect it.
	CgroupDriver, CgroupVersion string
	// LoggingDriver is the default log driver (default "json-file").
	LoggingDriver string
	LiveRestore   bool
	Debug         bool
	// InsecureRegistries and Mirrors as the daemon was configured (for
	// RegistryConfig).
	InsecureRegistries []string
	Mirrors            []string
	// Labels are the daemon's --label values.
	Labels []string
	// InitBinary is the name of the --init binary (default "berth-init").
	InitBinary string
	// Warnings are the daemon's own remarks for docker info.
	Warnings []string
	Logger   *slog.Logger
}

// Service answers the system endpoints. It is safe for concurrent use.
type Service struct {
	opts Options
	log  *slog.Logger
	host hostInfo
}

// New returns the service. The host's facts that never change while the
// daemon runs (kernel, OS release, CPU count, cgroup features) are read
// here, once.
func New(opts Options) *Service {
	if opts.CgroupDriver == "" {
		opts.CgroupDriver = "cgroupfs"
	}
	if opts.LoggingDriver == "" {
		opts.LoggingDriver = "json-file"
	}
	if opts.InitBinary == "" {
		opts.InitBinary = "berth-init"
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Service{opts: opts, log: log, host: readHost()}
	if opts.CgroupVersion == "" {
		s.opts.CgroupVersion = s.host.cgroups.version
	}
	return s
}

// Events is GET /events: the bus's replay and live events.
func (s *Service) Events(ctx context.Context, opts server.EventsOptions, send func(events.Message) error) error {
	if s.opts.Events == nil {
		return fmt.Errorf("events: no event bus")
	}
	return s.opts.Events.Subscribe(ctx, opts.Since, opts.Until, opts.Filters, send)
}

var _ server.SystemBackend = (*Service)(nil)
