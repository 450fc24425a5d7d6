package images

import (
	"github.com/distribution/reference"

	"github.com/berth-project/berth/internal/errdefs"
)

// noSuchImage gives a lookup's NotFound docker's wording ("No such image:
// busybox:nope"), keeping the class; other errors pass unchanged.
func noSuchImage(ref string, err error) error {
	if errdefs.IsNotFound(err) {
		return errdefs.Errorf(errdefs.ErrNotFound, "No such image: %s", familiarRef(ref))
	}
	return err
}

// familiarRef is ref as dockerd names a missing image: a name in its short
// form with its tag, ":latest" when it has none ("No such image:
// nosuch:latest"), so the message says which tag was looked for; an ID or a
// string that is no reference is kept as given.
func familiarRef(ref string) string {
	r, err := reference.ParseAnyReference(ref)
	if err != nil {
		return ref
	}
	if named, ok := r.(reference.Named); ok {
		r = reference.TagNameOnly(named)
	}
	return reference.FamiliarString(r)
}
