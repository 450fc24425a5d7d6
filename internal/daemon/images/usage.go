package images

import (
	"context"

	imagetypes "github.com/moby/moby/api/types/image"
	digest "github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/internal/image"
)

// ImagesDiskUsage is the images part of GET /system/df: each image's
// size, the part of it shared with others, the containers using it; the
// total (each layer once) and what removing unused images would reclaim.
func (s *Service) ImagesDiskUsage(ctx context.Context) (*imagetypes.DiskUsage, error) {
	s.settle()
	du, err := s.store.DiskUsage(ctx, image.DiskUsageOptions{
		Containers: func(_ context.Context, id digest.Digest) (int64, error) { return int64(len(s.usersOf(id))), nil },
	})
	if err != nil {
		return nil, err
	}
	return &du, nil
}

// Count is the number of images (docker info's Images).
func (s *Service) Count(ctx context.Context) (int, error) {
	list, err := s.store.List(ctx, image.ListOptions{})
	if err != nil {
		return 0, err
	}
	return len(list), nil
}
