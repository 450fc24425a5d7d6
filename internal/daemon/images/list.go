package images

import (
	"context"
	"sort"

	imagetypes "github.com/moby/moby/api/types/image"
	digest "github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image"
)

// listFilters are the filters docker images accepts.
var listFilters = map[string]bool{"before": true, "dangling": true, "label": true, "label!": true, "reference": true, "since": true, "until": true}

// ImageList is GET /images/json.
func (s *Service) ImageList(ctx context.Context, opts server.ImageListOptions) ([]imagetypes.Summary, error) {
	if err := checkFilters(opts.Filters, listFilters); err != nil {
		return nil, err
	}
	for _, key := range []string{"before", "since"} {
		for _, v := range opts.Filters[key] {
			if _, err := s.store.Get(ctx, v); err != nil {
				return nil, noSuchImage(v, err)
			}
		}
	}
	list, err := s.store.List(ctx, image.ListOptions{All: opts.All, Filters: opts.Filters})
	if err != nil {
		return nil, err
	}
	if opts.SharedSize && len(list) > 0 {
		du, err := s.store.DiskUsage(ctx, image.DiskUsageOptions{})
		if err != nil {
			return nil, err
		}
		shared := map[string]int64{}
		for _, it := range du.Items {
			shared[it.ID] = it.SharedSize
		}
		for i := range list {
			list[i].SharedSize = shared[list[i].ID]
		}
	}
	if s.opts.ImageInUse != nil {
		for i := range list {
			list[i].Containers = int64(len(s.usersOf(digest.Digest(list[i].ID))))
		}
	}
	return list, nil
}

// checkFilters refuses a filter key docker would not accept, in docker's
// words.
func checkFilters(f server.Filters, accepted map[string]bool) error {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !accepted[k] {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid filter '%s'", k)
		}
	}
	return nil
}

// ImageInspect is GET /images/{name}/json.
func (s *Service) ImageInspect(ctx context.Context, ref string) (imagetypes.InspectResponse, error) {
	out, err := s.store.Inspect(ctx, ref)
	if err != nil {
		return out, noSuchImage(ref, err)
	}
	return out, nil
}

// ImageHistory is GET /images/{name}/history.
func (s *Service) ImageHistory(ctx context.Context, ref string) ([]imagetypes.HistoryResponseItem, error) {
	out, err := s.store.History(ctx, ref)
	if err != nil {
		return nil, noSuchImage(ref, err)
	}
	return out, nil
}
