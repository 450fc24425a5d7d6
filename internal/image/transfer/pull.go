package transfer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/jsonstream"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/image"
)

// PullResult describes what Pull recorded.
type PullResult struct {
	// Image is the record the pull created or updated.
	Image image.Image
	// Root is what the reference names at the registry (an index or a
	// manifest); its digest is the one docker prints ("Digest: ...").
	Root ocispec.Descriptor
	// Manifest is the platform's manifest, Config its config (the
	// image's ID).
	Manifest ocispec.Descriptor
	Config   ocispec.Descriptor
	Platform ocispec.Platform
	// Top is the chain ID of the top layer's snapshot, the parent of a
	// container's snapshot; empty when the store has no snapshotter or
	// the image no layers.
	Top string
	// Updated is false when the pull changed nothing: every blob and
	// layer was there and the name already pointed at the image ("Status:
	// Image is up to date for ...").
	Updated bool
}

// Pull is docker pull: it fetches ref (a tag or a digest; a bare name is
// :latest) with c into the image store's content store, unpacks it into
// the store's snapshotter while it downloads, and then points the name at
// it. See the package doc for the progress stream and for what a killed
// pull leaves.
//
// The recorded target is the root the registry served, unless the store
// would resolve that root (an index) to another platform's manifest than
// the one pulled (WithPlatform of a platform not the store's): then the
// record names the pulled manifest itself, so that the store's image is
// the one that was pulled, as docker's is. A by-digest pull of such an
// index records repo@<manifest digest>, since a name's digest must be its
// target's.
//
// Errors are the registry client's (errdefs classes), the unpack's (a
// layer that is not what the config says is errdefs.ErrInvalidParameter),
// and the image store's. A store without a snapshotter records the image
// without unpacking it.
func Pull(ctx context.Context, c *distribution.Client, images *image.Store, ref string, opts ...Opt) (*PullResult, error) {
	o, err := makeOptions(opPull, opts)
	if err != nil {
		return nil, err
	}
	named, err := image.NormalizeName(ref)
	if err != nil {
		return nil, err
	}
	s := newStream(o)
	defer s.Close(ctx)
	p := &puller{o: o, images: images, named: named, stream: s, downloads: newDownloads()}
	return p.pull(ctx, c)
}

type puller struct {
	o         *options
	images    *image.Store
	named     reference.Named // as recorded: repo:tag or repo@digest
	stream    *stream
	downloads *downloads

	// Set by the image hook, which runs before the first layer hook and
	// before the registry client's Pull returns.
	target ocispec.Descriptor
	unpack *image.Unpack

	extracted atomic.Bool
}

func (p *puller) pull(ctx context.Context, c *distribution.Client) (*PullResult, error) {
	// Blobs and snapshots are leased from before they are written until
	// the record references them.
	lease := p.images.NewLease()
	defer lease.Release()

	// An unpack that fails stops the download at once: there is no point
	// fetching layers for an image that cannot be recorded.
	pullCtx, cancelPull := context.WithCancelCause(ctx)
	defer cancelPull(nil)
	unpackCtx, cancelUnpack := context.WithCancel(ctx)
	defer cancelUnpack()
	unpacked := make(chan struct{})
	var top string
	var unpackErr error

	imageHook := func(_ context.Context, r *distribution.PullResult) error {
		target, err := p.chooseTarget(ctx, r)
		if err != nil {
			return err
		}
		p.target = target
		if p.images.Snapshotter() == nil {
			close(unpacked)
			return nil
		}
		uopts := append(slices.Clone(p.o.unpack), image.WithUnpackProgress(p.unpackProgress))
		u, err := p.images.NewUnpack(unpackCtx, target, uopts...)
		if err != nil {
			close(unpacked)
			return err
		}
		if chains := u.ChainIDs(); len(chains) > 0 {
			// Leasing the top chain keeps every layer under it, from
			// the moment each is committed (the unpack's own lease ends
			// when it returns, before the record exists).
			lease.AddSnapshot(chains[len(chains)-1].String())
		}
		p.unpack = u
		go func() {
			defer close(unpacked)
			top, unpackErr = u.Wait()
			if unpackErr != nil {
				cancelPull(unpackErr)
			}
		}()
		return nil
	}
	layerHook := func(hctx context.Context, i int, l ocispec.Descriptor) error {
		if p.unpack == nil {
			return nil
		}
		select {
		case <-p.downloads.finished(l.Digest):
		case <-hctx.Done():
			return context.Cause(hctx)
		}
		p.unpack.Ready(i)
		return nil
	}

	events := make(chan distribution.Progress, 64)
	forwarded := forward(events, p.stream, p.downloads)
	dopts := append(slices.Clone(p.o.dist),
		distribution.WithLease(lease.AddContent),
		distribution.WithImageHook(imageHook),
		distribution.WithLayerHook(layerHook),
		distribution.WithProgress(events),
		distribution.WithoutStatusLines())
	if p.o.auth != nil {
		dopts = append(dopts, distribution.WithAuth(*p.o.auth))
	}
	if plat, ok := p.platform(); ok {
		dopts = append(dopts, distribution.WithPlatform(plat))
	}
	res, err := c.Pull(pullCtx, p.named.String(), p.images.Content(), dopts...)
	close(events)
	<-forwarded
	if err != nil {
		if cause := context.Cause(pullCtx); ctx.Err() == nil && cause != nil && !errors.Is(cause, context.Canceled) {
			// The unpack failed and cancelled the download: its error
			// is the one that says what went wrong.
			err = cause
		}
		if p.unpack != nil {
			cancelUnpack()
			<-unpacked
		}
		return nil, err
	}
	<-unpacked
	if unpackErr != nil {
		return nil, unpackErr
	}
	return p.record(ctx, res, top)
}

// platform is the platform to ask the registry client for, if not its
// default (the host's): the caller's, or else the store's when the store
// was opened for another platform than the host's.
func (p *puller) platform() (ocispec.Platform, bool) {
	if p.o.platformSet {
		return p.o.platform, true
	}
	if sp := p.images.Platform(); sp != image.HostPlatform() {
		return sp.OCI(), true
	}
	return ocispec.Platform{}, false
}

// chooseTarget decides what the record will point at (see Pull): the root,
// if the store resolves it to the manifest pulled, else that manifest.
func (p *puller) chooseTarget(ctx context.Context, r *distribution.PullResult) (ocispec.Descriptor, error) {
	if r.Root.Digest == r.Manifest.Digest {
		return r.Manifest, nil
	}
	res, err := p.images.Resolve(ctx, image.Image{Target: r.Root})
	if err == nil && res.Manifest.Digest == r.Manifest.Digest {
		return r.Root, nil
	}
	// The store's platform picks another manifest of the index (one not
	// pulled, so Resolve failed, or one pulled earlier).
	if ctx.Err() != nil {
		return ocispec.Descriptor{}, ctx.Err()
	}
	return r.Manifest, nil
}

// unpackProgress puts the unpack's messages in the stream; "Pull complete"
// also means the pull changed something.
func (p *puller) unpackProgress(m jsonstream.Message) {
	if m.Status == "Pull complete" {
		p.extracted.Store(true)
	}
	if m.Progress == nil {
		// Layer lines carry a progressDetail, as the download's do.
		m.Progress = &jsonstream.Progress{}
	}
	p.stream.Send(m)
}

// record points the name at the pulled image and sends the closing lines.
func (p *puller) record(ctx context.Context, res *distribution.PullResult, top string) (*PullResult, error) {
	name := p.named
	if c, ok := name.(reference.Canonical); ok && c.Digest() != p.target.Digest {
		var err error
		if name, err = reference.WithDigest(reference.TrimNamed(name), p.target.Digest); err != nil {
			return nil, fmt.Errorf("pull %s: %w", p.named, err)
		}
	}
	old, had, err := p.find(ctx, name.String())
	if err != nil {
		return nil, err
	}
	rec, err := p.images.Create(ctx, image.Image{Name: name.String(), Target: p.target})
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", reference.FamiliarString(p.named), err)
	}
	updated := res.Downloaded || p.extracted.Load() || !had || old.Target.Digest != p.target.Digest
	familiar := reference.FamiliarString(p.named)
	p.stream.Send(jsonstream.Message{Status: "Digest: " + res.Root.Digest.String()})
	if updated {
		p.stream.Send(jsonstream.Message{Status: "Status: Downloaded newer image for " + familiar})
	} else {
		p.stream.Send(jsonstream.Message{Status: "Status: Image is up to date for " + familiar})
	}
	return &PullResult{
		Image:    rec,
		Root:     res.Root,
		Manifest: res.Manifest,
		Config:   res.Config,
		Platform: res.Platform,
		Top:      top,
		Updated:  updated,
	}, nil
}

// find returns the record named exactly name, if there is one.
func (p *puller) find(ctx context.Context, name string) (image.Image, bool, error) {
	recs, err := p.images.Records(ctx)
	if err != nil {
		return image.Image{}, false, err
	}
	for _, r := range recs {
		if r.Name == name {
			return r, true, nil
		}
	}
	return image.Image{}, false, nil
}
