package daemon

import (
	"context"
	"os"
	"path/filepath"

	"github.com/berth-project/berth/internal/container"
)

// reconcileNetwork settles the manager's endpoints with what restore found,
// before any restart policy starts a container: containers whose process
// runs keep their sandbox, addresses and published ports (the manager
// re-installs their firewall rules and DNS names); everything else (the
// endpoints of containers that exited while the daemon was away, sandboxes
// and veths a crash left) is released. A live container's record is then
// refreshed from the manager, since a crash may have come between its
// start and the save of its record.
func (d *Daemon) reconcileNetwork(ctx context.Context) {
	live := map[string]string{}
	for _, c := range d.containers.List() {
		c.Lock()
		mode := c.HostConfig.NetworkMode
		if c.State.HasProcess() && !mode.IsHost() && !mode.IsContainer() {
			key := c.NetworkSettings.SandboxKey
			if key == "" {
				key = filepath.Join(d.execRoot, "netns", c.ID)
			}
			live[c.ID] = key
		}
		c.Unlock()
	}
	if err := d.nets.m.Reconcile(ctx, live); err != nil {
		d.log.Warn("networking: reconcile after restart", "err", err)
	}
	for id, key := range live {
		c, err := d.containers.Get(id)
		if err != nil {
			continue
		}
		d.refreshNetwork(c, key)
	}
}

// refreshNetwork makes a live container's record say what the manager
// kept for it, unless it exited meanwhile (its teardown, under the same
// lock, removed the sandbox).
func (d *Daemon) refreshNetwork(c *container.Container, key string) {
	mu := d.nets.lock(c.ID)
	defer mu.Unlock()
	if _, err := os.Stat(key); err != nil {
		return
	}
	eps := d.nets.m.Endpoints(c.ID)
	c.Lock()
	ns := &c.NetworkSettings
	sid := ns.SandboxID
	ns.ClearOperational()
	for _, ep := range eps {
		d.applyEndpoint(c, ep)
	}
	ns.SandboxKey, ns.SandboxID = key, sid
	if sid == "" {
		ns.SandboxID = newSandboxID()
	}
	ns.Ports = portMap(c, eps)
	c.Unlock()
}
