package images

import (
	"context"
	"strings"

	"github.com/moby/moby/api/types/events"
	imagetypes "github.com/moby/moby/api/types/image"
	digest "github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image"
)

var pruneFilters = map[string]bool{"dangling": true, "until": true, "label": true, "label!": true}

// ImagesPrune is POST /images/prune: dangling images, or with
// dangling=false every image no container uses; until and label filters
// as docker's.
func (s *Service) ImagesPrune(ctx context.Context, filters server.Filters) (imagetypes.PruneReport, error) {
	if err := checkFilters(filters, pruneFilters); err != nil {
		return imagetypes.PruneReport{}, err
	}
	s.settle()
	all := false
	for _, v := range filters["dangling"] {
		switch strings.ToLower(v) {
		case "false", "0":
			all = true
		case "true", "1":
		default:
			return imagetypes.PruneReport{}, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid filter 'dangling=%s'", v)
		}
	}
	rest := map[string][]string{}
	for k, v := range filters {
		if k != "dangling" {
			rest[k] = v
		}
	}
	// The report also lists the layers collected; only images get events.
	before, err := s.store.List(ctx, image.ListOptions{})
	if err != nil {
		return imagetypes.PruneReport{}, err
	}
	isImage := map[string]bool{}
	for _, img := range before {
		isImage[img.ID] = true
	}
	rep, err := s.store.Prune(ctx, image.PruneOptions{All: all, Filters: rest, InUse: s.inUse})
	for _, d := range rep.ImagesDeleted {
		if isImage[d.Deleted] {
			s.idEvent(ctx, events.ActionDelete, digest.Digest(d.Deleted))
		}
	}
	if err != nil {
		return rep, err
	}
	s.pruneEvent(rep.SpaceReclaimed)
	return rep, nil
}
