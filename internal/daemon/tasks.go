package daemon

import (
	"context"

	"github.com/berth-project/berth/internal/container"
)

// taskConfig is what the daemon asks of a new shim.
type taskConfig struct {
	ID          string
	Bundle      string
	StateDir    string
	Runtime     string
	RuntimeRoot string
	RuntimeArgs []string
	Terminal    bool
	OpenStdin   bool
	StdinOnce   bool
	LogDriver   string
	LogPath     string
	LogOpts     map[string]string
	LogAttrs    map[string]string
	// Hurry, when set, makes the container ahead of any client's need
	// for it (the next container, next.go): the supervisor may create it
	// at background priority, until Hurry closes (someone now waits for
	// it) or its first call.
	Hurry <-chan struct{}
	// Process is the spec's process section, kept with the supervisor's
	// configuration for execs (readProcess).
	Process []byte
}

// taskLauncher starts and finds the supervisors of containers: the shim
// in production (shimLauncher), a fake in unit tests.
//
// Start returns once the container exists in the runtime (created, not
// started). Connect reattaches to a shim that outlived a daemon; a shim
// that is gone is errdefs.ErrNotFound, and ReadExit then tells how the
// container ended (ok false: the shim died before it could record it).
type taskLauncher interface {
	Start(ctx context.Context, cfg taskConfig) (container.Task, error)
	Connect(ctx context.Context, stateDir string) (container.Task, error)
	ReadExit(stateDir string) (st container.ExitStatus, ok bool, err error)
	// ReadProcess is the Process of the task's configuration;
	// fs.ErrNotExist when it has none.
	ReadProcess(stateDir string) ([]byte, error)
}
