package daemon

import (
	"context"
	"path"
	"time"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/daemon/config"
	"github.com/berth-project/berth/internal/shim"
)

// shimLauncher starts containers' shims (internal/shim): each container
// gets its own berth-shim process, detached from the daemon. With Berth's
// runtime as the default, a pool keeps one shim (and its warm runtime)
// started ahead of the next container.
type shimLauncher struct {
	binary    string
	pool      *shim.Pool
	hibernate time.Duration
}

// newShimLauncher makes the launcher, and its pool when the default
// runtime is Berth's own (only it has a warm mode).
func (d *Daemon) newShimLauncher() shimLauncher {
	l := shimLauncher{binary: d.shimBinary}
	l.hibernate, _ = d.cfg.ShimHibernate()
	rt, ok := d.runtimes[d.cfg.DefaultRuntime]
	if !ok || d.cfg.DefaultRuntime != config.RuntimeBerth || len(rt.Args) > 0 {
		return l
	}
	pool, err := shim.NewPool(shim.PoolConfig{ShimBinary: d.shimBinary, Runtime: rt.Path, RuntimeRoot: d.runtimeRoot(),
		CgroupParent: spareCgroupParent(d.cfg.EffectiveCgroupParent()), Logger: d.log})
	if err != nil {
		d.log.Warn("no pool of shims: each container starts its own", "err", err)
		return l
	}
	l.pool = pool
	return l
}

// Refill replaces the pooled shim a start used, once that container runs.
func (l shimLauncher) Refill() {
	if l.pool != nil {
		l.pool.Refill()
	}
}

// Close ends the pool's waiting shims.
func (l shimLauncher) Close() error {
	if l.pool == nil {
		return nil
	}
	return l.pool.Close()
}

func (l shimLauncher) Start(ctx context.Context, cfg taskConfig) (container.Task, error) {
	start := shim.Start
	switch {
	case l.pool != nil && cfg.Hurry != nil:
		start = func(ctx context.Context, sc shim.Config) (*shim.Client, error) {
			return l.pool.StartAhead(ctx, sc, cfg.Hurry)
		}
	case l.pool != nil:
		start = l.pool.Start
	}
	c, err := start(ctx, shim.Config{
		ID:          cfg.ID,
		Bundle:      cfg.Bundle,
		StateDir:    cfg.StateDir,
		Runtime:     cfg.Runtime,
		RuntimeRoot: cfg.RuntimeRoot,
		RuntimeArgs: cfg.RuntimeArgs,
		Terminal:    cfg.Terminal,
		OpenStdin:   cfg.OpenStdin,
		StdinOnce:   cfg.StdinOnce,
		LogDriver:   cfg.LogDriver,
		LogPath:     cfg.LogPath,
		LogOpts:     cfg.LogOpts,
		LogAttrs:    cfg.LogAttrs,
		ShimBinary:  l.binary,
		// Validated with the configuration.
		HibernateAfter: l.hibernate,
		Process:        cfg.Process,
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (l shimLauncher) Connect(ctx context.Context, stateDir string) (container.Task, error) {
	c, err := shim.Connect(ctx, stateDir)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (l shimLauncher) ReadProcess(stateDir string) ([]byte, error) {
	return shim.ReadProcess(stateDir)
}

func (l shimLauncher) ReadExit(stateDir string) (container.ExitStatus, bool, error) {
	return shim.ReadExit(stateDir)
}

// spareCgroupParent is where pooled shims' warm runtimes keep their spare
// inits: the containers' cgroup parent when it is an absolute cgroupfs
// path (the spec's cgroupsPath is then parent/ID), else nowhere ("").
func spareCgroupParent(parent string) string {
	if !path.IsAbs(parent) {
		return ""
	}
	return path.Clean(parent)
}
