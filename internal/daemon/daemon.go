package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/daemon/config"
	"github.com/berth-project/berth/internal/daemon/images"
	"github.com/berth-project/berth/internal/daemon/system"
	"github.com/berth-project/berth/internal/events"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/snapshot"
	"github.com/berth-project/berth/internal/volume"
)

// Daemon is the engine: its own methods are the API server's container
// and exec backends, and it embeds the image and system services, so that
// together they are the whole server.Backend.
type Daemon struct {
	*imageService
	*systemService

	cfg      config.Config
	log      *slog.Logger
	runtimes map[string]config.Runtime
	binDir   string
	dataRoot string
	execRoot string
	lock     *dataRootLock

	images      *image.Store
	snapshots   snapshot.Snapshotter
	snapshotter string // "overlay" or "native"
	events      *events.Bus
	containers  *container.Store
	tasks       taskLauncher
	nets        *networking
	// volumes is the volume store (<data-root>/volumes): named and
	// anonymous volumes, who uses them, their mounts.
	volumes    *volume.Store
	volumeRuns volumeRuns
	initPath   string
	shimBinary string

	mu    sync.Mutex
	runs  map[string]*run // by container id
	execs map[string]*execProcess
	// closing is set first thing by Close; starts check it under the
	// container's lock (see start).
	closing atomic.Bool
	// execRootMounted: this daemon mounted the exec root's tmpfs.
	execRootMounted bool
	// volatileOverlay: 0 not tried yet, 1 the kernel takes overlayfs's
	// volatile option, -1 it refuses it.
	volatileOverlay atomic.Int32
	// shutdown is closed by Close: background work (restart back-offs,
	// health checks) ends at once.
	shutdown chan struct{}
	bg       sync.WaitGroup
	// storageReleases counts removals whose storage is still being
	// freed in the background (releaseInBackground).
	storageReleases inflight
	// spares are container snapshots prepared ahead (spares.go).
	spares spares
	// next is the container prepared ahead for a repeated create (next.go).
	next     nextSlot
	closeErr error
	closed   sync.Once
}

// The services' types, under names that can both be embedded.
type (
	imageService  = images.Service
	systemService = system.Service
)

// Option changes how New builds the daemon.
type Option func(*options)

type options struct {
	logger  *slog.Logger
	binDir  string
	tasks   taskLauncher
	network newNetManager
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithBinDir names the directory holding berth-runtime, berth-shim and
// berth-init (default: the daemon executable's own directory, then $PATH).
func WithBinDir(dir string) Option { return func(o *options) { o.binDir = dir } }

// withTaskLauncher replaces the shim (tests).
func withTaskLauncher(t taskLauncher) Option { return func(o *options) { o.tasks = t } }

// New opens (or creates) the daemon's state under cfg's roots, takes the
// data root's lock, migrates an older on-disk layout, and restores every
// container: running ones whose shim is alive are tracked again, the
// others get their real exit status. cfg is validated first; nothing is
// touched if it is wrong.
func New(ctx context.Context, cfg config.Config, opts ...Option) (_ *Daemon, retErr error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{logger: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	if o.binDir == "" {
		if exe, err := os.Executable(); err == nil {
			o.binDir = filepath.Dir(exe)
		}
	}
	d := &Daemon{
		cfg:      cfg,
		log:      o.logger,
		binDir:   o.binDir,
		dataRoot: filepath.Clean(cfg.DataRoot),
		execRoot: filepath.Clean(cfg.ExecRoot),
		runs:     map[string]*run{},
		execs:    map[string]*execProcess{},
		shutdown: make(chan struct{}),
	}
	for _, dir := range []string{d.dataRoot, d.execRoot} {
		if err := os.MkdirAll(dir, 0o711); err != nil {
			return nil, err
		}
	}
	lock, err := lockDataRoot(d.dataRoot)
	if err != nil {
		return nil, err
	}
	d.lock = lock
	defer func() {
		if retErr != nil {
			d.closeStores()
		}
	}()
	if err := d.ensureTmpfsExecRoot(); err != nil {
		return nil, err
	}
	for _, dir := range []struct {
		path string
		mode os.FileMode
	}{{d.shimsDir(), 0o700}, {d.bundlesDir(), 0o711}, {d.runtimeRoot(), 0o700}} {
		if err := os.MkdirAll(dir.path, dir.mode); err != nil {
			return nil, err
		}
	}
	if err := migrateLayout(ctx, d.dataRoot, d.log); err != nil {
		return nil, err
	}
	if d.runtimes, err = cfg.ResolveRuntimes(d.binDir); err != nil {
		return nil, err
	}
	d.initPath, _ = lookBinary(d.binDir, "berth-init")
	d.shimBinary, _ = lookBinary(d.binDir, "berth-shim")
	if err := d.openServices(ctx); err != nil {
		return nil, err
	}
	d.tasks = o.tasks
	if d.tasks == nil {
		d.tasks = d.newShimLauncher()
	}
	if err := d.openNetwork(ctx, o.network); err != nil {
		return nil, err
	}
	if err := d.restore(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// Close stops the daemon's background work. With live restore, running
// containers are left to their shims; without it they are stopped first
// (each within the configured shutdown timeout). Close is safe to call
// more than once.
func (d *Daemon) Close() error {
	d.closed.Do(func() {
		if !d.cfg.LiveRestore {
			d.stopAll()
		}
		d.closing.Store(true)
		d.mu.Lock()
		runs := make([]*run, 0, len(d.runs))
		for _, r := range d.runs {
			runs = append(runs, r)
		}
		d.mu.Unlock()
		close(d.shutdown)
		d.dropSpares(context.Background(), true)
		d.dropNextContainer(true)
		// Dropping the connections ends the monitors' waits; they see
		// the daemon closing and leave the containers as they are.
		for _, r := range runs {
			r.closeTask()
		}
		d.bg.Wait()
		// A prestart no start took is not a container to keep.
		for _, r := range runs {
			d.dropPrestart(context.Background(), r.c, r)
		}
		if c, ok := d.tasks.(io.Closer); ok {
			_ = c.Close()
		}
		d.closeErr = d.closeStores()
	})
	return d.closeErr
}

func (d *Daemon) closeStores() error {
	var errs []error
	if d.imageService != nil {
		// The image service closes the snapshotter and the image store.
		errs = append(errs, d.imageService.Close())
	}
	if d.nets != nil {
		// Bridges, veths, sandboxes and rules stay for the next daemon
		// (live restore); the resolvers stop.
		errs = append(errs, d.nets.m.Close())
	}
	if d.events != nil {
		d.events.Close()
	}
	d.removeCgroupSkeletons()
	d.releaseTmpfsExecRoot()
	if d.lock != nil {
		errs = append(errs, d.lock.release())
	}
	return errors.Join(errs...)
}

// stopAll stops every running container in parallel (shutdown without
// live restore).
func (d *Daemon) stopAll() {
	timeout := d.cfg.ShutdownTimeout
	var wg sync.WaitGroup
	for _, c := range d.containers.List() {
		c.Lock()
		running := c.State.IsRunning()
		c.Unlock()
		if !running {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(timeout+10)*time.Second)
			defer cancel()
			if err := d.stop(ctx, c, "", &timeout, false); err != nil && !isNotModified(err) {
				d.log.Warn("stop at shutdown", "container", c.ID, "err", err)
			}
		}()
	}
	wg.Wait()
}

// Paths of the exec root.
func (d *Daemon) shimsDir() string           { return filepath.Join(d.execRoot, "shims") }
func (d *Daemon) bundlesDir() string         { return filepath.Join(d.execRoot, "bundles") }
func (d *Daemon) runtimeRoot() string        { return filepath.Join(d.execRoot, "runtime") }
func (d *Daemon) shimDir(id string) string   { return filepath.Join(d.shimsDir(), id) }
func (d *Daemon) bundleDir(id string) string { return filepath.Join(d.bundlesDir(), id) }
func (d *Daemon) rootfsDir(id string) string { return filepath.Join(d.bundleDir(id), "rootfs") }
func (d *Daemon) parkedDir() string          { return filepath.Join(d.execRoot, "parked") }

// Config is the daemon's configuration.
func (d *Daemon) Config() config.Config { return d.cfg }

// EventBus is the daemon's event bus.
func (d *Daemon) EventBus() *events.Bus { return d.events }

// ImageStore is the image store containers are created from.
func (d *Daemon) ImageStore() *image.Store { return d.images }

// lookBinary finds one of Berth's binaries: in dir first, then $PATH.
func lookBinary(dir, name string) (string, error) {
	if dir != "" {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s: not in %s nor in $PATH", name, dir)
	}
	return p, nil
}

// The daemon is the whole backend of the API server.
var _ server.Backend = (*Daemon)(nil)
