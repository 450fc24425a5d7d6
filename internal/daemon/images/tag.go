package images

import (
	"context"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/internal/errdefs"
)

// ImageTag is POST /images/{name}/tag: docker tag source repo:tag (an
// empty tag is latest).
func (s *Service) ImageTag(ctx context.Context, source, repo, tag string) error {
	named, err := reference.ParseNormalizedNamed(repo)
	if err != nil {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "%v", err)
	}
	if _, ok := named.(reference.Digested); ok {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "cannot tag digested reference")
	}
	if tag == "" {
		if t, ok := named.(reference.Tagged); ok {
			tag = t.Tag()
		} else {
			tag = "latest"
		}
	}
	target, err := reference.WithTag(reference.TrimNamed(named), tag)
	if err != nil {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "%v", err)
	}
	_, id, err := s.resolve(ctx, source)
	if err != nil {
		return err
	}
	if _, err := s.store.Tag(ctx, source, target.String()); err != nil {
		return noSuchImage(source, err)
	}
	s.event(ctx, events.ActionTag, id.String(), reference.FamiliarString(target))
	return nil
}
