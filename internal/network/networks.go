package network

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
)

// CreateNetwork creates a user bridge network: its record, its Linux
// bridge with the gateway address, its firewall rules and its resolver.
// Errors, with docker's words: Forbidden for a predefined name or driver
// and for a subnet overlapping another network's, Conflict for a name in
// use, InvalidParameter for malformed input, Unavailable when the address
// pools are exhausted.
func (m *Manager) CreateNetwork(ctx context.Context, req CreateRequest) (Network, error) {
	if err := validateCreate(req); err != nil {
		return Network{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byName(req.Name) != nil {
		return Network{}, errdefs.Errorf(errdefs.ErrConflict, "network with name %s already exists", req.Name)
	}
	id := newID()
	for m.nets[id] != nil {
		id = newID()
	}
	bridge := req.Options[optBridgeName]
	if bridge == "" {
		bridge = m.cfg.bridgeName(id)
	}
	for _, n := range m.nets {
		if n.rec.Driver == driverBridge && n.rec.Bridge == bridge {
			return Network{}, errdefs.Errorf(errdefs.ErrForbidden, "conflicts with network %s (%s): networks have same bridge name", n.rec.ID, n.rec.Bridge)
		}
	}

	h, err := routeHandle()
	if err != nil {
		return Network{}, err
	}
	defer h.Close()

	r := &netRecord{Network: Network{
		ID: id, Name: req.Name, Driver: driverBridge, Scope: "local",
		IPRange: req.IPRange, Internal: req.Internal, Attachable: req.Attachable,
		Labels: cloneMap(req.Labels), Options: cloneMap(req.Options),
		Bridge: bridge, Created: time.Now().UTC(),
	}}
	if v := req.Options[optMTU]; v != "" {
		r.MTU, _ = strconv.Atoi(v) // validated
	}
	if req.Subnet.IsValid() {
		for _, n := range m.nets {
			if n.rec.Subnet.IsValid() && n.rec.Subnet.Overlaps(req.Subnet) {
				return Network{}, errdefs.Errorf(errdefs.ErrForbidden, "invalid pool request: Pool overlaps with other one on this address space")
			}
		}
		r.Subnet, r.UserSubnet = req.Subnet, true
	} else {
		taken, err := hostRoutes(h)
		if err != nil {
			return Network{}, err
		}
		for _, n := range m.nets {
			taken = append(taken, n.rec.Subnet)
		}
		sub, ok := chooseSubnet(m.cfg.DefaultAddressPools, taken)
		if !ok {
			return Network{}, errdefs.Errorf(errdefs.ErrUnavailable, "all predefined address pools have been fully subnetted")
		}
		r.Subnet = sub
	}
	r.Gateway = req.Gateway
	if !r.Gateway.IsValid() {
		r.Gateway = firstHost(r.Subnet)
	}

	// The record first: a crash from here on leaves a network that New
	// completes (its bridge and rules are made from the record).
	if err := m.store.putNetwork(r); err != nil {
		return Network{}, err
	}
	undo := func() {
		_ = m.fw.DeleteNetwork(context.WithoutCancel(ctx), r.Bridge)
		_ = deleteLink(h, r.Bridge)
		_ = m.store.deleteNetwork(r.ID)
	}
	if _, err := ensureBridge(h, r.Bridge, netip.PrefixFrom(r.Gateway, r.Subnet.Bits()), r.mtu(m.cfg.MTU)); err != nil {
		undo()
		return Network{}, fmt.Errorf("network %s: %w", r.Name, err)
	}
	if err := m.fw.SetNetwork(ctx, fwNet(r)); err != nil {
		undo()
		return Network{}, fmt.Errorf("network %s: firewall: %w", r.Name, err)
	}
	m.nets[r.ID] = &netState{rec: r, pool: newPool(r.Subnet, r.IPRange, r.Gateway)}
	m.listenDNS(ctx, r)
	m.log.Debug("network: created", "name", r.Name, "id", r.ID, "subnet", r.Subnet, "bridge", r.Bridge)
	return r.public(), nil
}

// validateCreate runs every check on a create request before anything is
// touched; each check is one function.
func validateCreate(req CreateRequest) error {
	for _, check := range []func(CreateRequest) error{
		checkName, checkDriver, checkSubnet, checkIPRange, checkGateway, checkOptions,
	} {
		if err := check(req); err != nil {
			return err
		}
	}
	return nil
}

func checkName(req CreateRequest) error {
	switch req.Name {
	case "":
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "network name must not be empty")
	case nameBridge, nameHost, nameNone:
		return errdefs.Errorf(errdefs.ErrForbidden, "operation is not permitted on predefined %s network ", req.Name)
	}
	return nil
}

func checkDriver(req CreateRequest) error {
	switch req.Driver {
	case "", driverBridge:
		return nil
	case driverHost, driverNull:
		return errdefs.Errorf(errdefs.ErrForbidden, "only one instance of %q network is allowed", req.Driver)
	default:
		return errdefs.Errorf(errdefs.ErrNotImplemented, "could not find plugin %s in v1 plugin registry: plugin not found", req.Driver)
	}
}

func invalidConfig(format string, args ...any) error {
	return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid network config:\n"+format, args...)
}

func checkSubnet(req CreateRequest) error {
	s := req.Subnet
	if !s.IsValid() {
		return nil
	}
	if !s.Addr().Is4() {
		return errdefs.Errorf(errdefs.ErrNotImplemented, "IPv6 networks are not supported: subnet %s", s)
	}
	if s != s.Masked() {
		return invalidConfig("invalid subnet %s: it should be %s", s, s.Masked())
	}
	if s.Bits() > 30 {
		return invalidConfig("invalid subnet %s: no room for a gateway and a container", s)
	}
	return nil
}

func checkIPRange(req CreateRequest) error {
	r := req.IPRange
	if !r.IsValid() {
		return nil
	}
	if !req.Subnet.IsValid() {
		return invalidConfig("invalid ip-range %s: it requires a subnet", r)
	}
	if r != r.Masked() {
		return invalidConfig("invalid ip-range %s: it should be %s", r, r.Masked())
	}
	if !r.Addr().Is4() || r.Bits() < req.Subnet.Bits() || !req.Subnet.Contains(r.Addr()) {
		return invalidConfig("invalid ip-range %s: parent subnet %s doesn't contain ip-range", r, req.Subnet)
	}
	return nil
}

func checkGateway(req CreateRequest) error {
	g := req.Gateway
	if !g.IsValid() {
		return nil
	}
	if !req.Subnet.IsValid() {
		return invalidConfig("invalid gateway %s: it requires a subnet", g)
	}
	if !req.Subnet.Contains(g) {
		return invalidConfig("invalid gateway %s: parent subnet %s doesn't contain this address", g, req.Subnet)
	}
	if g == req.Subnet.Addr() || g == lastAddr(req.Subnet) {
		return invalidConfig("invalid gateway %s: it is the network or broadcast address of %s", g, req.Subnet)
	}
	return nil
}

func checkOptions(req CreateRequest) error {
	if name, ok := req.Options[optBridgeName]; ok {
		if err := checkIfName(name); err != nil {
			return err
		}
	}
	for _, k := range []string{optICC, optMasquerade} {
		if v, ok := req.Options[k]; ok {
			if _, err := strconv.ParseBool(v); err != nil {
				return errdefs.Errorf(errdefs.ErrInvalidParameter, "failed to parse %s value: %s", k, v)
			}
		}
	}
	if v, ok := req.Options[optHostBinding]; ok {
		if a, err := netip.ParseAddr(v); err != nil || !a.Is4() {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "failed to parse %s value: %s", optHostBinding, v)
		}
	}
	if v, ok := req.Options[optMTU]; ok {
		if n, err := strconv.Atoi(v); err != nil || n < 68 || n > 65535 {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid %s value: %s", optMTU, v)
		}
	}
	return nil
}

// RemoveNetwork removes a user network: resolver, firewall rules, bridge,
// record. Forbidden for a predefined network, Conflict while endpoints
// remain, NotFound for an unknown one.
func (m *Manager) RemoveNetwork(ctx context.Context, idOrName string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var r *netRecord
	for {
		n, err := m.lookup(idOrName)
		if err != nil {
			return err
		}
		r = n.rec
		if r.Predefined {
			return errdefs.Errorf(errdefs.ErrForbidden, "%s is a pre-defined network and cannot be removed", r.Name)
		}
		var wait chan struct{}
		for _, ep := range m.eps {
			if ep.NetworkID != r.ID {
				continue
			}
			if ep.state() != epReleasing {
				return errdefs.Errorf(errdefs.ErrConflict, "error while removing network: network %s id %s has active endpoints", r.Name, r.ID)
			}
			wait = ep.releasing
		}
		if wait == nil {
			break
		}
		// `rm -f` of its last container has returned: wait for the
		// release it started.
		m.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			m.mu.Lock()
			return ctx.Err()
		}
		m.mu.Lock()
	}
	if r.userNetwork() {
		if err := m.dns.Unlisten(r.ID); err != nil {
			m.log.Warn("network: stopping the embedded DNS", "network", r.Name, "err", err)
		}
	}
	if err := m.fw.DeleteNetwork(ctx, r.Bridge); err != nil {
		return fmt.Errorf("network %s: firewall: %w", r.Name, err)
	}
	h, err := routeHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	if err := deleteLink(h, r.Bridge); err != nil {
		return fmt.Errorf("network %s: %w", r.Name, err)
	}
	if err := m.store.deleteNetwork(r.ID); err != nil {
		return err
	}
	delete(m.nets, r.ID)
	return nil
}
