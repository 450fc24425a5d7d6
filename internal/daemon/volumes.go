package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/container/spec"
	bmount "github.com/berth-project/berth/internal/mount"
)

// volumeRuns are the volumes each container's current run has mounted
// (volume.Store.Mount), by container id: what its end unmounts. A
// container that kept running across a daemon restart gets its entry
// back from its record (restoreVolumes).
type volumeRuns struct {
	mu   sync.Mutex
	byID map[string][]*container.MountPoint
}

func (v *volumeRuns) set(id string, mps []*container.MountPoint) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.byID == nil {
		v.byID = map[string][]*container.MountPoint{}
	}
	v.byID[id] = mps
}

func (v *volumeRuns) take(id string) []*container.MountPoint {
	v.mu.Lock()
	defer v.mu.Unlock()
	mps := v.byID[id]
	delete(v.byID, id)
	return mps
}

// subpathsDir holds, per container, the bind mounts that pin the
// subpaths of its volumes while it runs.
func (d *Daemon) subpathsDir(id string) string {
	return filepath.Join(d.execRoot, "volume-subpaths", id)
}

// setupVolumes gives a starting container its mount points, in docker's
// order (parents first): each volume is mounted through the store (a
// counted mount, which puts the device of a volume with options on its
// directory) and bound at its destination (its subpath, pinned, for
// volume-subpath); a -v host path that does not exist is created, as
// docker does; tmpfs from --mount pass through. The spec gets them all
// resolved (in.Mounts), and each volume mounted is announced (mount
// event). On error what was mounted is unmounted. A record from before
// mount points were kept has none: the spec then reads its HostConfig.
func (d *Daemon) setupVolumes(ctx context.Context, c *container.Container, in *spec.Input) (retErr error) {
	c.Lock()
	if c.MountPoints == nil {
		c.Unlock()
		return nil
	}
	id := c.ID
	mps := c.SortedMountPoints()
	c.Unlock()
	var mounted []*container.MountPoint
	defer func() {
		if retErr != nil {
			d.unmountList(context.WithoutCancel(ctx), id, mounted)
		}
	}()
	mounts := make([]mount.Mount, 0, len(mps))
	for _, m := range mps {
		src := m.Source
		switch {
		case m.IsVolume():
			p, err := d.volumes.Mount(ctx, m.Name, id)
			if err != nil {
				return err
			}
			mounted = append(mounted, m)
			d.emitVolume(m.Name, events.ActionMount, map[string]string{
				"driver":      m.Driver,
				"container":   id,
				"destination": m.Destination,
				"read/write":  strconv.FormatBool(m.RW),
				"propagation": string(m.Propagation),
			})
			src = p
			if sub := subpath(m); sub != "" {
				if src, err = d.pinSubpath(id, p, sub, len(mounted)); err != nil {
					return err
				}
			}
		case m.Type == mount.TypeBind && !m.SkipMountpointCreation:
			if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
				if err := os.MkdirAll(src, 0o755); err != nil {
					return fmt.Errorf("create the bind source %s: %w", src, err)
				}
			}
		}
		mounts = append(mounts, spec.MountFor(m, src))
	}
	in.Mounts = mounts
	d.volumeRuns.set(id, mounted)
	return nil
}

// pinSubpath resolves sub inside the volume's directory dir, never
// following a symlink out of it (a container may have planted one), and
// bind-mounts what it found on a pin of the container's own: the runtime
// then binds the pin, so a path swapped after the check cannot lead it
// elsewhere. The subpath must exist, as in docker.
func (d *Daemon) pinSubpath(id, dir, sub string, n int) (string, error) {
	root, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer root.Close()
	h, err := pathrs.OpenatInRoot(root, sub)
	if err != nil {
		return "", fmt.Errorf("cannot access path %s: %w", filepath.Join(dir, sub), err)
	}
	defer h.Close()
	fi, err := h.Stat()
	if err != nil {
		return "", err
	}
	pins := d.subpathsDir(id)
	if err := os.MkdirAll(pins, 0o700); err != nil {
		return "", err
	}
	pin := filepath.Join(pins, strconv.Itoa(n))
	_ = bmount.UnmountAll(pin, unix.MNT_DETACH)
	_ = os.Remove(pin)
	if fi.IsDir() {
		err = os.Mkdir(pin, 0o700)
	} else {
		err = os.WriteFile(pin, nil, 0o600)
	}
	if err != nil {
		return "", err
	}
	src := "/proc/self/fd/" + strconv.Itoa(int(h.Fd()))
	if err := (bmount.Mount{Type: "bind", Source: src, Options: []string{"rbind"}}).Mount(pin); err != nil {
		return "", fmt.Errorf("volume subpath %s: %w", sub, err)
	}
	return pin, nil
}

// unmountVolumes undoes the volume mounts of container id's run (at its
// exit, a failed start, its removal): each volume is unmounted through
// the store (the last user of a volume with options unmounts its device)
// and announced (unmount event); the subpath pins go. A second call
// finds nothing to do.
func (d *Daemon) unmountVolumes(ctx context.Context, id string) {
	d.unmountList(ctx, id, d.volumeRuns.take(id))
}

func (d *Daemon) unmountList(ctx context.Context, id string, mps []*container.MountPoint) {
	d.removeSubpathPins(id)
	for _, m := range mps {
		if err := d.volumes.Unmount(ctx, m.Name, id); err != nil {
			d.log.Warn("unmount volume", "container", id, "volume", m.Name, "err", err)
		}
		d.emitVolume(m.Name, events.ActionUnmount, map[string]string{"driver": m.Driver, "container": id})
	}
}

// removeSubpathPins unmounts and removes the container's subpath pins.
func (d *Daemon) removeSubpathPins(id string) {
	dir := d.subpathsDir(id)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if err := bmount.UnmountAll(p, unix.MNT_DETACH); err != nil {
			d.log.Warn("unmount volume subpath", "container", id, "path", p, "err", err)
			continue
		}
		if err := os.Remove(p); err != nil {
			d.log.Warn("remove volume subpath pin", "container", id, "path", p, "err", err)
		}
	}
	_ = os.Remove(dir)
}

// volumeReferences are, per volume name, the containers whose mount
// points use it (refs), and those of them running now (running: with a
// process), for volume.Store.SetReferences.
func (d *Daemon) volumeReferences() (refs, running map[string][]string, live map[string][]*container.MountPoint) {
	refs, running, live = map[string][]string{}, map[string][]string{}, map[string][]*container.MountPoint{}
	for _, c := range d.containers.List() {
		c.Lock()
		mps := c.SortedMountPoints()
		hasProcess := c.State.HasProcess()
		id := c.ID
		c.Unlock()
		for _, m := range mps {
			if !m.IsVolume() {
				continue
			}
			if !slices.Contains(refs[m.Name], id) {
				refs[m.Name] = append(refs[m.Name], id)
			}
			if hasProcess {
				running[m.Name] = append(running[m.Name], id)
				live[id] = append(live[id], m)
			}
		}
	}
	return refs, running, live
}

// restoreVolumes gives the volume store back who uses which volume at
// daemon start (references are not stored), before any container is
// restored or the API served: every container's volumes are referenced,
// and a running container's count as mounted, once per mount point, as
// its start mounted them; its exit unmounts them.
func (d *Daemon) restoreVolumes(ctx context.Context) {
	refs, running, live := d.volumeReferences()
	if err := d.volumes.SetReferences(ctx, refs, running); err != nil {
		d.log.Warn("volume references", "err", err)
	}
	for id, mps := range live {
		d.volumeRuns.set(id, mps)
	}
}
