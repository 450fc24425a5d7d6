package images

import (
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image"
)

// noSuchImage gives a lookup's NotFound docker's wording ("No such image:
// busybox:latest"), keeping the class; other errors pass unchanged.
func noSuchImage(ref string, err error) error {
	if errdefs.IsNotFound(err) {
		return errdefs.Errorf(errdefs.ErrNotFound, "No such image: %s", image.NotFoundName(ref))
	}
	return err
}
