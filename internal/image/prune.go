package image

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	imagetypes "github.com/moby/moby/api/types/image"
	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
)

// PruneOptions select what Prune removes, as docker image prune does.
type PruneOptions struct {
	// All removes every image no container uses; otherwise only dangling
	// (untagged) ones.
	All bool
	// Filters are docker's prune filters: "until" and "label"/"label!".
	Filters map[string][]string
	// InUse says whether a container uses an image; in-use images are
	// never pruned.
	InUse InUseFunc
}

// Prune removes unused images and then collects garbage, and reports
// docker's way: every untag and delete, and the bytes reclaimed (blobs and
// snapshots).
func (s *Store) Prune(ctx context.Context, opts PruneOptions) (imagetypes.PruneReport, error) {
	var rep imagetypes.PruneReport
	var until *time.Time
	var labels []labelFilter
	for k, vals := range opts.Filters {
		switch k {
		case "until":
			for _, v := range vals {
				t, err := ParseFilterTime(v, s.opts.now())
				if err != nil {
					return rep, err
				}
				until = &t
			}
		case "label", "label!":
			for _, v := range vals {
				key, val, has := strings.Cut(v, "=")
				labels = append(labels, labelFilter{key: key, value: val, hasValue: has, negate: k == "label!"})
			}
		case "dangling":
			// docker sends dangling=false for prune -a; All says it.
		default:
			return rep, fmt.Errorf("invalid filter '%s': %w", k, errdefs.ErrInvalidParameter)
		}
	}
	inUse := opts.InUse
	if inUse == nil {
		inUse = func(context.Context, digest.Digest) (bool, error) { return false, nil }
	}
	gs, err := s.groups(ctx)
	if err != nil {
		return rep, err
	}
	f := &filters{labels: labels, until: until}
	for _, g := range gs {
		if !opts.All && len(g.repoTags()) > 0 {
			continue
		}
		if !f.match(g) {
			continue
		}
		used, err := inUse(ctx, g.id)
		if err != nil {
			return rep, err
		}
		if used {
			continue
		}
		for _, n := range g.named() {
			rep.ImagesDeleted = append(rep.ImagesDeleted, imagetypes.DeleteResponse{Untagged: FamiliarName(n)})
		}
		if err := s.removeImage(ctx, g.id); err != nil {
			return rep, err
		}
		rep.ImagesDeleted = append(rep.ImagesDeleted, imagetypes.DeleteResponse{Deleted: g.id.String()})
	}
	gc, err := s.GC(ctx)
	if err != nil {
		return rep, err
	}
	for _, d := range gc.SnapshotsRemoved {
		rep.ImagesDeleted = append(rep.ImagesDeleted, imagetypes.DeleteResponse{Deleted: d})
	}
	if gc.BytesReclaimed > 0 {
		rep.SpaceReclaimed = uint64(gc.BytesReclaimed)
	}
	return rep, nil
}

// DiskUsageOptions say how to count containers per image.
type DiskUsageOptions struct {
	// Containers counts the containers using an image.
	Containers func(ctx context.Context, id digest.Digest) (int64, error)
}

// DiskUsage is the images part of GET /system/df: per image its size,
// the part of it shared with other images (layers, counted by chain ID,
// that another image also has), and the containers using it; in total,
// the disk the images use (each layer counted once) and what removing the
// unused ones would reclaim.
func (s *Store) DiskUsage(ctx context.Context, opts DiskUsageOptions) (imagetypes.DiskUsage, error) {
	var du imagetypes.DiskUsage
	gs, err := s.groups(ctx)
	if err != nil {
		return du, err
	}
	type layer struct {
		size  int64
		users int
	}
	layers := map[string]*layer{}
	perImage := make([][]string, len(gs))
	for i, g := range gs {
		keys, sizes := s.layerKeys(ctx, g.resolved)
		perImage[i] = keys
		for j, k := range keys {
			l, ok := layers[k]
			if !ok {
				l = &layer{size: sizes[j]}
				layers[k] = l
			}
			l.users++
		}
	}
	unique := map[string]bool{} // layers of used images, for Reclaimable
	for i, g := range gs {
		sum := s.summary(ctx, g, nil)
		var size, shared int64
		for _, k := range perImage[i] {
			size += layers[k].size
			if layers[k].users > 1 {
				shared += layers[k].size
			}
		}
		sum.Size, sum.SharedSize = size, shared
		sum.Containers = 0
		if opts.Containers != nil {
			n, err := opts.Containers(ctx, g.id)
			if err != nil {
				return du, err
			}
			sum.Containers = n
		}
		if sum.Containers > 0 {
			du.ActiveCount++
			for _, k := range perImage[i] {
				unique[k] = true
			}
		}
		du.Items = append(du.Items, sum)
	}
	sortSummaries(du.Items)
	for k, l := range layers {
		du.TotalSize += l.size
		if !unique[k] {
			du.Reclaimable += l.size
		}
	}
	du.TotalCount = int64(len(gs))
	return du, nil
}

// layerKeys names an image's layers by chain ID (two images share a layer
// only if they share everything beneath it, as snapshots do) and sizes
// them as imageSize does.
func (s *Store) layerKeys(ctx context.Context, res *Resolved) ([]string, []int64) {
	chains := identity.ChainIDs(append([]digest.Digest(nil), res.DiffIDs()...))
	sizes := s.layerSizes(ctx, res)
	keys := make([]string, len(chains))
	for i, c := range chains {
		keys[i] = c.String()
	}
	return keys, sizes[:len(keys)]
}
