package daemon

import (
	"context"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
)

// The API's container filesystem endpoints (server.ContainerFSBackend):
// cp, diff, export and commit. These stubs keep the tree building until
// the daemon's implementation replaces them.

func errFSNotImplemented(what string) error {
	return errdefs.Errorf(errdefs.ErrNotImplemented, "Berth does not implement %s yet", what)
}

// ContainerCommit is POST /commit.
func (d *Daemon) ContainerCommit(ctx context.Context, name string, opts server.CommitOptions) (string, error) {
	return "", errFSNotImplemented("commit")
}
