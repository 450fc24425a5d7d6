package images

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	digest "github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/events"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/snapshot"
)

// Options configure New. Root is required; the rest may be zero.
type Options struct {
	// Root is the daemon's data root; the image side lives in its
	// content/, snapshots/ (or snapshots-native/) and images/.
	Root string
	// Events receives image events (pull, push, tag, untag, delete,
	// import, load, save, prune); nil for none.
	Events *events.Bus
	// InsecureRegistries and Mirrors are docker's --insecure-registry
	// (host, host:port or CIDR) and --registry-mirror (URL).
	InsecureRegistries []string
	Mirrors            []string
	// SnapshotterName is "overlay" (also "overlay2", and the default ""),
	// which falls back to "native" where overlay cannot mount under Root,
	// or "native" (also "vfs").
	SnapshotterName string
	// ImageInUse lists the IDs of the containers created from image id;
	// nil means none.
	ImageInUse func(id digest.Digest) (containers []string)
	// ContainerRunning says whether a container ImageInUse returned is
	// running: docker refuses even a forced delete of an image a running
	// container uses. nil means every user is stopped.
	ContainerRunning func(id string) bool
	// SettleRemovals waits until removed containers have freed their
	// snapshots (the daemon frees some after answering), so that image
	// deletion, prune and disk usage see no container that is gone; nil
	// means nothing to wait for.
	SettleRemovals func()
	// ConfigDir is the directory of the docker config.json whose
	// credentials pulls and pushes use when the request carries none
	// (default: $DOCKER_CONFIG, else ~/.docker).
	ConfigDir string
	// Distribution are extra registry client options (tests: timeouts,
	// retries).
	Distribution []distribution.Option
	Logger       *slog.Logger
}

// Snapshotter names, as Driver reports them.
const (
	DriverOverlay = "overlay2"
	DriverNative  = "native"
)

// Service is the image service. It is safe for concurrent use.
type Service struct {
	opts   Options
	log    *slog.Logger
	store  *image.Store
	sn     snapshot.Snapshotter
	driver string
	client *distribution.Client
	// warnings are for Info (a fallback to the native snapshotter).
	warnings []string
}

// New opens (creating them if needed) the content store, the snapshotter
// and the image store under opts.Root, and the registry client.
func New(ctx context.Context, opts Options) (*Service, error) {
	if opts.Root == "" || !filepath.IsAbs(opts.Root) {
		return nil, fmt.Errorf("images: data root %q must be an absolute path: %w", opts.Root, errdefs.ErrInvalidParameter)
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Service{opts: opts, log: log}
	cs, err := content.NewStore(filepath.Join(opts.Root, "content"))
	if err != nil {
		return nil, fmt.Errorf("images: content store: %w", err)
	}
	if err := s.openSnapshotter(ctx); err != nil {
		return nil, err
	}
	s.store, err = image.NewStore(ctx, filepath.Join(opts.Root, "images"), cs, s.sn)
	if err != nil {
		s.sn.Close()
		return nil, fmt.Errorf("images: %w", err)
	}
	dopts := append([]distribution.Option{
		distribution.WithInsecureRegistries(opts.InsecureRegistries...),
		distribution.WithMirrors(opts.Mirrors...),
	}, opts.Distribution...)
	s.client, err = distribution.New(dopts...)
	if err != nil {
		s.sn.Close()
		return nil, fmt.Errorf("images: registry client: %w", err)
	}
	return s, nil
}

// Store is the image store, for the daemon: resolve an image, unpack it,
// prepare a container's snapshot on it (Store().Snapshotter()).
func (s *Service) Store() *image.Store { return s.store }

// Driver is the snapshotter in use: DriverOverlay or DriverNative.
func (s *Service) Driver() string { return s.driver }

// Warnings are remarks for docker info (a fallback from overlay).
func (s *Service) Warnings() []string { return append([]string(nil), s.warnings...) }

// Client is the registry client (login and search use it too).
func (s *Service) Client() *distribution.Client { return s.client }

// Close releases the snapshotter. Nothing on disk needs closing.
func (s *Service) Close() error {
	return errors.Join(s.store.Close(), s.sn.Close())
}

// settle waits for pending container removals (Options.SettleRemovals).
func (s *Service) settle() {
	if s.opts.SettleRemovals != nil {
		s.opts.SettleRemovals()
	}
}

// usersOf is the containers using image id.
func (s *Service) usersOf(id digest.Digest) []string {
	if s.opts.ImageInUse == nil {
		return nil
	}
	return s.opts.ImageInUse(id)
}

func (s *Service) running(container string) bool {
	return s.opts.ContainerRunning != nil && s.opts.ContainerRunning(container)
}

// inUse adapts ImageInUse to the image store's question.
func (s *Service) inUse(_ context.Context, id digest.Digest) (bool, error) {
	return len(s.usersOf(id)) > 0, nil
}

var _ server.ImageBackend = (*Service)(nil)
