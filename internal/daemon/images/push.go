package images

import (
	"context"
	"io"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image/transfer"
)

// ImagePush is POST /images/{name}/push: docker push of name:tag, or of
// every tag of the repository name when tag is empty (docker push -a).
func (s *Service) ImagePush(ctx context.Context, name string, opts server.ImagePushOptions, out io.Writer) error {
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid reference format: %s: %v", name, err)
	}
	if _, ok := named.(reference.Digested); ok {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "cannot push a digest reference")
	}
	var refs []reference.Named
	switch {
	case opts.Tag != "":
		t, err := reference.WithTag(reference.TrimNamed(named), opts.Tag)
		if err != nil {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid tag %q: %v", opts.Tag, err)
		}
		refs = []reference.Named{t}
	default:
		if _, tagged := named.(reference.Tagged); tagged {
			refs = []reference.Named{named}
			break
		}
		refs, err = s.tagsOf(ctx, named)
		if err != nil {
			return err
		}
	}
	for _, r := range refs {
		if _, err := s.store.Get(ctx, r.String()); err != nil {
			if errdefs.IsNotFound(err) {
				return errdefs.Errorf(errdefs.ErrNotFound, "An image does not exist locally with the tag: %s", reference.FamiliarName(r))
			}
			return err
		}
	}
	topts, err := s.transferOptions(opts.Auth)
	if err != nil {
		return err
	}
	st := newStream(out)
	topts = append(topts, transfer.WithProgressWriter(st))
	for i, r := range refs {
		if i == 1 {
			// The repository is named once, as docker does for -a.
			topts = append(topts, transfer.WithDistributionOptions(distribution.WithoutStatusLines()))
		}
		if _, err := transfer.Push(ctx, s.client, s.store, r.String(), topts...); err != nil {
			return st.fail(registryRefusal(err))
		}
		s.event(ctx, events.ActionPush, reference.FamiliarString(r), reference.FamiliarName(r))
	}
	return nil
}

// tagsOf is every tagged record of the repository named.
func (s *Service) tagsOf(ctx context.Context, named reference.Named) ([]reference.Named, error) {
	recs, err := s.store.Records(ctx)
	if err != nil {
		return nil, err
	}
	var out []reference.Named
	for _, r := range recs {
		if r.Dangling() {
			continue
		}
		n, err := reference.ParseNormalizedNamed(r.Name)
		if err != nil || n.Name() != named.Name() {
			continue
		}
		if _, ok := n.(reference.Tagged); ok {
			if _, digested := n.(reference.Digested); !digested {
				out = append(out, n)
			}
		}
	}
	if len(out) == 0 {
		return nil, errdefs.Errorf(errdefs.ErrNotFound, "An image does not exist locally with the tag: %s", reference.FamiliarName(named))
	}
	return out, nil
}
