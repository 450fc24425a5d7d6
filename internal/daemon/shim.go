package daemon

import (
	"context"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/errdefs"
)

// shimLauncher starts containers' shims (internal/shim).
type shimLauncher struct {
	binary string
}

func (l shimLauncher) Start(ctx context.Context, cfg taskConfig) (container.Task, error) {
	return nil, errdefs.Errorf(errdefs.ErrNotImplemented, "shim not available yet")
}

func (l shimLauncher) Connect(ctx context.Context, stateDir string) (container.Task, error) {
	return nil, errdefs.Errorf(errdefs.ErrNotFound, "shim not available yet")
}

func (l shimLauncher) ReadExit(stateDir string) (container.ExitStatus, bool, error) {
	return container.ExitStatus{}, false, nil
}
