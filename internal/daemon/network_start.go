package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	networktypes "github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/container/spec"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/network"
)

// setupNetwork gives a starting container its network, before its spec is
// made. In bridge, user-network and none modes that is a sandbox (a
// network namespace with loopback up) connected to each of the
// container's networks in docker's order (the first gets the default
// route and the published ports), /etc/hosts and /etc/resolv.conf saying
// what it got, and the record's network settings; the spec then joins the
// sandbox (in.NetworkNamespacePath). Host and container:<x> modes have
// nothing to set up. A failure leaves nothing behind: the endpoints are
// disconnected (addresses released) and the sandbox removed.
func (d *Daemon) setupNetwork(ctx context.Context, c *container.Container, in *spec.Input) (retErr error) {
	c.Lock()
	mode := c.HostConfig.NetworkMode
	if mode.IsHost() || mode.IsContainer() {
		c.Unlock()
		if mode.IsContainer() {
			if target, err := d.containers.Get(mode.ConnectedContainer()); err == nil {
				d.nets.joined.Store(target.ID, true)
			}
			d.shareNetworkFiles(mode.ConnectedContainer(), in)
		}
		return nil
	}
	id := c.ID
	stale := c.NetworkSettings.SandboxKey != ""
	recyclable := sandboxRecyclable(c.HostConfig)
	cfgs, err := d.endpointConfigs(c)
	c.Unlock()
	if err != nil {
		return networkSetupError{err}
	}
	if d.isClosing() {
		return errdefs.Errorf(errdefs.ErrUnavailable, "the daemon is shutting down")
	}

	mu := d.nets.lock(id)
	defer mu.Unlock()
	if stale || len(d.nets.m.Endpoints(id)) > 0 {
		// What a run the daemon did not see end left (a crash).
		d.releaseNetworkLocked(ctx, id, false)
	}
	t0 := time.Now()
	nsPath, err := d.nets.m.NewSandbox(ctx, id)
	if err != nil {
		return networkSetupError{err}
	}
	if recyclable {
		d.nets.recyclable.Store(id, true)
	}
	var eps []network.Endpoint
	defer func() {
		if retErr != nil {
			d.releaseNetworkLocked(context.WithoutCancel(ctx), id, false)
		}
	}()
	t1 := time.Now()
	for _, ec := range cfgs {
		ep, err := d.nets.m.Connect(ctx, nsPath, ec)
		if err != nil {
			return networkSetupError{err}
		}
		eps = append(eps, ep)
	}
	t2 := time.Now()
	defer func() {
		d.log.Debug("network set up", "container", id, "endpoints", len(eps), "sandbox", t1.Sub(t0), "connect", t2.Sub(t1), "files", time.Since(t2))
	}()

	c.Lock()
	defer c.Unlock()
	if err := d.writeNetworkFiles(c, eps, false); err != nil {
		return networkSetupError{err}
	}
	ns := &c.NetworkSettings
	ns.ClearOperational()
	for _, ep := range eps {
		d.applyEndpoint(c, ep)
	}
	ns.SandboxID = newSandboxID()
	ns.SandboxKey = nsPath
	ns.Ports = portMap(c, eps)
	in.NetworkNamespacePath = nsPath
	for _, ep := range eps {
		d.emitNetwork(ep.NetworkID, ep.NetworkName, events.ActionConnect, id)
	}
	return nil
}

// shareNetworkFiles gives a container in another's network namespace that
// one's /etc/hosts, /etc/resolv.conf, /etc/hostname and hostname, as
// docker does: they describe the network it is on. A target that is gone
// is left to the spec's namespace join, which says so.
func (d *Daemon) shareNetworkFiles(target string, in *spec.Input) {
	other, err := d.containers.Get(target)
	if err != nil {
		return
	}
	other.Lock()
	defer other.Unlock()
	if other.HostsPath == "" || other.ResolvConfPath == "" || other.HostnamePath == "" {
		return
	}
	in.HostsPath, in.ResolvConfPath, in.HostnamePath = other.HostsPath, other.ResolvConfPath, other.HostnamePath
	if in.Config != nil && other.Config != nil {
		cfg := *in.Config
		cfg.Hostname, cfg.Domainname = other.Config.Hostname, other.Config.Domainname
		in.Config = &cfg
	}
}

// teardownNetwork undoes setupNetwork when a run ends (exit, failed start,
// removal, a restore that finds the container gone): every endpoint is
// disconnected (its address, veth, rules and DNS names released), the
// sandbox removed, and the record forgets what the run got. It is cheap
// when there is nothing to undo, and errors are logged: the manager's
// Reconcile at the next daemon start releases what is left.
func (d *Daemon) teardownNetwork(ctx context.Context, id string) {
	if d.nets == nil || d.isClosing() {
		// A closing daemon leaves the network as it is, for the next
		// one's Reconcile (the manager may be closed already).
		return
	}
	mu := d.nets.lock(id)
	defer mu.Unlock()
	d.releaseNetworkLocked(ctx, id, true)
}

// releaseNetworkLocked is teardownNetwork under the container's network
// lock; events says whether to publish docker's disconnect events.
func (d *Daemon) releaseNetworkLocked(ctx context.Context, id string, emit bool) {
	t0 := time.Now()
	eps := d.nets.m.Endpoints(id)
	for _, ep := range eps {
		if err := d.nets.m.Disconnect(ctx, id, ep.NetworkID); err != nil && !errdefs.IsNotFound(err) {
			d.log.Warn("disconnect a container's endpoint", "container", id, "network", ep.NetworkName, "err", err)
		}
		if emit {
			d.emitNetwork(ep.NetworkID, ep.NetworkName, events.ActionDisconnect, id)
		}
	}
	t1 := time.Now()
	remove := d.nets.m.RemoveSandbox
	_, recyclable := d.nets.recyclable.LoadAndDelete(id)
	if _, joined := d.nets.joined.Load(id); recyclable && !joined && emit && len(eps) == 0 {
		remove = d.nets.m.RecycleSandbox
	}
	if err := remove(ctx, id); err != nil {
		d.log.Warn("remove a container's network sandbox", "container", id, "err", err)
	}
	if len(eps) > 0 {
		d.log.Debug("network torn down", "container", id, "endpoints", len(eps), "disconnect", t1.Sub(t0), "sandbox", time.Since(t1))
	}
	if c, err := d.containers.Get(id); err == nil {
		c.Lock()
		c.NetworkSettings.ClearOperational()
		c.Unlock()
	}
}

// sandboxRecyclable says whether a run of a container with host config
// h leaves a network namespace that nothing but the container could have
// used or changed, so that at the run's end the manager may recycle it
// (RecycleSandbox, which then checks that it is still as new): network
// mode none, a pid namespace of its own (its death takes every process
// of the container with it), no privileges over the namespace
// (privileged, CAP_NET_ADMIN) and no net.* sysctls of its own. That no
// other container joined its network is checked at the end (joined).
func sandboxRecyclable(h *containertypes.HostConfig) bool {
	if h == nil || !h.NetworkMode.IsNone() || h.Privileged || !h.PidMode.IsPrivate() {
		return false
	}
	for _, capName := range h.CapAdd {
		switch strings.TrimPrefix(strings.ToUpper(capName), "CAP_") {
		case "ALL", "NET_ADMIN":
			return false
		}
	}
	for k := range h.Sysctls {
		if strings.HasPrefix(k, "net.") || strings.HasPrefix(k, "net/") {
			return false
		}
	}
	return true
}

// endpointConfigs are the manager's Connect requests for c's networks, in
// docker's order: the first network that is not internal gets the default
// route and the published ports. The caller holds c's lock.
func (d *Daemon) endpointConfigs(c *container.Container) ([]network.EndpointConfig, error) {
	if c.HostConfig.NetworkMode.IsNone() {
		return nil, nil
	}
	ports, err := publishedPorts(c.Config, c.HostConfig)
	if err != nil {
		return nil, err
	}
	upstreams := dnsUpstreams(c.HostConfig.DNS, d.cfg.DNS)
	var out []network.EndpointConfig
	routed, published := false, false
	for _, name := range networkOrder(c) {
		es := c.NetworkSettings.Networks[name]
		n, err := d.nets.m.Network(name)
		if err != nil {
			return nil, err
		}
		if n.Driver != "bridge" {
			continue
		}
		ec := network.EndpointConfig{
			ContainerID:   c.ID,
			ContainerName: strings.TrimPrefix(c.Name, "/"),
			Hostname:      c.Config.Hostname,
			Network:       n.ID,
			MAC:           net.HardwareAddr(c.NetworkSettings.DesiredMACs[name]),
			Upstreams:     upstreams,
		}
		if isUserNetwork(n) {
			ec.Aliases = slices.Clone(es.Aliases)
		}
		if es.IPAMConfig != nil {
			ec.IPv4 = es.IPAMConfig.IPv4Address.Unmap()
		}
		if !n.Internal && !routed {
			ec.DefaultRoute, routed = true, true
		}
		if !n.Internal && !published {
			ec.Ports, published = ports, true
		}
		out = append(out, ec)
	}
	return out, nil
}

// applyEndpoint records in c what its endpoint ep got. The caller holds
// c's lock.
func (d *Daemon) applyEndpoint(c *container.Container, ep network.Endpoint) {
	ns := &c.NetworkSettings
	if ns.Networks == nil {
		ns.Networks = map[string]*networktypes.EndpointSettings{}
	}
	es := ns.Networks[ep.NetworkName]
	if es == nil {
		es = &networktypes.EndpointSettings{}
		ns.Networks[ep.NetworkName] = es
	}
	es.NetworkID = ep.NetworkID
	es.EndpointID = ep.ID
	es.Gateway = ep.Gateway
	es.IPAddress = ep.Address.Addr()
	es.IPPrefixLen = ep.Address.Bits()
	es.MacAddress = networktypes.HardwareAddr(ep.MAC)
	es.DNSNames = nil
	if ep.DNS.IsValid() {
		es.DNSNames = dnsNames(c, es.Aliases)
	}
}

// dnsNames are the names a container answers to on a user network, as
// docker lists them: its name, its aliases, its short id, its hostname.
func dnsNames(c *container.Container, aliases []string) []string {
	var names []string
	for _, n := range append(append([]string{strings.TrimPrefix(c.Name, "/")}, aliases...), container.ShortID(c.ID), c.Config.Hostname) {
		if n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}

// publishedPorts are the ports a container publishes, in the manager's
// terms and sorted: each -p binding, and with -P every exposed port that
// has none (a free host port each). A host-port range becomes the first
// port of it that is free now, as docker picks one. Bindings to an IPv6
// host address are left out: Berth's networks are IPv4.
func publishedPorts(cfg *containertypes.Config, host *containertypes.HostConfig) ([]network.PortBinding, error) {
	var ports []networktypes.Port
	for p := range cfg.ExposedPorts {
		ports = append(ports, p)
	}
	for p := range host.PortBindings {
		if _, ok := cfg.ExposedPorts[p]; !ok {
			ports = append(ports, p)
		}
	}
	slices.SortFunc(ports, func(a, b networktypes.Port) int {
		if a.Num() != b.Num() {
			return int(a.Num()) - int(b.Num())
		}
		return strings.Compare(string(a.Proto()), string(b.Proto()))
	})
	var out []network.PortBinding
	for _, p := range ports {
		bindings := host.PortBindings[p]
		if len(bindings) == 0 && host.PublishAllPorts {
			out = append(out, network.PortBinding{Proto: string(p.Proto()), ContainerPort: p.Num()})
			continue
		}
		for _, b := range bindings {
			ip := b.HostIP.Unmap()
			if ip.IsValid() && !ip.Is4() {
				continue
			}
			if ip.IsUnspecified() {
				ip = netip.Addr{}
			}
			lo, hi, err := parseHostPort(b.HostPort)
			if err != nil {
				return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid port specification: %q", b.HostPort)
			}
			port := lo
			if hi > lo {
				port = freePortIn(string(p.Proto()), ip, lo, hi)
			}
			out = append(out, network.PortBinding{Proto: string(p.Proto()), ContainerPort: p.Num(), HostIP: ip, HostPort: port})
		}
	}
	return out, nil
}

// freePortIn is the first port of lo-hi that can be bound now (lo when
// none: the manager then says it is taken).
func freePortIn(proto string, ip netip.Addr, lo, hi uint16) uint16 {
	host := ""
	if ip.IsValid() {
		host = ip.String()
	}
	for p := int(lo); p <= int(hi); p++ {
		addr := net.JoinHostPort(host, strconv.Itoa(p))
		switch proto {
		case "udp":
			if l, err := net.ListenPacket("udp4", addr); err == nil {
				_ = l.Close()
				return uint16(p)
			}
		default:
			if l, err := net.Listen("tcp4", addr); err == nil {
				_ = l.Close()
				return uint16(p)
			}
		}
	}
	return lo
}

// portMap is inspect's NetworkSettings.Ports for a running container:
// every exposed or bound port, with the host bindings it got (none when it
// is not published). The caller holds c's lock.
func portMap(c *container.Container, eps []network.Endpoint) networktypes.PortMap {
	pm := networktypes.PortMap{}
	for p := range c.Config.ExposedPorts {
		pm[p] = nil
	}
	for p := range c.HostConfig.PortBindings {
		pm[p] = nil
	}
	for _, ep := range eps {
		for _, b := range ep.Ports {
			p, ok := networktypes.PortFrom(b.ContainerPort, networktypes.IPProtocol(b.Proto))
			if !ok {
				continue
			}
			ip := b.HostIP
			if !ip.IsValid() {
				ip = netip.IPv4Unspecified()
			}
			pm[p] = append(pm[p], networktypes.PortBinding{HostIP: ip, HostPort: strconv.Itoa(int(b.HostPort))})
		}
	}
	return pm
}

// dnsUpstreams are the servers the embedded resolver forwards a
// container's queries to: its --dns, else the daemon's, else nil (the
// host's resolvers).
func dnsUpstreams(own []netip.Addr, daemon []string) []netip.AddrPort {
	var out []netip.AddrPort
	for _, a := range own {
		out = append(out, netip.AddrPortFrom(a.Unmap(), 53))
	}
	if len(out) > 0 {
		return out
	}
	for _, s := range daemon {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.AddrPortFrom(a.Unmap(), 53))
		}
	}
	return out
}

func newSandboxID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// networkSetupError is a start's failure to set up networking: docker's
// wording, and exit code 128 whatever the cause says (startExitCode).
type networkSetupError struct{ err error }

func (e networkSetupError) Error() string {
	return "failed to set up container networking: " + e.err.Error()
}

func (e networkSetupError) Unwrap() error { return e.err }

// isNetworkSetupError: err is a start's networking failure.
func isNetworkSetupError(err error) bool {
	var ne networkSetupError
	return errors.As(err, &ne)
}

// emitNetwork publishes a network event with docker's attributes.
func (d *Daemon) emitNetwork(id, name string, action events.Action, containerID string) {
	attrs := map[string]string{"name": name, "type": "bridge"}
	if n, err := d.nets.m.Network(id); err == nil {
		attrs["type"] = n.Driver
	}
	if containerID != "" {
		attrs["container"] = containerID
	}
	d.events.Publish(events.Message{
		Type:   events.NetworkEventType,
		Action: action,
		Actor:  events.Actor{ID: id, Attributes: attrs},
		Scope:  "local",
	})
}
