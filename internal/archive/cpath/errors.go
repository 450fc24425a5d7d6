package cpath

import (
	"fmt"

	"github.com/berth-project/berth/internal/errdefs"
)

// ErrReadOnly is the class of a write refused because the target is on a
// read-only filesystem (a --read-only rootfs, a :ro volume or bind of a
// running container). It is an InvalidParameter, as dockerd's own
// read-only checks are.
var ErrReadOnly = fmt.Errorf("read-only file system: %w", errdefs.ErrInvalidParameter)

// FileNotFound is dockerd's error for a path missing in a container,
// which the docker CLI prints as is: the daemon turns any NotFound of
// this package into it with the path of the request and the container
// name the user gave.
func FileNotFound(path, container string) error {
	return errdefs.Errorf(errdefs.ErrNotFound, "Could not find the file %s in container %s", path, container)
}
