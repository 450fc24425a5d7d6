//go:build !linux

package mount

import (
	"context"
	"fmt"
	"runtime"

	"github.com/berth-project/berth/internal/errdefs"
)

var errUnsupported = fmt.Errorf("mount on %s: %w", runtime.GOOS, errdefs.ErrNotImplemented)

// Mount is not implemented on this system.
func (m Mount) Mount(target string) error { return errUnsupported }

// All is not implemented on this system.
func All(mounts []Mount, target string) error { return errUnsupported }

// Unmount is not implemented on this system.
func Unmount(target string, flags int) error { return errUnsupported }

// UnmountAll is not implemented on this system.
func UnmountAll(target string, flags int) error { return errUnsupported }

// WithTempMount is not implemented on this system.
func WithTempMount(ctx context.Context, mounts []Mount, f func(root string) error) error {
	return errUnsupported
}

// Propagation describes the mount a path is on.
type Propagation struct {
	MountPoint    string
	Shared, Slave bool
}

// PropagationOf is not implemented on this system.
func PropagationOf(path string) (Propagation, error) { return Propagation{}, errUnsupported }
