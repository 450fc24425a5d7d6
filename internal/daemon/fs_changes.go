package daemon

import (
	"context"

	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/archive"
)

// ContainerChanges is GET /containers/{id}/changes (docker diff): what
// the container's layer changes in its image's tree, in the layer walk's
// order (parents before children), with docker's rules: an added
// directory and all it holds are A, a deleted path is one D (whiteouts;
// an opaque directory's hidden entries too), a directory is C when
// anything in it changed. The mount points the runtime made are left out
// (runtimeStubs), as dockerd keeps them in its init layer.
func (d *Daemon) ContainerChanges(ctx context.Context, name string) ([]containertypes.FilesystemChange, error) {
	c, _, err := d.get(name)
	if err != nil {
		return nil, err
	}
	c.Lock()
	key := c.SnapshotKey
	c.Unlock()
	l, err := d.layersOf(ctx, key)
	if err != nil {
		return nil, err
	}
	out := []containertypes.FilesystemChange{}
	err = d.withLower(ctx, l, func(lower string, lowerfd int) error {
		changes, err := archive.Changes(ctx, lower, l.upper, l.diffOpts()...)
		if err != nil {
			return err
		}
		return withDir(l.upper, func(_ string, upperfd int) error {
			stubs, err := runtimeStubs(upperfd, lowerfd)
			if err != nil {
				return err
			}
			for _, ch := range changes {
				if stubs[ch.Path] {
					continue
				}
				out = append(out, containertypes.FilesystemChange{Path: ch.Path, Kind: changeType(ch.Kind)})
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func changeType(k archive.ChangeKind) containertypes.ChangeType {
	switch k {
	case archive.ChangeAdd:
		return containertypes.ChangeAdd
	case archive.ChangeDelete:
		return containertypes.ChangeDelete
	}
	return containertypes.ChangeModify
}
