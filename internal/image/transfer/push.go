package transfer

import (
	"context"
	"fmt"
	"slices"

	"github.com/distribution/reference"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image"
)

// PushResult describes what Push sent.
type PushResult struct {
	// Ref is the normalized reference pushed to.
	Ref string
	// Root is what the reference now names at the registry; Tag is the
	// tag it was pushed under ("" for a push by digest).
	Root ocispec.Descriptor
	Tag  string
}

// Push is docker push: it sends the image the record ref names (a name
// with a tag; a bare name is :latest) to the registry of its name, and
// points the tag there at it.
//
// The record's target is pushed as it is, so the registry's digest is the
// one the image was pulled or loaded with. An index of which only the
// store's platform was pulled cannot be pushed whole; then the platform's
// manifest is pushed alone, as docker's own image store does.
//
// Errors: no record of that name is errdefs.ErrNotFound, an image ID or a
// malformed name errdefs.ErrInvalidParameter; the rest are the registry
// client's.
func Push(ctx context.Context, c *distribution.Client, images *image.Store, ref string, opts ...Opt) (*PushResult, error) {
	o, err := makeOptions(opPush, opts)
	if err != nil {
		return nil, err
	}
	named, err := image.NormalizeName(ref)
	if err != nil {
		return nil, err
	}
	rec, err := images.Get(ctx, named.String())
	if err != nil {
		return nil, err
	}
	// A record deleted while we push must not lose its blobs under us.
	lease := images.NewLease()
	defer lease.Release()
	lease.AddContent(rec.Target.Digest)
	root, err := pushRoot(ctx, images, rec)
	if err != nil {
		return nil, err
	}
	lease.AddContent(root.Digest)

	s := newStream(o)
	defer s.Close(ctx)
	events := make(chan distribution.Progress, 64)
	forwarded := forward(events, s, nil)
	dopts := append(slices.Clone(o.dist), distribution.WithProgress(events))
	if o.auth != nil {
		dopts = append(dopts, distribution.WithAuth(*o.auth))
	}
	res, err := c.Push(ctx, named.String(), images.Content(), root, dopts...)
	close(events)
	<-forwarded
	if err != nil {
		return nil, err
	}
	out := &PushResult{Ref: res.Ref, Root: res.Root}
	if t, ok := named.(reference.Tagged); ok {
		out.Tag = t.Tag()
	}
	return out, nil
}

// pushRoot is what to push for rec: its target, or the store's platform
// manifest when the target is an index with manifests the store lacks.
func pushRoot(ctx context.Context, images *image.Store, rec image.Image) (ocispec.Descriptor, error) {
	res, err := images.Resolve(ctx, rec)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("push %s: %w", image.FamiliarName(rec.Name), err)
	}
	if res.Index == nil {
		return rec.Target, nil
	}
	for _, m := range res.Index.Manifests {
		_, err := images.Content().Info(ctx, m.Digest)
		if errdefs.IsNotFound(err) {
			return res.Manifest, nil
		}
		if err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("push %s: %w", image.FamiliarName(rec.Name), err)
		}
	}
	return rec.Target, nil
}
