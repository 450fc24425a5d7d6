package daemon

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/network"
)

// An auto-remove container (`docker run --rm`) is started right after its
// create, once the client has attached and asked to wait: the docker CLI
// spends some milliseconds between the two (its signal handlers, the
// attach's connection). The start's first half, which runs no code of
// the container's, is done in that gap, in the background: the layer's
// mount, the network, the volumes, the spec and the shim with the
// runtime's create. The container's process then waits in the runtime
// for the start, which only publishes the task and starts it.
//
// The start takes what is ready. Whatever ends the container's chance to
// start as it was created waits for the background work and undoes it
// first: its removal, a filesystem operation that mounts the layer
// itself, a network connect or disconnect, an update. A prestart that no
// start takes within prestartTTL is undone too (`docker create --rm`
// then a late start, which then does all the work itself).

// prestartTTL is how long a prestarted container may wait for its start.
const prestartTTL = 10 * time.Second

// prestarted is the background work's result: the layer is mounted, and
// task, when set, is the created task.
type prestarted struct {
	mounted bool
	task    container.Task
}

// prestart begins c's start in the background; the caller holds c's lock
// and has just created it. Only the mount is done for a container that
// joins another's namespaces: what it joins must be taken at its start.
// ahead says no client waits for c yet (the next container): its shim
// then creates it at background priority until hurried (hurryPrestart,
// by the claim of a create or a wait for the result) or first called.
func (d *Daemon) prestart(c *container.Container, r *run, ahead bool) {
	done := make(chan prestarted, 1)
	r.prestarted = done
	made := make(chan struct{})
	r.prestartMade = made
	var hurry chan struct{}
	if ahead {
		hurry = make(chan struct{})
		var once sync.Once
		r.hurryPrestart = func() { once.Do(func() { close(hurry) }) }
	}
	id, key := c.ID, c.SnapshotKey
	h := c.HostConfig
	full := !h.NetworkMode.IsContainer() && !h.PidMode.IsContainer() && !h.IpcMode.IsContainer()
	d.bg.Add(1)
	go func() {
		defer d.bg.Done()
		ctx := context.Background()
		if ahead {
			ctx = network.Ahead(ctx)
		}
		var p prestarted
		err := d.mountRootfs(ctx, key, d.rootfsDir(id), true)
		p.mounted = err == nil
		if p.mounted && full && !d.isClosing() {
			p.task, err = d.launch(ctx, c, r, true, hurry)
			if err != nil {
				// Undone (unmounted); the start does it again, and
				// reports.
				p.mounted = false
				d.clearVolatileMark(ctx, key)
			}
		}
		if err != nil {
			d.log.Debug("prestart", "container", id, "err", err)
		}
		if p.task != nil {
			c.Lock()
			if r.prestarted == done {
				r.prestartTask = p.task
			}
			c.Unlock()
		}
		close(made)
		done <- p
		if p.task != nil {
			time.AfterFunc(prestartTTL, func() { d.expirePrestart(c, r, done) })
		}
	}()
}

// takePrestart waits for c's background work, if it has any, and returns
// its result, which is the caller's from then on. The caller does not
// hold c's lock.
func (d *Daemon) takePrestart(c *container.Container, r *run) prestarted {
	c.Lock()
	done := r.prestarted
	r.prestarted = nil
	hurry := r.hurryPrestart
	r.hurryPrestart = nil
	r.prestartTask = nil
	c.Unlock()
	if done == nil {
		return prestarted{}
	}
	if hurry != nil {
		hurry()
	}
	return <-done
}

// dropPrestart undoes c's background work, for an operation that needs
// the container as created: unmounted, no network, no task.
func (d *Daemon) dropPrestart(ctx context.Context, c *container.Container, r *run) {
	ctx = context.WithoutCancel(ctx)
	p := d.takePrestart(c, r)
	if p.task != nil {
		if err := p.task.Delete(ctx); err != nil {
			d.log.Warn("prestart: delete the task", "container", c.ID, "err", err)
		}
		_ = p.task.Close()
	}
	if !p.mounted {
		return
	}
	d.cleanupRun(ctx, c.ID, nil)
	c.Lock()
	key := c.SnapshotKey
	c.Unlock()
	if _, parked := d.spares.parked.Load(key); !parked {
		d.clearVolatileMark(ctx, key)
	}
}

// expirePrestart undoes a prestart that no start took in time.
func (d *Daemon) expirePrestart(c *container.Container, r *run, done chan prestarted) {
	if d.isClosing() {
		return
	}
	r.op.Lock()
	defer r.op.Unlock()
	c.Lock()
	mine := r.prestarted == done
	c.Unlock()
	if mine {
		d.dropPrestart(context.Background(), c, r)
	}
}

// clearVolatileMark lets a layer that was mounted volatile be mounted
// again: overlayfs leaves work/incompat/volatile in the workdir and
// refuses the next mount while it is there, since after a crash the upper
// may be incomplete. The layer was unmounted cleanly just now, which is
// the case the kernel's documentation says the mark may be removed in.
func (d *Daemon) clearVolatileMark(ctx context.Context, key string) {
	mounts, err := d.snapshots.Mounts(ctx, key)
	if err != nil {
		return
	}
	for _, m := range mounts {
		if work := workDirOf(m); work != "" {
			if err := removeVolatileMark(work); err != nil {
				d.log.Warn("clear the volatile mark of a layer", "snapshot", key, "err", err)
			}
		}
	}
}

// removeVolatileMark removes what a volatile overlay mount left in its
// workdir (work/work/incompat/volatile/dirty), which makes overlayfs
// refuse the next mount. Only after a clean unmount, or with the layer
// about to be removed.
func removeVolatileMark(workdir string) error {
	return os.RemoveAll(filepath.Join(workdir, "work", "incompat"))
}
