package images

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/distribution/reference"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/events"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image"
)

// EmptyLayerDiffID is the diff_id of a layer with no entries (a tar of
// just its end blocks): docker commits no layer for it, only history.
const EmptyLayerDiffID = digest.Digest("sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef")

// CommitOptions describe the image Commit makes: a parent image plus one
// layer, docker commit's.
type CommitOptions struct {
	// Parent is the manifest of the image the container was made from
	// (its record's ImageManifest); zero for none (a container of an
	// image that is gone is committed on nothing but its own layer).
	Parent ocispec.Descriptor
	// Config is the new image's runtime configuration, docker's merge
	// and the changes already applied.
	Config dockerspec.DockerOCIImageConfig
	// Author and Comment go in the config and in the history entry;
	// CreatedBy is the entry's created_by.
	Author, Comment, CreatedBy string
	// Name is the reference to tag ("repo:tag", normalized by Commit);
	// empty for an untagged (dangling) image.
	Name string
	// WriteLayer writes the layer as an uncompressed tar. It is stored
	// as it is written (a plain tar layer, so its digest is its
	// diff_id), then unpacked on the parent's snapshots.
	WriteLayer func(ctx context.Context, w io.Writer) error
}

// Commit makes an image of a parent and one layer, as docker commit does:
// the parent's config with opts.Config in place of its runtime config,
// opts.Author, a new history entry, the layer's diff_id appended (none
// for an empty layer: the history entry says empty_layer), recorded under
// opts.Name or as dangling and unpacked. It returns the image's ID.
// Nothing is left behind on error.
func (s *Service) Commit(ctx context.Context, opts CommitOptions) (digest.Digest, error) {
	if opts.WriteLayer == nil {
		return "", fmt.Errorf("commit: no layer: %w", errdefs.ErrInvalidParameter)
	}
	name := ""
	if opts.Name != "" {
		named, err := image.NormalizeName(opts.Name)
		if err != nil {
			return "", err
		}
		name = reference.TagNameOnly(named).String()
	}
	var (
		cfg           dockerspec.DockerOCIImage
		layers        []ocispec.Descriptor
		parentDiffIDs []digest.Digest
	)
	if opts.Parent.Digest != "" {
		res, err := s.store.Resolve(ctx, image.Image{Target: opts.Parent})
		if err != nil {
			return "", fmt.Errorf("commit: the container's image: %w", err)
		}
		// A deep copy: the resolved config is the store's cache.
		if err := json.Unmarshal(res.ConfigBytes, &cfg); err != nil {
			return "", fmt.Errorf("commit: the container's image config: %w", err)
		}
		layers = append(layers, res.ManifestBody.Layers...)
		parentDiffIDs = append(parentDiffIDs, cfg.RootFS.DiffIDs...)
	} else {
		p := s.store.Platform()
		cfg.OS, cfg.Architecture, cfg.Variant = p.OS, p.Architecture, p.Variant
		cfg.RootFS.Type = "layers"
	}

	lease := s.store.NewLease()
	ok := false
	defer func() {
		if ok {
			lease.Release()
			return
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_ = lease.Discard(cctx)
	}()
	t0 := time.Now()
	write := opts.WriteLayer
	var applier *layerApplier
	if s.sn != nil {
		var err error
		if applier, err = s.startApply(ctx, lease, parentDiffIDs); err != nil {
			return "", fmt.Errorf("commit: %w", err)
		}
		if applier != nil {
			defer applier.cleanup(ctx)
			write = applier.tee(write)
		}
	}
	layer, err := s.ingestCommitLayer(ctx, lease, write)
	if err != nil {
		return "", fmt.Errorf("commit: the container's layer: %w", err)
	}
	empty := layer.Digest == EmptyLayerDiffID
	if applier != nil {
		// A plain tar layer: its digest is its diff_id.
		if err := applier.finish(ctx, lease, parentDiffIDs, layer.Digest, layer.Digest, empty); err != nil {
			return "", fmt.Errorf("commit: %w", err)
		}
	}
	if !empty {
		layers = append(layers, layer)
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, layer.Digest)
	}
	created := time.Now().UTC()
	cfg.Created = &created
	cfg.Author = opts.Author
	cfg.Config = opts.Config
	cfg.History = append(cfg.History, ocispec.History{
		Created:    &created,
		CreatedBy:  opts.CreatedBy,
		Author:     opts.Author,
		Comment:    opts.Comment,
		EmptyLayer: empty,
	})
	target, err := s.store.WriteImage(ctx, lease, cfg, layers)
	if err != nil {
		return "", fmt.Errorf("commit: %w", err)
	}
	img := image.Image{Name: name, Target: target}
	t1 := time.Now()
	if s.sn != nil {
		if _, err := s.store.Unpack(ctx, img); err != nil {
			return "", fmt.Errorf("commit: %w", err)
		}
	}
	if _, err := s.store.CreateAll(ctx, []image.Image{img}); err != nil {
		return "", fmt.Errorf("commit: %w", err)
	}
	ok = true
	s.log.DebugContext(ctx, "commit", "layer", layer.Digest, "size", layer.Size, "store+apply", t1.Sub(t0), "unpack+record", time.Since(t1))
	id := target.Digest
	if res, err := s.store.Resolve(ctx, img); err == nil {
		id = res.ID()
	}
	if name != "" {
		s.event(ctx, events.ActionTag, id.String(), image.FamiliarName(name))
	}
	return id, nil
}

// ingestCommitLayer stores what write writes as a plain tar layer blob.
func (s *Service) ingestCommitLayer(ctx context.Context, lease *image.Lease, write func(context.Context, io.Writer) error) (ocispec.Descriptor, error) {
	ref := "commit-" + randomRef()
	w, err := content.OpenWriter(ctx, s.store.Content(), ref, ocispec.Descriptor{})
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	committed := false
	defer func() {
		if !committed {
			w.Close()
			_ = s.store.Content().Abort(context.WithoutCancel(ctx), ref)
		}
	}()
	// Large writes: the content writer hashes a large one while it
	// writes it.
	bw := bufio.NewWriterSize(w, 1<<20)
	if err := write(ctx, bw); err != nil {
		return ocispec.Descriptor{}, err
	}
	if err := bw.Flush(); err != nil {
		return ocispec.Descriptor{}, err
	}
	st, err := w.Status()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	d, err := lease.Commit(ctx, w, st.Offset, "", nil)
	committed = true
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: d, Size: st.Offset}, nil
}

func randomRef() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
