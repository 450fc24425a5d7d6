package daemon

import (
	"context"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/shim"
)

// shimLauncher starts containers' shims (internal/shim): each container
// gets its own berth-shim process, detached from the daemon.
type shimLauncher struct {
	binary string
}

func (l shimLauncher) Start(ctx context.Context, cfg taskConfig) (container.Task, error) {
	c, err := shim.Start(ctx, shim.Config{
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
		ShimBinary:  l.binary,
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

func (l shimLauncher) ReadExit(stateDir string) (container.ExitStatus, bool, error) {
	return shim.ReadExit(stateDir)
}
