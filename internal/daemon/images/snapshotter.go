package images

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/snapshot/native"
	"github.com/berth-project/berth/internal/snapshot/overlay"
)

// openSnapshotter opens the snapshotter Options.SnapshotterName asks for.
// Overlay is tried by mounting a small overlay where its snapshots would
// live: a kernel without overlayfs, or a data root on a filesystem
// overlayfs refuses as upper layer (overlayfs itself, in a container),
// falls back to the copying snapshotter, with a warning for docker info.
func (s *Service) openSnapshotter(ctx context.Context) error {
	switch s.opts.SnapshotterName {
	case "", "overlay", "overlay2", "overlayfs":
		root := filepath.Join(s.opts.Root, "snapshots")
		err := overlay.Supported(root)
		if err == nil {
			sn, err := overlay.NewSnapshotter(root)
			if err != nil {
				return fmt.Errorf("images: overlay snapshotter: %w", err)
			}
			s.sn, s.driver = sn, DriverOverlay
			return nil
		}
		if !errdefs.IsNotImplemented(err) {
			return fmt.Errorf("images: overlay snapshotter: %w", err)
		}
		s.log.WarnContext(ctx, "overlay cannot mount under the data root; using the copying snapshotter", "root", root, "error", err)
		s.warnings = append(s.warnings, fmt.Sprintf("WARNING: overlay is not usable under %s (%v); images are unpacked by copying (native snapshotter)", root, err))
	case "native", "vfs":
	default:
		return fmt.Errorf("images: unknown snapshotter %q (want overlay or native): %w", s.opts.SnapshotterName, errdefs.ErrInvalidParameter)
	}
	sn, err := native.NewSnapshotter(filepath.Join(s.opts.Root, "snapshots-native"))
	if err != nil {
		return fmt.Errorf("images: native snapshotter: %w", err)
	}
	s.sn, s.driver = sn, DriverNative
	return nil
}
