package snapshot

import (
	"fmt"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/mount"
)

// Upper is where an active snapshot's writes land, for a writer that
// changes its files without mounting it: the image store applies a layer
// straight into it, which saves a mount and an unmount per layer.
//
// Write to an Upper only while the snapshot is not mounted anywhere:
// overlayfs does not expect its upper directory to change under it.
type Upper struct {
	// Dir is the directory to write in.
	Dir string
	// Overlay is true when Dir is an overlayfs upper directory over the
	// parents' layers, so a change must be written as overlayfs shows
	// it: a file or directory removed from a parent layer becomes a
	// whiteout (a character device 0/0 of the same name), and a
	// directory that replaces a parent's directory instead of merging
	// with it gets the xattr trusted.overlay.opaque="y". When false, Dir
	// holds the whole tree (no parent, or a snapshotter that copies) and
	// a removal is a plain removal.
	Overlay bool
}

// UpperDir finds the Upper of the mounts of an active snapshot, as
// Prepare or Mounts returned them. Mounts that are read-only (a view) or
// not a snapshotter's single bind or overlay mount are
// errdefs.ErrInvalidParameter.
func UpperDir(mounts []mount.Mount) (Upper, error) {
	if len(mounts) != 1 {
		return Upper{}, fmt.Errorf("upper directory of %d mounts, want one: %w", len(mounts), errdefs.ErrInvalidParameter)
	}
	m := mounts[0]
	if m.ReadOnly() {
		return Upper{}, fmt.Errorf("upper directory of a read-only mount of %s: %w", m.Source, errdefs.ErrInvalidParameter)
	}
	switch {
	case m.Type == "overlay":
		for _, o := range m.Options {
			if dir, ok := strings.CutPrefix(o, "upperdir="); ok {
				return Upper{Dir: dir, Overlay: true}, nil
			}
		}
		return Upper{}, fmt.Errorf("overlay mount without upperdir: %w", errdefs.ErrInvalidParameter)
	case isBind(m):
		return Upper{Dir: m.Source}, nil
	}
	return Upper{}, fmt.Errorf("upper directory of a %s mount: %w", m.Type, errdefs.ErrInvalidParameter)
}

func isBind(m mount.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}
