package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/network/dns"
)

// Connect attaches the sandbox at nsPath to a network: an address from the
// network's pool (or cfg.IPv4), a veth pair whose host side hangs off the
// bridge and whose peer is created directly inside the sandbox as
// eth0, eth1..., the address and (DefaultRoute, not internal) the default
// route there, the published ports, and the endpoint's names in the
// network's resolver.
//
// Errors: NotFound for an unknown network; Conflict if the container is
// already on it or a host port is taken; InvalidParameter for a bad --ip
// (outside the subnet, in use), aliases or --ip on the default bridge.
// A failure half-way undoes everything done so far.
func (m *Manager) Connect(ctx context.Context, nsPath string, cfg EndpointConfig) (Endpoint, error) {
	ep, n, record, err := m.reserve(ctx, nsPath, cfg)
	if err != nil {
		return Endpoint{}, err
	}
	// The record is written while the kernel makes the interface, and
	// Connect returns only once both are done. A crash in between leaves
	// a veth without a record, or a record without a veth, and Reconcile
	// removes either (a veth on our bridges that no record owns; a record
	// whose veth is gone); the container was not started.
	written := make(chan error, 1)
	go func() { written <- m.store.putEndpointData(ep.ID, record) }()
	err = m.plumb(ctx, ep, n)
	if werr := <-written; err == nil && werr != nil {
		err = werr
		m.unplumb(ctx, ep)
	}
	if err != nil {
		m.forget(ep)
		return Endpoint{}, err
	}
	return ep.public(), nil
}

// unplumb undoes a plumb that succeeded.
func (m *Manager) unplumb(ctx context.Context, ep *epRecord) {
	_ = deleteLink(m.nl, ep.HostIfName)
	if len(ep.Ports) > 0 {
		_ = m.fw.DeletePorts(context.WithoutCancel(ctx), ep.ID)
	}
	m.mu.Lock()
	n := m.nets[ep.NetworkID]
	m.mu.Unlock()
	if n != nil && n.rec.userNetwork() {
		m.dns.DeleteRecord(n.rec.ID, ep.ID)
		m.dns.SetUpstreams(ep.Address.Addr(), nil)
	}
}

// reserve checks cfg and, under the lock, holds the address, the ports and
// the interface name, and returns the endpoint's record to write. What an endpoint
// being released still holds is waited for, not refused: `rm -f` then
// `run -p 8080:80` again must work.
func (m *Manager) reserve(ctx context.Context, nsPath string, cfg EndpointConfig) (*epRecord, *netRecord, []byte, error) {
	if err := checkContainerID(cfg.ContainerID); err != nil {
		return nil, nil, nil, err
	}
	if nsPath == "" {
		return nil, nil, nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "container %s has no network sandbox", cfg.ContainerID)
	}
	for {
		m.mu.Lock()
		wait := m.releaseBlocking(cfg)
		if wait == nil {
			ep, n, record, err := m.reserveLocked(nsPath, cfg)
			m.mu.Unlock()
			return ep, n, record, err
		}
		m.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, nil, nil, ctx.Err()
		}
	}
}

// releaseBlocking returns the release to wait for before cfg can be
// reserved: one of the same container on the same network, or one
// holding the address or a host port cfg asks for. Callers hold m.mu.
func (m *Manager) releaseBlocking(cfg EndpointConfig) chan struct{} {
	ns, err := m.lookup(cfg.Network)
	if err != nil {
		return nil
	}
	for _, ep := range m.eps {
		if ep.state() != epReleasing {
			continue
		}
		if ep.NetworkID == ns.rec.ID && (ep.ContainerID == cfg.ContainerID || ep.Address.Addr() == cfg.IPv4) {
			return ep.releasing
		}
		for _, want := range cfg.Ports {
			for _, held := range ep.Ports {
				if want.HostPort != 0 && want.Proto == held.Proto && want.HostPort == held.HostPort {
					return ep.releasing
				}
			}
		}
	}
	return nil
}

func (m *Manager) reserveLocked(nsPath string, cfg EndpointConfig) (*epRecord, *netRecord, []byte, error) {
	ns, err := m.lookup(cfg.Network)
	if err != nil {
		return nil, nil, nil, err
	}
	n := ns.rec
	switch n.Driver {
	case driverHost:
		return nil, nil, nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "container cannot be disconnected from host network or connected to host network")
	case driverNull:
		return nil, nil, nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "container cannot be connected to multiple networks with one of the networks in private (none) mode")
	}
	used := map[string]bool{}
	for _, ep := range m.eps {
		if ep.ContainerID != cfg.ContainerID {
			continue
		}
		if ep.NetworkID == n.ID && ep.state() == epConnected {
			return nil, nil, nil, errdefs.Errorf(errdefs.ErrConflict, "endpoint with name %s already exists in network %s", strings.TrimPrefix(cfg.ContainerName, "/"), n.Name)
		}
		used[ep.IfName] = true
	}
	if !n.userNetwork() && len(cfg.Aliases) > 0 {
		return nil, nil, nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "network-scoped alias is supported only for containers in user defined networks")
	}

	id := newID()
	addr := cfg.IPv4
	if addr.IsValid() {
		switch {
		case !n.UserSubnet:
			return nil, nil, nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid endpoint settings:\nuser specified IP address is supported only when connecting to networks with user configured subnets")
		case !addr.Is4() || !ns.pool.usable(addr) || (n.IPRange.IsValid() && !n.IPRange.Contains(addr)):
			return nil, nil, nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid endpoint settings:\nno configured subnet or ip-range contain the IP address %s", addr)
		case ns.pool.used[addr] != "":
			return nil, nil, nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "Address already in use")
		}
	} else {
		var ok bool
		if addr, ok = ns.pool.next(); !ok {
			return nil, nil, nil, errdefs.Errorf(errdefs.ErrUnavailable, "no available IPv4 addresses on this network's address pools: %s (%s)", n.Name, n.ID)
		}
	}

	var ports []PortBinding
	if !n.Internal && len(cfg.Ports) > 0 {
		var defIP netip.Addr
		if v := n.Options[optHostBinding]; v != "" {
			if a, err := netip.ParseAddr(v); err == nil && !a.IsUnspecified() {
				defIP = a
			}
		}
		if ports, err = m.takePorts(id, cfg.Ports, defIP, addr); err != nil {
			return nil, nil, nil, err
		}
	}
	ns.pool.hold(addr, id)

	ifname := ""
	for i := 0; ifname == ""; i++ {
		if name := "eth" + strconv.Itoa(i); !used[name] {
			ifname = name
		}
	}
	mac := cfg.MAC
	if mac == nil {
		a := addr.As4()
		mac = net.HardwareAddr{0x02, 0x42, a[0], a[1], a[2], a[3]}
	}
	ep := &epRecord{
		Endpoint: Endpoint{
			ID: id, NetworkID: n.ID, NetworkName: n.Name, ContainerID: cfg.ContainerID,
			IfName: ifname, HostIfName: "v" + id[:14],
			Address: netip.PrefixFrom(addr, n.Subnet.Bits()), Gateway: n.Gateway,
			MAC: slices.Clone(mac), Aliases: slices.Clone(cfg.Aliases), Ports: ports,
		},
		ContainerName: strings.TrimPrefix(cfg.ContainerName, "/"),
		Hostname:      cfg.Hostname,
		NsPath:        nsPath,
		DefaultRoute:  cfg.DefaultRoute,
		Upstreams:     slices.Clone(cfg.Upstreams),
	}
	// A sandbox's first interface may come ready-made (ready_linux.go).
	if r, old, ok := m.sandboxes.takeFresh(cfg.ContainerID); ok {
		if ifname == "eth0" && nsPath == m.sandboxes.path(cfg.ContainerID) {
			ep.HostIfName = r.host
			ep.ready = &readyUse{link: r, old: old}
		} else {
			unix.Close(r.fd)
			unix.Close(old)
		}
	}
	if n.userNetwork() {
		ep.DNS = n.Gateway
	}
	record, err := json.Marshal(ep)
	if err != nil {
		if ep.ready != nil {
			ep.ready.drop()
		}
		ns.pool.release(addr, id)
		m.releasePorts(id, ports)
		return nil, nil, nil, err
	}
	m.eps[id] = ep
	return ep, n, record, nil
}

// forget releases what reserve held and removes the record.
func (m *Manager) forget(ep *epRecord) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := m.nets[ep.NetworkID]; n != nil {
		n.pool.release(ep.Address.Addr(), ep.ID)
	}
	m.releasePorts(ep.ID, ep.Ports)
	delete(m.eps, ep.ID)
	if err := m.store.deleteEndpoint(ep.ID); err != nil {
		m.log.Warn("network: removing an endpoint record", "endpoint", ep.ID, "err", err)
	}
}

// plumb makes the endpoint real: veth, address, route, firewall, DNS. On
// error it has undone its own steps.
func (m *Manager) plumb(ctx context.Context, ep *epRecord, n *netRecord) (err error) {
	h := m.nl
	var nsfd int
	if ep.ready != nil {
		nsfd, err = m.attachReady(h, ep, n)
	} else {
		nsfd, err = m.createVeth(h, ep, n)
	}
	if err != nil {
		return err
	}
	defer unix.Close(nsfd)
	defer func() {
		if err != nil {
			_ = deleteLink(h, ep.HostIfName)
		}
	}()

	in, err := routeHandleIn(nsfd, m.hostNS)
	if err != nil {
		return err
	}
	defer in.Close()
	link, err := in.LinkByName(ep.IfName)
	if err != nil {
		return fmt.Errorf("sandbox %s: %w", ep.IfName, err)
	}
	if ep.ready != nil {
		// The ready-made eth0 has a random MAC and the daemon's MTU.
		if err := in.LinkSetHardwareAddr(link, ep.MAC); err != nil {
			return fmt.Errorf("sandbox %s: MAC %s: %w", ep.IfName, ep.MAC, err)
		}
		if mtu := n.mtu(m.cfg.MTU); mtu != link.Attrs().MTU {
			if err := in.LinkSetMTU(link, mtu); err != nil {
				return fmt.Errorf("sandbox %s: MTU %d: %w", ep.IfName, mtu, err)
			}
		}
	}
	if err := in.AddrAdd(link, &netlink.Addr{IPNet: ipNet(ep.Address)}); err != nil {
		return fmt.Errorf("sandbox %s: add address %s: %w", ep.IfName, ep.Address, err)
	}
	if err := in.LinkSetUp(link); err != nil {
		return fmt.Errorf("sandbox %s: up: %w", ep.IfName, err)
	}
	// Both ends have carrier now, but the kernel applies it (qdisc,
	// operstate, the bridge port's forwarding state) in its linkwatch
	// work, a moment later; a first ARP sent before then is lost and
	// retried only after a second. RTM_GETLINK of one device runs its
	// pending linkwatch event at once (rtnl_getlink: linkwatch_sync_dev),
	// so these two reads make the endpoint usable when Connect returns.
	host, err := h.LinkByName(ep.HostIfName)
	if err != nil {
		return fmt.Errorf("veth %s: %w", ep.HostIfName, err)
	}
	if brNetfilter() {
		// With br_netfilter a container's connection to its own
		// published port is DNATed on the bridge and must leave by the
		// port it came in on (docker's hairpin, userland-proxy=false).
		if err := h.LinkSetHairpin(host, true); err != nil {
			return fmt.Errorf("veth %s: hairpin: %w", ep.HostIfName, err)
		}
	}
	if _, err := in.LinkByIndex(link.Attrs().Index); err != nil {
		return fmt.Errorf("sandbox %s: %w", ep.IfName, err)
	}
	if ep.DefaultRoute && !n.Internal {
		route := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: ep.Gateway.AsSlice()}
		if err := in.RouteAdd(route); err != nil {
			return fmt.Errorf("sandbox: default route via %s: %w", ep.Gateway, err)
		}
	}

	if len(ep.Ports) > 0 {
		if err := m.fw.SetPorts(ctx, ep.ID, fwMappings(ep, n.Bridge)); err != nil {
			return fmt.Errorf("publish ports: %w", err)
		}
	}
	if n.userNetwork() {
		m.dns.SetRecord(n.ID, ep.ID, dnsRecord(ep))
		m.dns.SetUpstreams(ep.Address.Addr(), ep.Upstreams)
	}
	return nil
}

// createVeth makes ep's veth pair: the host side on the bridge and up,
// the peer created directly in the sandbox with its name, MAC and MTU. It
// returns the sandbox's descriptor.
func (m *Manager) createVeth(h *netlink.Handle, ep *epRecord, n *netRecord) (int, error) {
	nsfd, err := unix.Open(ep.NsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open network sandbox", Path: ep.NsPath, Err: err}
	}
	br, err := n.bridgeIndex(h)
	if err != nil {
		unix.Close(nsfd)
		return -1, err
	}
	veth := &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{
			Name: ep.HostIfName, MTU: n.mtu(m.cfg.MTU), MasterIndex: br,
			Flags: net.FlagUp, TxQLen: -1,
		},
		PeerName:         ep.IfName,
		PeerHardwareAddr: ep.MAC,
		PeerNamespace:    netlink.NsFd(nsfd),
	}
	if err := h.LinkAdd(veth); err != nil {
		n.brIndex.Store(0) // the bridge may have been made again
		unix.Close(nsfd)
		return -1, fmt.Errorf("create veth %s (%s in the sandbox): %w", ep.HostIfName, ep.IfName, err)
	}
	return nsfd, nil
}

// attachReady mounts ep's ready namespace over its sandbox and puts the
// host side on the bridge, up. It returns the sandbox's descriptor.
func (m *Manager) attachReady(h *netlink.Handle, ep *epRecord, n *netRecord) (int, error) {
	r := ep.ready
	host := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: r.link.host, Index: r.link.index}}
	fail := func(err error) (int, error) {
		_ = h.LinkDel(host)
		unix.Close(r.link.fd)
		return -1, err
	}
	br, err := n.bridgeIndex(h)
	if err != nil {
		r.dropOld()
		return fail(err)
	}
	if err := m.sandboxes.swap(ep.NsPath, r.link, r.old); err != nil {
		return fail(err)
	}
	if mtu := n.mtu(m.cfg.MTU); mtu != m.cfg.MTU {
		if err := h.LinkSetMTU(host, mtu); err != nil {
			return fail(fmt.Errorf("veth %s: MTU %d: %w", r.link.host, mtu, err))
		}
	}
	if err := h.LinkSetMasterByIndex(host, br); err != nil {
		n.brIndex.Store(0)
		return fail(fmt.Errorf("veth %s: master %s: %w", r.link.host, n.Bridge, err))
	}
	if err := h.LinkSetUp(host); err != nil {
		return fail(fmt.Errorf("veth %s: up: %w", r.link.host, err))
	}
	return r.link.fd, nil
}

// readyUse is a ready namespace taken for an endpoint, and the plain one
// it will be mounted over.
type readyUse struct {
	link readyLink
	old  int
}

func (r *readyUse) dropOld() { unix.Close(r.old) }

// drop gives both up (the pair dies with its namespace).
func (r *readyUse) drop() {
	unix.Close(r.link.fd)
	unix.Close(r.old)
}

// dnsRecord is what the resolver answers for ep: container name, aliases
// and short id, lower-case.
func dnsRecord(ep *epRecord) dns.Record {
	var names []string
	add := func(s string) {
		s = strings.ToLower(strings.TrimSuffix(s, "."))
		if s != "" && !slices.Contains(names, s) {
			names = append(names, s)
		}
	}
	add(ep.ContainerName)
	for _, a := range ep.Aliases {
		add(a)
	}
	if len(ep.ContainerID) >= 12 {
		add(ep.ContainerID[:12])
	}
	return dns.Record{Names: names, Addr: ep.Address.Addr()}
}

// Disconnect detaches a container from a network. Its names leave the
// resolver at once; the rest (the veth, whose deletion costs the kernel
// an RCU grace period or two, the firewall mapping, the address and
// ports) is released in the background, off the container-stop path. Until
// then the address and ports stay held: a Connect or RemoveNetwork that
// needs them waits for the release, and Close and Reconcile wait for all.
// NotFound when the container is not connected.
func (m *Manager) Disconnect(ctx context.Context, containerID, network string) error {
	m.mu.Lock()
	var ep *epRecord
	n, err := m.lookup(network)
	if err == nil {
		for _, e := range m.eps {
			if e.ContainerID == containerID && e.NetworkID == n.rec.ID && e.state() == epConnected {
				ep = e
				break
			}
		}
		if ep == nil {
			err = errdefs.Errorf(errdefs.ErrNotFound, "container %s is not connected to network %s", containerID, n.rec.Name)
		}
	}
	if err != nil {
		m.mu.Unlock()
		return err
	}
	ep.releasing = make(chan struct{})
	m.inflight.Add(1)
	m.mu.Unlock()

	if n.rec.userNetwork() {
		m.dns.DeleteRecord(n.rec.ID, ep.ID)
		m.dns.SetUpstreams(ep.Address.Addr(), nil)
	}
	go func() {
		defer m.inflight.Done()
		defer close(ep.releasing)
		// A socket of its own: a veth deletion takes milliseconds, and
		// Connects must not queue behind it on the shared one.
		h, err := routeHandle()
		if err == nil {
			err = m.release(context.WithoutCancel(ctx), h, ep)
			h.Close()
		}
		if err != nil {
			m.log.Warn("network: releasing an endpoint failed; the next start retries", "container", containerID, "network", n.rec.Name, "err", err)
		}
	}()
	return nil
}

// waitReleases returns once every Disconnect's background work is done.
func (m *Manager) waitReleases() { m.inflight.Wait() }

// release undoes an endpoint entirely. Its veth may be gone already (the
// sandbox died): that is no error.
func (m *Manager) release(ctx context.Context, h *netlink.Handle, ep *epRecord) error {
	var errs []error
	if err := deleteLink(h, ep.HostIfName); err != nil {
		errs = append(errs, err)
	}
	if len(ep.Ports) > 0 {
		if err := m.fw.DeletePorts(ctx, ep.ID); err != nil {
			errs = append(errs, fmt.Errorf("unpublish ports: %w", err))
		}
	}
	m.mu.Lock()
	n := m.nets[ep.NetworkID]
	m.mu.Unlock()
	if n != nil && n.rec.userNetwork() {
		m.dns.DeleteRecord(n.rec.ID, ep.ID)
		m.dns.SetUpstreams(ep.Address.Addr(), nil)
	}
	if err := errors.Join(errs...); err != nil {
		// Keep the record and the hold: the next Reconcile tries again.
		return err
	}
	m.forget(ep)
	return nil
}

// Endpoints lists a container's endpoints, eth0 first.
func (m *Manager) Endpoints(containerID string) []Endpoint {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Endpoint
	for _, ep := range m.eps {
		if ep.ContainerID == containerID && ep.state() == epConnected {
			out = append(out, ep.public())
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i].IfName) != len(out[j].IfName) {
			return len(out[i].IfName) < len(out[j].IfName)
		}
		return out[i].IfName < out[j].IfName
	})
	return out
}

// public is a copy the caller may keep and change.
func (ep *epRecord) public() Endpoint {
	e := ep.Endpoint
	e.MAC = slices.Clone(ep.MAC)
	e.Aliases = slices.Clone(ep.Aliases)
	e.Ports = slices.Clone(ep.Ports)
	return e
}

// brNetfilter says whether br_netfilter is loaded (bridged traffic passes
// the IP hooks); it may be loaded at any time, so it is asked each time.
func brNetfilter() bool {
	return unix.Access("/proc/sys/net/bridge/bridge-nf-call-iptables", unix.F_OK) == nil
}

// bridgeIndex is the network's bridge's interface index, looked up once:
// indexes are never reused while the bridge lives, and a failed use
// forgets it.
func (r *netRecord) bridgeIndex(h *netlink.Handle) (int, error) {
	if i := r.brIndex.Load(); i > 0 {
		return int(i), nil
	}
	br, err := h.LinkByName(r.Bridge)
	if err != nil {
		return 0, fmt.Errorf("network %s: bridge %s: %w", r.Name, r.Bridge, err)
	}
	r.brIndex.Store(int32(br.Attrs().Index))
	return br.Attrs().Index, nil
}
