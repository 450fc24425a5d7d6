package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/events"
	networktypes "github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/network"
)

// The API's network endpoints, over the network manager; connect and
// disconnect of containers are in network_connect.go.

// NetworkList is GET /networks: every network (bridge, host and none
// included) that the filters select, by name.
func (d *Daemon) NetworkList(ctx context.Context, filters server.Filters) ([]networktypes.Summary, error) {
	match, err := d.networkFilter(filters)
	if err != nil {
		return nil, err
	}
	out := []networktypes.Summary{}
	for _, n := range d.nets.m.Networks() {
		if match(n) {
			out = append(out, networktypes.Summary{Network: networkResource(n)})
		}
	}
	slices.SortFunc(out, func(a, b networktypes.Summary) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// NetworkInspect is GET /networks/{id}: the network and the containers
// attached to it now.
func (d *Daemon) NetworkInspect(ctx context.Context, idOrName string, opts server.NetworkInspectOptions) (networktypes.Inspect, error) {
	n, err := d.nets.m.Network(idOrName)
	if err != nil {
		return networktypes.Inspect{}, err
	}
	if opts.Scope != "" && opts.Scope != n.Scope {
		return networktypes.Inspect{}, errdefs.Errorf(errdefs.ErrNotFound, "network %s not found", idOrName)
	}
	in := networktypes.Inspect{Network: networkResource(n), Containers: map[string]networktypes.EndpointResource{}}
	for _, a := range d.attached(n) {
		in.Containers[a.id] = networktypes.EndpointResource{
			Name:        a.name,
			EndpointID:  a.es.EndpointID,
			MacAddress:  a.es.MacAddress,
			IPv4Address: prefixOf(a.es),
		}
	}
	return in, nil
}

// NetworkCreate is POST /networks/create: a user bridge network.
func (d *Daemon) NetworkCreate(ctx context.Context, req networktypes.CreateRequest) (networktypes.CreateResponse, error) {
	nreq, err := createRequest(req)
	if err != nil {
		return networktypes.CreateResponse{}, err
	}
	n, err := d.nets.m.CreateNetwork(ctx, nreq)
	if err != nil {
		return networktypes.CreateResponse{}, err
	}
	d.emitNetwork(n.ID, n.Name, events.ActionCreate, "")
	return networktypes.CreateResponse{ID: n.ID}, nil
}

// createRequest turns the API's request into the manager's, refusing what
// Berth's networks cannot be: swarm scopes, config-only networks, IPv6,
// IPAM drivers and auxiliary addresses.
func createRequest(req networktypes.CreateRequest) (network.CreateRequest, error) {
	out := network.CreateRequest{
		Name:       req.Name,
		Driver:     req.Driver,
		Internal:   req.Internal,
		Attachable: req.Attachable,
		Labels:     req.Labels,
		Options:    req.Options,
	}
	switch {
	case req.Scope != "" && req.Scope != "local":
		return out, errdefs.Errorf(errdefs.ErrForbidden, "cannot create a swarm scoped network when swarm is not active")
	case req.Ingress:
		return out, errdefs.Errorf(errdefs.ErrForbidden, "cannot create an ingress network when swarm is not active")
	case req.ConfigOnly || req.ConfigFrom != nil && req.ConfigFrom.Network != "":
		return out, errdefs.Errorf(errdefs.ErrNotImplemented, "config-only networks are not supported")
	case req.EnableIPv6 != nil && *req.EnableIPv6:
		return out, errdefs.Errorf(errdefs.ErrNotImplemented, "IPv6 networks are not supported: Berth's networks are IPv4 only")
	case req.EnableIPv4 != nil && !*req.EnableIPv4:
		return out, errdefs.Errorf(errdefs.ErrInvalidParameter, "IPv4 cannot be disabled: Berth's networks are IPv4 only")
	}
	if ipam := req.IPAM; ipam != nil {
		if ipam.Driver != "" && ipam.Driver != "default" {
			return out, errdefs.Errorf(errdefs.ErrNotImplemented, "IPAM driver %q is not supported (only the default one)", ipam.Driver)
		}
		var v4 []networktypes.IPAMConfig
		for _, c := range ipam.Config {
			if c.Subnet.IsValid() && !c.Subnet.Addr().Is4() {
				return out, errdefs.Errorf(errdefs.ErrNotImplemented, "IPv6 subnet %s: Berth's networks are IPv4 only", c.Subnet)
			}
			if len(c.AuxAddress) > 0 {
				return out, errdefs.Errorf(errdefs.ErrNotImplemented, "auxiliary addresses are not supported")
			}
			v4 = append(v4, c)
		}
		if len(v4) > 1 {
			return out, errdefs.Errorf(errdefs.ErrNotImplemented, "a network has one IPv4 subnet in Berth, got %d", len(v4))
		}
		if len(v4) == 1 {
			out.Subnet, out.IPRange, out.Gateway = v4[0].Subnet, v4[0].IPRange, v4[0].Gateway
		}
	}
	return out, nil
}

// NetworkRemove is DELETE /networks/{id}. A network with containers on it
// stays, with docker's words and class (403).
func (d *Daemon) NetworkRemove(ctx context.Context, idOrName string) error {
	n, err := d.nets.m.Network(idOrName)
	if err != nil {
		return err
	}
	if err := d.removeNetwork(ctx, n); err != nil {
		return err
	}
	return nil
}

func (d *Daemon) removeNetwork(ctx context.Context, n network.Network) error {
	if n.Predefined {
		return errdefs.Errorf(errdefs.ErrForbidden, "%s is a pre-defined network and cannot be removed", n.Name)
	}
	if users := d.attached(n); len(users) > 0 {
		return activeEndpointsError(n, users)
	}
	if err := d.nets.m.RemoveNetwork(ctx, n.ID); err != nil {
		if errdefs.IsConflict(err) {
			// A container joined it meanwhile.
			return activeEndpointsError(n, d.attached(n))
		}
		return fmt.Errorf("error while removing network: %w", err)
	}
	d.emitNetwork(n.ID, n.Name, events.ActionDestroy, "")
	return nil
}

func activeEndpointsError(n network.Network, users []attachment) error {
	var eps []string
	for _, a := range users {
		eps = append(eps, fmt.Sprintf("name:%q id:%q", a.name, container.ShortID(a.es.EndpointID)))
	}
	return errdefs.Errorf(errdefs.ErrForbidden, "error while removing network: network %s has active endpoints (%s)", n.Name, strings.Join(eps, ", "))
}

// NetworksPrune is POST /networks/prune: every user network no container
// is attached to, that the filters (until, label, label!) select.
func (d *Daemon) NetworksPrune(ctx context.Context, filters server.Filters) (networktypes.PruneReport, error) {
	report := networktypes.PruneReport{NetworksDeleted: []string{}}
	pf, err := parsePruneFilters(filters)
	if err != nil {
		return report, err
	}
	for _, n := range d.nets.m.Networks() {
		if n.Predefined || !pf.match(n.Created, n.Labels) {
			continue
		}
		if err := d.removeNetwork(ctx, n); err != nil {
			if !errdefs.IsForbidden(err) {
				d.log.Warn("network prune", "network", n.Name, "err", err)
			}
			continue
		}
		report.NetworksDeleted = append(report.NetworksDeleted, n.Name)
	}
	d.events.Publish(events.Message{Type: events.NetworkEventType, Action: events.ActionPrune,
		Actor: events.Actor{Attributes: map[string]string{}}, Scope: "local"})
	return report, nil
}

// attachment is a container attached to a network now.
type attachment struct {
	id, name string
	es       networktypes.EndpointSettings
}

// attached lists the containers with an endpoint on n, from their records
// (a running container's record has its endpoints' ids).
func (d *Daemon) attached(n network.Network) []attachment {
	var out []attachment
	for _, c := range d.containers.List() {
		c.Lock()
		for _, es := range c.NetworkSettings.Networks {
			if es != nil && es.EndpointID != "" && es.NetworkID == n.ID {
				out = append(out, attachment{id: c.ID, name: strings.TrimPrefix(c.Name, "/"), es: *es.Copy()})
			}
		}
		c.Unlock()
	}
	slices.SortFunc(out, func(a, b attachment) int { return strings.Compare(a.name, b.name) })
	return out
}

func prefixOf(es networktypes.EndpointSettings) netip.Prefix {
	if !es.IPAddress.IsValid() {
		return netip.Prefix{}
	}
	return netip.PrefixFrom(es.IPAddress, es.IPPrefixLen)
}

// networkResource is a network in the API's shape, docker's fields.
func networkResource(n network.Network) networktypes.Network {
	r := networktypes.Network{
		Name:       n.Name,
		ID:         n.ID,
		Created:    n.Created,
		Scope:      n.Scope,
		Driver:     n.Driver,
		EnableIPv4: true,
		EnableIPv6: n.EnableIPv6,
		IPAM:       networktypes.IPAM{Driver: "default", Config: []networktypes.IPAMConfig{}},
		Internal:   n.Internal,
		Attachable: n.Attachable,
		Options:    n.Options,
		Labels:     n.Labels,
	}
	if r.Scope == "" {
		r.Scope = "local"
	}
	if n.Subnet.IsValid() {
		r.IPAM.Config = append(r.IPAM.Config, networktypes.IPAMConfig{Subnet: n.Subnet, IPRange: n.IPRange, Gateway: n.Gateway})
	}
	return r
}

// networkFilter is GET /networks' filters, docker's semantics: driver,
// scope and type exact; id and name equal or a pattern found anywhere in
// the value (a pattern that does not compile only matches equal values,
// never an error, as dockerd does); label as elsewhere; dangling=true the
// user networks no container is attached to.
func (d *Daemon) networkFilter(f server.Filters) (func(network.Network) bool, error) {
	ids, names := patternFilter(f["id"]), patternFilter(f["name"])
	var labels []labelFilter
	for _, v := range f["label"] {
		k, val, ok := strings.Cut(v, "=")
		labels = append(labels, labelFilter{key: k, value: val, hasValue: ok})
	}
	dangling := -1
	for _, v := range f["dangling"] {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, `invalid value for filter 'dangling', must be "true" (or "1"), or "false" (or "0")`)
		}
		dangling = 0
		if b {
			dangling = 1
		}
	}
	for key := range f {
		switch key {
		case "driver", "id", "label", "name", "scope", "type", "dangling":
		default:
			return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid filter '%s'", key)
		}
	}
	return func(n network.Network) bool {
		if v := f["driver"]; len(v) > 0 && !slices.Contains(v, n.Driver) {
			return false
		}
		if ids != nil && !ids(n.ID) {
			return false
		}
		if names != nil && !names(n.Name) {
			return false
		}
		if v := f["scope"]; len(v) > 0 && !slices.Contains(v, "local") {
			return false
		}
		if v := f["type"]; len(v) > 0 {
			kind := "custom"
			if n.Predefined {
				kind = "builtin"
			}
			if !slices.Contains(v, kind) {
				return false
			}
		}
		if !labelsMatch(n.Labels, labels, nil) {
			return false
		}
		if dangling >= 0 {
			unused := !n.Predefined && len(d.attached(n)) == 0
			if unused != (dangling == 1) {
				return false
			}
		}
		return true
	}, nil
}

// patternFilter matches a value the way dockerd's filters.Args.Match does:
// equal to one of the filter's values, or matched by one that compiles as a
// regular expression. Nil when there are no values, so no filtering.
func patternFilter(values []string) func(string) bool {
	if len(values) == 0 {
		return nil
	}
	var res []*regexp.Regexp
	for _, v := range values {
		if re, err := regexp.Compile(v); err == nil {
			res = append(res, re)
		}
	}
	return func(s string) bool {
		return slices.Contains(values, s) || anyOf(res, func(re *regexp.Regexp) bool { return re.MatchString(s) })
	}
}
