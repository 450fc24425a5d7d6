package client

import (
	cerrdefs "github.com/containerd/errdefs"
	sdk "github.com/moby/moby/client"

	"github.com/berth-project/berth/internal/errdefs"
)

// Classify gives an error from the SDK Berth's error class for the HTTP
// status the daemon answered with, keeping its text ("Error response from
// daemon: No such container: web"). An error without a class (a local
// failure, a cancelled context) comes back unchanged; nil stays nil. A
// daemon that cannot be reached is Unavailable.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	if class := classOf(err); class != nil {
		return errdefs.Errorf(class, "%w", err)
	}
	return err
}

func classOf(err error) error {
	switch {
	case sdk.IsErrConnectionFailed(err):
		return errdefs.ErrUnavailable
	case cerrdefs.IsNotFound(err):
		return errdefs.ErrNotFound
	case cerrdefs.IsAlreadyExists(err):
		return errdefs.ErrAlreadyExists
	case cerrdefs.IsConflict(err):
		return errdefs.ErrConflict
	case cerrdefs.IsInvalidArgument(err):
		return errdefs.ErrInvalidParameter
	case cerrdefs.IsUnauthorized(err):
		return errdefs.ErrUnauthorized
	case cerrdefs.IsPermissionDenied(err):
		return errdefs.ErrForbidden
	case cerrdefs.IsNotImplemented(err):
		return errdefs.ErrNotImplemented
	case cerrdefs.IsUnavailable(err):
		return errdefs.ErrUnavailable
	case cerrdefs.IsNotModified(err):
		return errdefs.ErrNotModified
	}
	return nil
}
