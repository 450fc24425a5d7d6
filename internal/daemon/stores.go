package daemon

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/snapshot/native"
	"github.com/berth-project/berth/internal/snapshot/overlay"
)

var execLookPath = exec.LookPath

// openStores opens the image side (content, snapshots, images), the event
// bus and the container store.
func (d *Daemon) openStores(ctx context.Context) error {
	cs, err := content.NewStore(filepath.Join(d.dataRoot, "content"))
	if err != nil {
		return fmt.Errorf("content store: %w", err)
	}
	snapRoot := filepath.Join(d.dataRoot, "snapshots")
	d.snapshotter = d.cfg.Snapshotter()
	if d.snapshotter == "" {
		d.snapshotter = "overlay"
		if err := overlay.Supported(snapRoot); err != nil {
			d.log.Warn("overlay is not supported here; using the native (copying) snapshotter", "err", err)
			d.snapshotter = "native"
		}
	}
	switch d.snapshotter {
	case "overlay":
		sn, err := overlay.NewSnapshotter(snapRoot)
		if err != nil {
			return fmt.Errorf("overlay snapshotter: %w", err)
		}
		d.snapshots = sn
	default:
		sn, err := native.NewSnapshotter(snapRoot)
		if err != nil {
			return fmt.Errorf("native snapshotter: %w", err)
		}
		d.snapshots = sn
	}
	d.images, err = image.NewStore(ctx, filepath.Join(d.dataRoot, "images"), cs, d.snapshots)
	if err != nil {
		return err
	}
	d.containers, err = container.Open(filepath.Join(d.dataRoot, "containers"))
	if err != nil {
		return fmt.Errorf("container store: %w", err)
	}
	return nil
}
