package images

import (
	"github.com/berth-project/berth/internal/errdefs"
)

// noSuchImage gives a lookup's NotFound docker's wording ("No such image:
// busybox:nope"), keeping the class; other errors pass unchanged.
func noSuchImage(ref string, err error) error {
	if errdefs.IsNotFound(err) {
		return errdefs.Errorf(errdefs.ErrNotFound, "No such image: %s", ref)
	}
	return err
}
