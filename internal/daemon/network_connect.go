package daemon

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/moby/moby/api/types/events"
	networktypes "github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/network"
)

// NetworkConnect is POST /networks/{id}/connect. A running container joins
// the network at once (a new interface in its sandbox; its /etc/hosts
// gains the address); any other container records it and joins at its
// next start. docker's checks and words.
func (d *Daemon) NetworkConnect(ctx context.Context, idOrName string, req networktypes.ConnectRequest) error {
	c, r, err := d.get(req.Container)
	if err != nil {
		return err
	}
	n, err := d.nets.m.Network(idOrName)
	if err != nil {
		return err
	}
	asked := endpointConfig(req.EndpointConfig)
	asked.NetworkID = n.ID
	r.op.Lock()
	defer r.op.Unlock()
	// A start begun in the background used the container as it was.
	d.dropPrestart(ctx, c, r)
	ctx = context.WithoutCancel(ctx)

	c.Lock()
	if err := d.checkConnect(c, n, asked); err != nil {
		c.Unlock()
		return err
	}
	running := c.NetworkSettings.SandboxKey != ""
	if !running {
		defer c.Unlock()
		if _, ok := networkKey(c, n); ok {
			// docker keeps what the first connect asked: a second one of a
			// stopped container succeeds and changes nothing.
			return nil
		}
		if isUserNetwork(n) {
			// docker lists the names at connect, before any start.
			asked.DNSNames = dnsNames(c, asked.Aliases)
		}
		return d.recordConnect(c, n, asked, true)
	}
	id := c.ID
	c.Unlock()

	mu := d.nets.lock(id)
	defer mu.Unlock()
	c.Lock()
	defer c.Unlock()
	nsPath := c.NetworkSettings.SandboxKey
	if nsPath == "" {
		// It stopped meanwhile: joins at its next start.
		return d.recordConnect(c, n, asked, true)
	}
	ec := network.EndpointConfig{
		ContainerID:   c.ID,
		ContainerName: strings.TrimPrefix(c.Name, "/"),
		Hostname:      c.Config.Hostname,
		Network:       n.ID,
		MAC:           net.HardwareAddr(asked.MacAddress),
		Upstreams:     dnsUpstreams(c.HostConfig.DNS, d.cfg.DNS),
	}
	if isUserNetwork(n) {
		ec.Aliases = asked.Aliases
	}
	if asked.IPAMConfig != nil {
		ec.IPv4 = asked.IPAMConfig.IPv4Address
	}
	before := d.nets.m.Endpoints(c.ID)
	ec.DefaultRoute = !n.Internal && !d.hasRoute(before)
	// The manager's Connect runs under the container's lock: nothing
	// else may change its record meanwhile, and Connect does not call
	// back into the daemon.
	ep, err := d.nets.m.Connect(ctx, nsPath, ec)
	if err != nil {
		return err
	}
	if err := d.recordConnect(c, n, asked, false); err != nil {
		_ = d.nets.m.Disconnect(ctx, c.ID, n.ID)
		return err
	}
	d.applyEndpoint(c, ep)
	eps := append(before, ep)
	if err := d.writeNetworkFiles(c, eps, true); err != nil {
		d.log.Warn("network connect: rewrite /etc/hosts", "container", c.ID, "err", err)
	}
	c.NetworkSettings.Ports = portMap(c, eps)
	if err := d.containers.Save(c); err != nil {
		d.log.Warn("network connect: save record", "container", c.ID, "err", err)
	}
	d.emitNetwork(n.ID, n.Name, events.ActionConnect, c.ID)
	return nil
}

// checkConnect is docker's refusals of a connect. The caller holds c's
// lock.
func (d *Daemon) checkConnect(c *container.Container, n network.Network, asked *networktypes.EndpointSettings) error {
	if c.State.Status == container.Removing || c.State.Status == container.Dead {
		return errdefs.Errorf(errdefs.ErrConflict, "Container %s is marked for removal and cannot be connected or disconnected to the network", c.ID)
	}
	mode := c.HostConfig.NetworkMode
	if mode.IsContainer() {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "container sharing network namespace with another container or host cannot be connected to any other network")
	}
	if n.Driver == "host" && !mode.IsHost() {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "cannot connect container to host network - container must be created in host network mode")
	}
	for name, es := range c.NetworkSettings.Networks {
		if name == n.Name || (es != nil && es.NetworkID == n.ID) {
			if es != nil && es.EndpointID != "" {
				return errdefs.Errorf(errdefs.ErrForbidden, "endpoint with name %s already exists in network %s", strings.TrimPrefix(c.Name, "/"), n.Name)
			}
			continue
		}
		other, err := d.nets.m.Network(name)
		if err != nil {
			continue // removed since
		}
		if err := checkJoinable(other, n); err != nil {
			return err
		}
	}
	return checkEndpointSettings(n, asked)
}

// recordConnect puts n in c's networks as asked, saving the record when
// save is set. The caller holds c's lock.
func (d *Daemon) recordConnect(c *container.Container, n network.Network, asked *networktypes.EndpointSettings, save bool) error {
	ns := &c.NetworkSettings
	if ns.Networks == nil {
		ns.Networks = map[string]*networktypes.EndpointSettings{}
	}
	for name, es := range ns.Networks {
		if es != nil && es.NetworkID == n.ID && name != n.Name {
			delete(ns.Networks, name)
		}
	}
	ns.Networks[n.Name] = asked
	if asked.MacAddress != nil {
		if ns.DesiredMACs == nil {
			ns.DesiredMACs = map[string]networktypes.HardwareAddr{}
		}
		ns.DesiredMACs[n.Name] = asked.MacAddress
	} else {
		delete(ns.DesiredMACs, n.Name)
	}
	if !save {
		return nil
	}
	return d.containers.Save(c)
}

// hasRoute: one of eps is on a network that routes (not internal).
func (d *Daemon) hasRoute(eps []network.Endpoint) bool {
	for _, ep := range eps {
		if n, err := d.nets.m.Network(ep.NetworkID); err == nil && !n.Internal {
			return true
		}
	}
	return false
}

// NetworkDisconnect is POST /networks/{id}/disconnect. A running container
// leaves the network at once (its interface, address and names there go;
// its /etc/hosts loses the address); any other container forgets it.
func (d *Daemon) NetworkDisconnect(ctx context.Context, idOrName string, req networktypes.DisconnectRequest) error {
	c, r, err := d.get(req.Container)
	if err != nil {
		if !req.Force || !errdefs.IsNotFound(err) {
			return err
		}
		// docker's -f for a container it no longer knows deletes a stale
		// endpoint of that name; Berth releases a container's endpoints
		// when it goes (and reconciles them at start), so there is none.
		if _, nerr := d.nets.m.Network(idOrName); nerr != nil {
			return nerr
		}
		return errdefs.Errorf(errdefs.ErrNotFound, "endpoint %s not found", req.Container)
	}
	n, err := d.nets.m.Network(idOrName)
	if err != nil {
		return err
	}
	r.op.Lock()
	defer r.op.Unlock()
	// A start begun in the background used the container as it was.
	d.dropPrestart(ctx, c, r)
	ctx = context.WithoutCancel(ctx)

	c.Lock()
	if c.State.Status == container.Removing || c.State.Status == container.Dead {
		c.Unlock()
		return errdefs.Errorf(errdefs.ErrConflict, "Container %s is marked for removal and cannot be connected or disconnected to the network", c.ID)
	}
	if n.Driver == "host" || c.HostConfig.NetworkMode.IsHost() {
		c.Unlock()
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "container cannot be disconnected from host network or connected to host network")
	}
	name, ok := networkKey(c, n)
	if !ok {
		c.Unlock()
		if c.NetworkSettings.SandboxKey == "" {
			// docker's words differ by one article for a stopped container.
			return fmt.Errorf("container %s is not connected to the network %s", c.ID, n.Name)
		}
		return fmt.Errorf("container %s is not connected to network %s", c.ID, n.Name)
	}
	if c.NetworkSettings.SandboxKey == "" {
		defer c.Unlock()
		forgetNetwork(c, name)
		return d.containers.Save(c)
	}
	id := c.ID
	c.Unlock()

	mu := d.nets.lock(id)
	defer mu.Unlock()
	connected := false
	for _, ep := range d.nets.m.Endpoints(id) {
		if ep.NetworkID == n.ID {
			connected = true
		}
	}
	if connected {
		if err := d.nets.m.Disconnect(ctx, id, n.ID); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("container %s failed to leave network %s: %w", id, n.Name, err)
		}
	}
	c.Lock()
	defer c.Unlock()
	forgetNetwork(c, name)
	if c.NetworkSettings.SandboxKey != "" {
		eps := d.nets.m.Endpoints(id)
		if err := d.writeNetworkFiles(c, eps, true); err != nil {
			d.log.Warn("network disconnect: rewrite /etc/hosts", "container", id, "err", err)
		}
		c.NetworkSettings.Ports = portMap(c, eps)
	}
	if err := d.containers.Save(c); err != nil {
		d.log.Warn("network disconnect: save record", "container", id, "err", err)
	}
	if connected {
		d.emitNetwork(n.ID, n.Name, events.ActionDisconnect, id)
	}
	return nil
}

// networkKey is the name under which c's record keeps n. The caller holds
// c's lock.
func networkKey(c *container.Container, n network.Network) (string, bool) {
	for name, es := range c.NetworkSettings.Networks {
		if name == n.Name || (es != nil && es.NetworkID == n.ID) {
			return name, true
		}
	}
	return "", false
}

func forgetNetwork(c *container.Container, name string) {
	delete(c.NetworkSettings.Networks, name)
	delete(c.NetworkSettings.DesiredMACs, name)
}
