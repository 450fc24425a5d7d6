package servertest

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
)

// fakeNetwork is an in-memory network: no bridge, no addresses handed
// out beyond a counter, enough for API and CLI tests.
type fakeNetwork struct {
	network.Network
	predefined bool
	next       int                                 // last host number handed out
	endpoints  map[string]network.EndpointResource // by container id
}

// ensureNetworks adds docker's three predefined networks. f.mu must be held.
func (f *Fake) ensureNetworks() {
	if f.networks != nil {
		return
	}
	f.networks = map[string]*fakeNetwork{}
	for _, n := range []struct{ name, driver, subnet string }{
		{"bridge", "bridge", "172.17.0.0/16"}, {"host", "host", ""}, {"none", "null", ""},
	} {
		nw := &fakeNetwork{predefined: true, endpoints: map[string]network.EndpointResource{}}
		nw.ID, nw.Name, nw.Driver, nw.Scope = newID(), n.name, n.driver, "local"
		nw.Created = time.Now().UTC()
		nw.EnableIPv4 = true
		nw.IPAM = network.IPAM{Driver: "default", Config: []network.IPAMConfig{}}
		if n.subnet != "" {
			p := netip.MustParsePrefix(n.subnet)
			nw.IPAM.Config = append(nw.IPAM.Config, network.IPAMConfig{Subnet: p, Gateway: p.Addr().Next()})
			nw.next = 1
		}
		nw.Options, nw.Labels = map[string]string{}, map[string]string{}
		f.networks[nw.ID] = nw
	}
}

// findNetwork resolves an exact ID, an exact name, or a unique ID prefix,
// in docker's order. f.mu must be held.
func (f *Fake) findNetwork(ref string) (*fakeNetwork, error) {
	f.ensureNetworks()
	if n, ok := f.networks[ref]; ok {
		return n, nil
	}
	for _, n := range f.networks {
		if n.Name == ref {
			return n, nil
		}
	}
	var found *fakeNetwork
	for _, n := range f.networks {
		if ref != "" && strings.HasPrefix(n.ID, ref) {
			if found != nil {
				return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "network %s is ambiguous (%d matches found based on ID prefix)", ref, 2)
			}
			found = n
		}
	}
	if found == nil {
		return nil, errdefs.Errorf(errdefs.ErrNotFound, "network %s not found", ref)
	}
	return found, nil
}

// AddNetwork creates a network directly (test setup) and returns its ID.
func (f *Fake) AddNetwork(name string, labels map[string]string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.createLocked(network.CreateRequest{Name: name, Driver: "bridge", Labels: labels})
	return n.ID
}

// createLocked stores a new network. f.mu must be held.
func (f *Fake) createLocked(req network.CreateRequest) *fakeNetwork {
	f.ensureNetworks()
	nw := &fakeNetwork{endpoints: map[string]network.EndpointResource{}}
	nw.ID, nw.Name, nw.Scope = newID(), req.Name, "local"
	nw.Driver = req.Driver
	if nw.Driver == "" {
		nw.Driver = "bridge"
	}
	nw.Created = time.Now().UTC()
	nw.EnableIPv4 = true
	nw.Internal, nw.Attachable = req.Internal, req.Attachable
	nw.IPAM = network.IPAM{Driver: "default", Config: []network.IPAMConfig{}}
	if req.IPAM != nil {
		nw.IPAM.Config = append(nw.IPAM.Config, req.IPAM.Config...)
	}
	if len(nw.IPAM.Config) == 0 {
		// One /24 per network out of 10.99/16 is plenty for a fake.
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 99, byte(len(f.networks)), 0}), 24)
		nw.IPAM.Config = []network.IPAMConfig{{Subnet: p, Gateway: p.Addr().Next()}}
	}
	nw.next = 1
	nw.Options, nw.Labels = map[string]string{}, map[string]string{}
	for k, v := range req.Options {
		nw.Options[k] = v
	}
	for k, v := range req.Labels {
		nw.Labels[k] = v
	}
	f.networks[nw.ID] = nw
	f.publish(events.NetworkEventType, events.ActionCreate, nw.ID, map[string]string{"name": nw.Name, "type": nw.Driver})
	return nw
}

func (n *fakeNetwork) inspect() network.Inspect {
	in := network.Inspect{Network: n.Network, Containers: map[string]network.EndpointResource{}}
	for id, ep := range n.endpoints {
		in.Containers[id] = ep
	}
	return in
}

// NetworkList lists networks; it understands docker's filters (name and
// id by substring, driver, scope, type, label, dangling).
func (f *Fake) NetworkList(ctx context.Context, filters server.Filters) ([]network.Summary, error) {
	if err := f.enter("NetworkList", "", filters); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ensureNetworks()
	list := []network.Summary{}
	for _, n := range f.networks {
		if !n.matches(filters) {
			continue
		}
		list = append(list, network.Summary{Network: n.Network})
	}
	slices.SortFunc(list, func(a, b network.Summary) int { return strings.Compare(a.Name, b.Name) })
	return list, nil
}

func (n *fakeNetwork) matches(filters server.Filters) bool {
	if !matchFilter(filters["name"], n.Name) || !matchFilter(filters["id"], n.ID) ||
		!matchLabels(filters["label"], n.Labels) {
		return false
	}
	if d := filters["driver"]; len(d) > 0 && !slices.Contains(d, n.Driver) {
		return false
	}
	if s := filters["scope"]; len(s) > 0 && !slices.Contains(s, n.Scope) {
		return false
	}
	for _, t := range filters["type"] {
		if (t == "custom") == n.predefined {
			return false
		}
	}
	for _, d := range filters["dangling"] {
		dangling := !n.predefined && len(n.endpoints) == 0
		if (d == "true" || d == "1") != dangling {
			return false
		}
	}
	return true
}

// NetworkInspect returns a network with its endpoints.
func (f *Fake) NetworkInspect(ctx context.Context, idOrName string, opts server.NetworkInspectOptions) (network.Inspect, error) {
	if err := f.enter("NetworkInspect", idOrName, opts); err != nil {
		return network.Inspect{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.findNetwork(idOrName)
	if err != nil {
		return network.Inspect{}, err
	}
	return n.inspect(), nil
}

// NetworkCreate creates a bridge network; other drivers are refused as
// the daemon refuses them.
func (f *Fake) NetworkCreate(ctx context.Context, req network.CreateRequest) (network.CreateResponse, error) {
	if err := f.enter("NetworkCreate", req.Name, req); err != nil {
		return network.CreateResponse{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ensureNetworks()
	if req.Driver != "" && req.Driver != "bridge" {
		return network.CreateResponse{}, errdefs.Errorf(errdefs.ErrNotFound, "plugin %q not found", req.Driver)
	}
	for _, n := range f.networks {
		if n.Name == req.Name {
			return network.CreateResponse{}, errdefs.Errorf(errdefs.ErrConflict, "network with name %s already exists", req.Name)
		}
	}
	n := f.createLocked(req)
	return network.CreateResponse{ID: n.ID}, nil
}

// NetworkRemove removes a network without endpoints.
func (f *Fake) NetworkRemove(ctx context.Context, idOrName string) error {
	if err := f.enter("NetworkRemove", idOrName, nil); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.findNetwork(idOrName)
	if err != nil {
		return err
	}
	if n.predefined {
		return errdefs.Errorf(errdefs.ErrForbidden, "%s is a pre-defined network and cannot be removed", n.Name)
	}
	if len(n.endpoints) > 0 {
		return errdefs.Errorf(errdefs.ErrConflict, "error while removing network: network %s id %s has active endpoints", n.Name, n.ID)
	}
	delete(f.networks, n.ID)
	f.publish(events.NetworkEventType, events.ActionDestroy, n.ID, map[string]string{"name": n.Name, "type": n.Driver})
	return nil
}

// NetworkConnect records an endpoint of a container on a network,
// taking the requested address or the next free one.
func (f *Fake) NetworkConnect(ctx context.Context, idOrName string, req network.ConnectRequest) error {
	if err := f.enter("NetworkConnect", idOrName, req); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.findNetwork(idOrName)
	if err != nil {
		return err
	}
	c, err := f.findContainer(req.Container)
	if err != nil {
		return err
	}
	if _, ok := n.endpoints[c.id]; ok {
		return errdefs.Errorf(errdefs.ErrForbidden, "endpoint with name %s already exists in network %s", c.name, n.Name)
	}
	if n.Driver == "host" || n.Driver == "null" {
		return errdefs.Errorf(errdefs.ErrForbidden, "container cannot be disconnected from host network or connected to host network")
	}
	ep := network.EndpointResource{Name: c.name, EndpointID: newID()}
	if len(n.IPAM.Config) > 0 {
		sub := n.IPAM.Config[0].Subnet
		var addr netip.Addr
		if req.EndpointConfig != nil && req.EndpointConfig.IPAMConfig != nil && req.EndpointConfig.IPAMConfig.IPv4Address.IsValid() {
			addr = req.EndpointConfig.IPAMConfig.IPv4Address
		} else {
			n.next++
			addr = sub.Addr()
			for range n.next {
				addr = addr.Next()
			}
		}
		ep.IPv4Address = netip.PrefixFrom(addr, sub.Bits())
	}
	n.endpoints[c.id] = ep
	f.publish(events.NetworkEventType, events.ActionConnect, n.ID, map[string]string{"name": n.Name, "type": n.Driver, "container": c.id})
	return nil
}

// NetworkDisconnect removes a container's endpoint from a network.
func (f *Fake) NetworkDisconnect(ctx context.Context, idOrName string, req network.DisconnectRequest) error {
	if err := f.enter("NetworkDisconnect", idOrName, req); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.findNetwork(idOrName)
	if err != nil {
		return err
	}
	c, err := f.findContainer(req.Container)
	if err != nil {
		return err
	}
	if _, ok := n.endpoints[c.id]; !ok {
		return errdefs.Errorf(errdefs.ErrForbidden, "container %s is not connected to network %s", c.id, n.Name)
	}
	delete(n.endpoints, c.id)
	f.publish(events.NetworkEventType, events.ActionDisconnect, n.ID, map[string]string{"name": n.Name, "type": n.Driver, "container": c.id})
	return nil
}

// NetworksPrune removes every user network without endpoints that the
// label filters select.
func (f *Fake) NetworksPrune(ctx context.Context, filters server.Filters) (network.PruneReport, error) {
	if err := f.enter("NetworksPrune", "", filters); err != nil {
		return network.PruneReport{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ensureNetworks()
	report := network.PruneReport{}
	for id, n := range f.networks {
		if n.predefined || len(n.endpoints) > 0 || !matchLabels(filters["label"], n.Labels) {
			continue
		}
		if nl := filters["label!"]; len(nl) > 0 && matchAnyLabel(nl, n.Labels) {
			continue
		}
		delete(f.networks, id)
		report.NetworksDeleted = append(report.NetworksDeleted, n.Name)
		f.publish(events.NetworkEventType, events.ActionDestroy, n.ID, map[string]string{"name": n.Name, "type": n.Driver})
	}
	slices.Sort(report.NetworksDeleted)
	return report, nil
}

func matchAnyLabel(want []string, labels map[string]string) bool {
	for _, w := range want {
		if matchLabels([]string{w}, labels) {
			return true
		}
	}
	return false
}
