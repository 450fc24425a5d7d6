package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/archive"
	"github.com/berth-project/berth/internal/mount"
	"github.com/berth-project/berth/internal/snapshot"
)

// containerLayers is a container's writable layer and the image content
// under it, as diff, commit and export read them: from the snapshot's
// directories, never through the container's own mount.
type containerLayers struct {
	// upper is the container's layer: an overlay upper directory when
	// overlay is true (whiteouts, opaque directories), else the whole
	// tree (a copying snapshotter).
	upper   string
	overlay bool
	// lowers are the parents' layer directories, nearest first (overlay
	// only); options the overlay's other options.
	lowers  []string
	options []string
	// mounts mount the container's whole tree.
	mounts []mount.Mount
	key    string
}

// layersOf reads the layers of snapshot key from its mounts.
func (d *Daemon) layersOf(ctx context.Context, key string) (*containerLayers, error) {
	mounts, err := d.snapshots.Mounts(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("container filesystem: %w", err)
	}
	up, err := snapshot.UpperDir(mounts)
	if err != nil {
		return nil, fmt.Errorf("container filesystem: %w", err)
	}
	l := &containerLayers{upper: up.Dir, overlay: up.Overlay, mounts: mounts, key: key}
	if up.Overlay {
		for _, o := range mounts[0].Options {
			k, v, _ := strings.Cut(o, "=")
			switch k {
			case "lowerdir":
				l.lowers = strings.Split(v, ":")
			case "upperdir", "workdir", "volatile":
			default:
				l.options = append(l.options, o)
			}
		}
	}
	return l, nil
}

// diffOpts are archive's options for reading the layer.
func (l *containerLayers) diffOpts() []archive.DiffOpt {
	if l.overlay {
		return []archive.DiffOpt{archive.WithOverlayUpper()}
	}
	return nil
}

// withLower calls fn with the path of the image's tree under the layer
// ("" for none) and, for the stubs check, an O_PATH fd of it (-1 for
// none). One parent layer is its directory; several are mounted together
// read-only in a private namespace; a copying snapshotter's parent is
// viewed through the snapshotter.
func (d *Daemon) withLower(ctx context.Context, l *containerLayers, fn func(lower string, fd int) error) error {
	switch {
	case l.overlay && len(l.lowers) == 1:
		return withDir(l.lowers[0], fn)
	case l.overlay && len(l.lowers) > 1:
		m := mount.Mount{Type: "overlay", Source: "overlay",
			Options: append([]string{"ro", "lowerdir=" + strings.Join(l.lowers, ":")}, l.options...)}
		return d.withPrivateMount(ctx, []mount.Mount{m}, fn)
	case l.overlay:
		return fn("", -1)
	}
	info, err := d.snapshots.Stat(ctx, l.key)
	if err != nil {
		return err
	}
	if info.Parent == "" {
		return fn("", -1)
	}
	// The unpack prefix: should the daemon die, the image store removes
	// the view when it opens.
	key := "berth-unpack-fs-" + randomID()
	mounts, err := d.snapshots.View(ctx, key, info.Parent)
	if err != nil {
		return fmt.Errorf("view of the image's layers: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := d.snapshots.Remove(cctx, key); err != nil {
			d.log.Warn("remove a view of an image's layers", "key", key, "err", err)
		}
	}()
	if len(mounts) == 1 && mounts[0].ReadOnly() && (mounts[0].Type == "bind" || strings.Contains(strings.Join(mounts[0].Options, ","), "bind")) {
		return withDir(mounts[0].Source, fn)
	}
	return d.withPrivateMount(ctx, mounts, fn)
}

// withDir calls fn with dir and an O_PATH fd of it.
func withDir(dir string, fn func(string, int) error) error {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	return fn(dir, fd)
}

// withPrivateMount mounts mounts in a private namespace for the duration
// of fn, which gets the tree's fd path and fd.
func (d *Daemon) withPrivateMount(_ context.Context, mounts []mount.Mount, fn func(string, int) error) error {
	rootfd := -1
	ns, err := d.newPrivateNS(func(dir string) error {
		if err := mount.All(mounts, dir); err != nil {
			return err
		}
		fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return &os.PathError{Op: "open", Path: dir, Err: err}
		}
		rootfd = fd
		return nil
	})
	if err != nil {
		return err
	}
	defer ns.Close()
	defer unix.Close(rootfd)
	return fn(fdPath(rootfd), rootfd)
}

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
