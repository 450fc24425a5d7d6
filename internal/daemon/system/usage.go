package system

import (
	"context"
	"slices"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"

	"github.com/berth-project/berth/internal/api/server"
)

// DiskUsage is GET /system/df: images from the image service, containers
// and volumes from the daemon; the build cache does not exist yet and is
// reported empty. Types limits the answer (none: all).
func (s *Service) DiskUsage(ctx context.Context, opts server.DiskUsageOptions) (system.DiskUsage, error) {
	want := func(t system.DiskUsageObject) bool {
		return len(opts.Types) == 0 || slices.Contains(opts.Types, string(t))
	}
	var du system.DiskUsage
	if want(system.ImageObject) {
		du.ImageUsage = &image.DiskUsage{}
		if s.opts.Images != nil {
			u, err := s.opts.Images.ImagesDiskUsage(ctx)
			if err != nil {
				return system.DiskUsage{}, err
			}
			du.ImageUsage = u
		}
	}
	if want(system.ContainerObject) {
		du.ContainerUsage = &container.DiskUsage{}
		if s.opts.Containers != nil {
			u, err := s.opts.Containers.ContainersDiskUsage(ctx)
			if err != nil {
				return system.DiskUsage{}, err
			}
			if u != nil {
				du.ContainerUsage = u
			}
		}
	}
	if want(system.VolumeObject) {
		du.VolumeUsage = &volume.DiskUsage{}
		if s.opts.Volumes != nil {
			u, err := s.opts.Volumes.VolumesDiskUsage(ctx)
			if err != nil {
				return system.DiskUsage{}, err
			}
			if u != nil {
				du.VolumeUsage = u
			}
		}
	}
	if want(system.BuildCacheObject) {
		du.BuildCacheUsage = &build.DiskUsage{}
	}
	return du, nil
}
