package cpath

import (
	"context"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
)

// checkPath rejects what no path in a container can be, before any
// system call.
func checkPath(ctx context.Context, p string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p == "" {
		// dockerd's API layer: a bad "path" parameter.
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "bad parameter: path cannot be empty")
	}
	if strings.IndexByte(p, 0) >= 0 {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "bad parameter: path %q holds a NUL byte", p)
	}
	return nil
}
