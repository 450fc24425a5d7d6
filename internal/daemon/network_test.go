package daemon

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	containertypes "github.com/moby/moby/api/types/container"
	networktypes "github.com/moby/moby/api/types/network"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
)

// createOn creates a container with a NetworkingConfig, as docker run
// --network sends it.
func createOn(t *testing.T, d *Daemon, name string, cmd []string, eps map[string]*networktypes.EndpointSettings, mod ...func(*containertypes.Config, *containertypes.HostConfig)) (string, error) {
	t.Helper()
	cfg := &containertypes.Config{Image: "busybox", Cmd: cmd}
	host := &containertypes.HostConfig{}
	for _, m := range mod {
		m(cfg, host)
	}
	resp, err := d.ContainerCreate(context.Background(), server.ContainerCreateRequest{Name: name, Config: cfg, Host: host,
		Networking: &networktypes.NetworkingConfig{EndpointsConfig: eps}})
	return resp.ID, err
}

func mustCreateOn(t *testing.T, d *Daemon, name string, cmd []string, eps map[string]*networktypes.EndpointSettings, mod ...func(*containertypes.Config, *containertypes.HostConfig)) string {
	t.Helper()
	id, err := createOn(t, d, name, cmd, eps, mod...)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return id
}

func mustStart(t *testing.T, d *Daemon, id string) {
	t.Helper()
	if err := d.ContainerStart(context.Background(), id); err != nil {
		t.Fatalf("start: %v", err)
	}
}

// containerFile is the path of a file the daemon writes for a container
// at create (hosts, hostname, resolv.conf); inspect names it only once the
// container has started, as docker's does.
func containerFile(d *Daemon, id, name string) string {
	return filepath.Join(d.containers.Dir(id), name)
}

func readString(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// specNetns is the network namespace path in the container's runtime spec.
func specNetns(t *testing.T, d *Daemon, id string) (string, bool) {
	t.Helper()
	sp := bundleSpec(t, d, id)
	for _, ns := range sp.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			return ns.Path, true
		}
	}
	return "", false
}

func newNet(t *testing.T, d *Daemon, name string, mod ...func(*networktypes.CreateRequest)) string {
	t.Helper()
	req := networktypes.CreateRequest{Name: name, Driver: "bridge"}
	for _, m := range mod {
		m(&req)
	}
	resp, err := d.NetworkCreate(context.Background(), req)
	if err != nil {
		t.Fatalf("network create %s: %v", name, err)
	}
	return resp.ID
}

// TestNetworkDefaultBridge: docker's default network mode is bridge; a
// started container gets an address, docker's inspect shape, /etc/hosts
// with its address, a spec joining its sandbox; stopping releases all of
// it and keeps what was asked.
func TestNetworkDefaultBridge(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	cfg.DNSSearch = []string{"corp.example"}
	fake := newFakeLauncher()
	d := newTestDaemon(t, cfg, fake)
	ev := recordEvents(t, d)
	ctx := context.Background()
	fn := fakeNetFor(cfg)

	id := create(t, d, "web", []string{"sleep", "1000"}, func(c *containertypes.Config, h *containertypes.HostConfig) {
		h.ExtraHosts = []string{"gw:host-gateway"}
	})
	in := inspect(t, d, id)
	br := in.NetworkSettings.Networks["bridge"]
	if in.HostConfig.NetworkMode != "bridge" || br == nil || br.NetworkID == "" || br.IPAddress.IsValid() || in.NetworkSettings.SandboxKey != "" {
		t.Fatalf("created: mode %q networks %+v", in.HostConfig.NetworkMode, in.NetworkSettings)
	}
	mustStart(t, d, id)
	in = inspect(t, d, id)
	br = in.NetworkSettings.Networks["bridge"]
	gw := netip.MustParseAddr(strings.Split(cfg.BIP, "/")[0])
	if !br.IPAddress.IsValid() || br.IPPrefixLen != 24 || br.Gateway != gw || br.EndpointID == "" || len(br.MacAddress) != 6 || br.DNSNames != nil {
		t.Fatalf("running: %+v", br)
	}
	key := in.NetworkSettings.SandboxKey
	if key != filepath.Join(cfg.ExecRoot, "netns", id) || len(in.NetworkSettings.SandboxID) != 64 {
		t.Fatalf("sandbox %q %q", key, in.NetworkSettings.SandboxID)
	}
	if p, ok := specNetns(t, d, id); !ok || p != key {
		t.Fatalf("spec's network namespace %q %v, want the sandbox %q", p, ok, key)
	}
	hosts := readString(t, in.HostsPath)
	if !strings.Contains(hosts, br.IPAddress.String()+"\t"+id[:12]+"\n") || strings.Contains(hosts, "127.0.0.1\t"+id[:12]) ||
		!strings.Contains(hosts, gw.String()+"\tgw\n") {
		t.Fatalf("hosts:\n%s", hosts)
	}
	if resolv := readString(t, in.ResolvConfPath); strings.Contains(resolv, "nameserver 127.") || strings.Contains(resolv, "nameserver "+gw.String()) ||
		!strings.Contains(resolv, "search corp.example\n") {
		t.Fatalf("the default bridge has no embedded DNS, the daemon's --dns-search applies; resolv.conf:\n%s", resolv)
	}
	// The container's own --dns wins over the host's resolvers.
	own := create(t, d, "", []string{"true"}, func(_ *containertypes.Config, h *containertypes.HostConfig) {
		h.DNS = []netip.Addr{netip.MustParseAddr("10.9.8.7")}
	})
	if resolv := readString(t, containerFile(d, own, "resolv.conf")); !strings.HasPrefix(resolv, "nameserver 10.9.8.7\n") {
		t.Fatalf("--dns: resolv.conf:\n%s", resolv)
	}
	list, _ := d.ContainerList(ctx, server.ContainerListOptions{Filters: server.Filters{"network": {"bridge"}}})
	if len(list) != 1 || list[0].NetworkSettings.Networks["bridge"].IPAddress != br.IPAddress {
		t.Fatalf("ps --filter network=bridge: %+v", list)
	}
	eventually(t, "connect event", func() bool { return ev.find(br.NetworkID, "connect") != nil })

	if err := d.ContainerStop(ctx, id, server.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	in = inspect(t, d, id)
	br = in.NetworkSettings.Networks["bridge"]
	if br == nil || br.NetworkID == "" || br.IPAddress.IsValid() || br.EndpointID != "" || in.NetworkSettings.SandboxKey != "" || len(in.NetworkSettings.Ports) != 0 {
		t.Fatalf("stopped: %+v %+v", br, in.NetworkSettings)
	}
	if eps, sbs, ports := fn.state(); eps != 0 || sbs != 0 || ports != 0 {
		t.Fatalf("left after stop: %d endpoints, %d sandboxes, %d ports", eps, sbs, ports)
	}
	eventually(t, "disconnect event", func() bool { return ev.find(br.NetworkID, "disconnect") != nil })
}

// TestNetworkNone: --network none gets a sandbox (loopback up) and no
// endpoint; host and container:<x> get none of their own.
func TestNetworkNone(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	d := newTestDaemon(t, cfg, newFakeLauncher())
	none := create(t, d, "", []string{"sleep", "1000"}, func(_ *containertypes.Config, h *containertypes.HostConfig) { h.NetworkMode = "none" })
	mustStart(t, d, none)
	in := inspect(t, d, none)
	if p, ok := specNetns(t, d, none); !ok || p == "" || p != in.NetworkSettings.SandboxKey {
		t.Fatalf("none: spec netns %q %v, sandbox %q", p, ok, in.NetworkSettings.SandboxKey)
	}
	if n := in.NetworkSettings.Networks["none"]; n == nil || n.NetworkID == "" || n.IPAddress.IsValid() || len(in.NetworkSettings.Networks) != 1 {
		t.Fatalf("none: %+v", in.NetworkSettings.Networks)
	}
	if !strings.Contains(readString(t, in.HostsPath), "127.0.0.1\t"+none[:12]) {
		t.Fatal("none: the hostname goes on 127.0.0.1")
	}
	host := create(t, d, "", []string{"sleep", "1000"}, func(_ *containertypes.Config, h *containertypes.HostConfig) { h.NetworkMode = "host" })
	mustStart(t, d, host)
	if _, ok := specNetns(t, d, host); ok {
		t.Fatal("host: a network namespace")
	}
	if in := inspect(t, d, host); in.NetworkSettings.SandboxKey != "" || in.NetworkSettings.Networks["host"] == nil {
		t.Fatalf("host: %+v", in.NetworkSettings)
	}
	joined := create(t, d, "", []string{"sleep", "1000"}, func(_ *containertypes.Config, h *containertypes.HostConfig) {
		h.NetworkMode = containertypes.NetworkMode("container:" + none)
	})
	mustStart(t, d, joined)
	if in := inspect(t, d, joined); len(in.NetworkSettings.Networks) != 0 || in.NetworkSettings.SandboxKey != "" {
		t.Fatalf("container mode: %+v", in.NetworkSettings)
	}
	if p, _ := specNetns(t, d, joined); !strings.HasPrefix(p, "/proc/") {
		t.Fatalf("container mode joins the other's namespace: %q", p)
	}
	// ... and shares its hosts, resolv.conf and hostname, as docker's.
	sp := bundleSpec(t, d, joined)
	hostsSrc := ""
	for _, m := range sp.Mounts {
		if m.Destination == "/etc/hosts" {
			hostsSrc = m.Source
		}
	}
	if hostsSrc != in.HostsPath || sp.Hostname != none[:12] {
		t.Fatalf("container mode: /etc/hosts from %q (want %q), hostname %q (want %q)", hostsSrc, in.HostsPath, sp.Hostname, none[:12])
	}

	// At a run's end, the namespace of a none container goes to
	// RecycleSandbox, unless another container joined it or the
	// container could have changed it.
	solo := create(t, d, "", []string{"sleep", "1000"}, func(_ *containertypes.Config, h *containertypes.HostConfig) { h.NetworkMode = "none" })
	admin := create(t, d, "", []string{"sleep", "1000"}, func(_ *containertypes.Config, h *containertypes.HostConfig) {
		h.NetworkMode = "none"
		h.CapAdd = []string{"NET_ADMIN"}
	})
	ctx := context.Background()
	for _, id := range []string{solo, admin, none} {
		if id != none {
			mustStart(t, d, id)
		}
		if err := d.ContainerStop(ctx, id, server.StopOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	fn := fakeNetFor(cfg)
	fn.mu.Lock()
	recycled := slices.Clone(fn.recycled)
	fn.mu.Unlock()
	if !slices.Equal(recycled, []string{solo}) {
		t.Fatalf("recycled sandboxes %q, want only %q (not %q with NET_ADMIN, nor %q, joined)", recycled, solo, admin, none)
	}
}

// TestNetworkUserNetwork: aliases, --ip, --mac-address, published ports,
// the embedded resolver in resolv.conf, DNSNames, ps's Ports and filters.
func TestNetworkUserNetwork(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	d := newTestDaemon(t, cfg, newFakeLauncher())
	ctx := context.Background()
	netID := newNet(t, d, "mynet", func(r *networktypes.CreateRequest) {
		r.IPAM = &networktypes.IPAM{Config: []networktypes.IPAMConfig{{Subnet: netip.MustParsePrefix("10.201.3.0/24")}}}
		r.Labels = map[string]string{"team": "a"}
	})
	ip := netip.MustParseAddr("10.201.3.50")
	hw, _ := net.ParseMAC("02:00:00:aa:bb:cc")
	mac := networktypes.HardwareAddr(hw)
	id := mustCreateOn(t, d, "db", []string{"sleep", "1000"}, map[string]*networktypes.EndpointSettings{
		"mynet": {Aliases: []string{"database"}, IPAMConfig: &networktypes.EndpointIPAMConfig{IPv4Address: ip}, MacAddress: mac},
	}, func(c *containertypes.Config, h *containertypes.HostConfig) {
		h.NetworkMode = "mynet"
		h.PortBindings = networktypes.PortMap{networktypes.MustParsePort("80/tcp"): {{HostPort: "8080"}}}
		h.PublishAllPorts = true
		c.ExposedPorts = networktypes.PortSet{networktypes.MustParsePort("53/udp"): {}}
	})
	in := inspect(t, d, id)
	if resolv := readString(t, containerFile(d, id, "resolv.conf")); !strings.Contains(resolv, "nameserver 10.201.3.1\n") || !strings.Contains(resolv, "ndots:0") {
		t.Fatalf("resolv.conf at create:\n%s", resolv)
	}
	mustStart(t, d, id)
	in = inspect(t, d, id)
	es := in.NetworkSettings.Networks["mynet"]
	if es == nil || es.IPAddress != ip || es.NetworkID != netID || es.MacAddress.String() != "02:00:00:aa:bb:cc" ||
		!slices.Equal(es.Aliases, []string{"database"}) || !slices.Equal(es.DNSNames, []string{"db", "database", id[:12]}) {
		t.Fatalf("endpoint: %+v", es)
	}
	ports := in.NetworkSettings.Ports
	web, dns := ports[networktypes.MustParsePort("80/tcp")], ports[networktypes.MustParsePort("53/udp")]
	if len(web) != 1 || web[0].HostPort != "8080" || web[0].HostIP != netip.IPv4Unspecified() || len(dns) != 1 || dns[0].HostPort == "" {
		t.Fatalf("ports: %+v", ports)
	}
	hosts := readString(t, in.HostsPath)
	if !strings.Contains(hosts, "10.201.3.50\t"+id[:12]+" database\n") {
		t.Fatalf("hosts:\n%s", hosts)
	}
	resolv := readString(t, in.ResolvConfPath)
	if !strings.HasPrefix(resolv, "nameserver 10.201.3.1\n") || strings.Count(resolv, "nameserver") != 1 {
		t.Fatalf("resolv.conf:\n%s", resolv)
	}

	for _, tc := range []struct {
		f    server.Filters
		want int
	}{
		{server.Filters{"network": {"mynet"}}, 1},
		{server.Filters{"network": {netID[:6]}}, 1},
		{server.Filters{"network": {"bridge"}}, 0},
		{server.Filters{"publish": {"80"}}, 1},
		{server.Filters{"publish": {"53/udp"}}, 1},
		{server.Filters{"publish": {"81-90/tcp"}}, 0},
		{server.Filters{"expose": {"50-60/udp"}}, 1},
		{server.Filters{"expose": {"53"}}, 0},
	} {
		list, err := d.ContainerList(ctx, server.ContainerListOptions{Filters: tc.f})
		if err != nil || len(list) != tc.want {
			t.Errorf("ps %v: %d containers, want %d (%v)", tc.f, len(list), tc.want, err)
		}
	}
	list, _ := d.ContainerList(ctx, server.ContainerListOptions{})
	// The test image exposes 8080/tcp too, which -P publishes.
	if len(list) != 1 || len(list[0].Ports) != 3 || list[0].Ports[0].PrivatePort != 53 || list[0].Ports[0].Type != "udp" ||
		list[0].Ports[1].PublicPort != 8080 || list[0].Ports[1].IP != netip.IPv4Unspecified() || list[0].Ports[1].Type != "tcp" ||
		list[0].Ports[2].PrivatePort != 8080 || list[0].Ports[2].PublicPort == 0 {
		t.Fatalf("ps ports: %+v", list[0].Ports)
	}
	if _, err := d.ContainerList(ctx, server.ContainerListOptions{Filters: server.Filters{"publish": {"http"}}}); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("bad publish filter: %v", err)
	}

	// A second container wanting the same host port fails to start,
	// leaving nothing; the first keeps it.
	other := mustCreateOn(t, d, "other", []string{"sleep", "1000"}, nil, func(_ *containertypes.Config, h *containertypes.HostConfig) {
		h.PortBindings = networktypes.PortMap{networktypes.MustParsePort("80/tcp"): {{HostPort: "8080"}}}
	})
	err := d.ContainerStart(ctx, other)
	if err == nil || !strings.Contains(err.Error(), "port is already allocated") || !strings.Contains(err.Error(), "failed to set up container networking") {
		t.Fatalf("second start on a taken port: %v", err)
	}
	if s := inspect(t, d, other).State; s.Status != "created" || s.ExitCode != 128 {
		t.Fatalf("after the failed start: %+v", s)
	}
	if eps := d.nets.m.Endpoints(other); len(eps) != 0 {
		t.Fatalf("the failed start left endpoints: %+v", eps)
	}
	if in := inspect(t, d, other); in.NetworkSettings.SandboxKey != "" || in.NetworkSettings.Networks["bridge"].IPAddress.IsValid() {
		t.Fatalf("the failed start left settings: %+v", in.NetworkSettings)
	}

	// A network in use is not removed (docker's 403 and words); once its
	// container is gone, prune removes it.
	err = d.NetworkRemove(ctx, "mynet")
	if !errdefs.IsForbidden(err) || !strings.Contains(err.Error(), `error while removing network: network mynet has active endpoints (name:"db" id:"`) {
		t.Fatalf("rm of a network in use: %v", err)
	}
	if err := d.ContainerRemove(ctx, id, server.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	_, err = d.NetworksPrune(ctx, server.Filters{"until": {"bad"}})
	if !errdefs.IsInvalidParameter(err) || !strings.Contains(err.Error(), `failed to parse value as time or duration: "bad"`) {
		t.Fatalf("prune with a bad until: %v", err)
	}
	rep, err := d.NetworksPrune(ctx, server.Filters{"label": {"team=a"}})
	if err != nil || !slices.Equal(rep.NetworksDeleted, []string{"mynet"}) {
		t.Fatalf("prune: %+v %v", rep, err)
	}
	if _, err := d.NetworkInspect(ctx, "mynet", server.NetworkInspectOptions{}); !errdefs.IsNotFound(err) {
		t.Fatalf("pruned network: %v", err)
	}
	for _, pre := range []string{"bridge", "host", "none"} {
		if err := d.NetworkRemove(ctx, pre); !errdefs.IsForbidden(err) {
			t.Errorf("rm %s: %v", pre, err)
		}
	}
}

// TestNetworkCreateChecks: docker's refusals at create, before anything
// is made.
func TestNetworkCreateChecks(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	d := newTestDaemon(t, cfg, newFakeLauncher())
	newNet(t, d, "u1")
	newNet(t, d, "u2", func(r *networktypes.CreateRequest) {
		r.IPAM = &networktypes.IPAM{Config: []networktypes.IPAMConfig{{Subnet: netip.MustParsePrefix("10.203.0.0/24")}}}
	})
	ip := &networktypes.EndpointIPAMConfig{IPv4Address: netip.MustParseAddr("10.9.9.9")}
	for _, tc := range []struct {
		name  string
		mode  string
		eps   map[string]*networktypes.EndpointSettings
		mod   func(*containertypes.Config, *containertypes.HostConfig)
		class error
		msg   string
	}{
		{name: "unknown network", mode: "nope", class: errdefs.ErrInvalidParameter, msg: "network nope not found"},
		{name: "unknown extra network", mode: "bridge", eps: map[string]*networktypes.EndpointSettings{"nope": {}}, class: errdefs.ErrInvalidParameter, msg: "network nope not found"},
		{name: "ip on bridge", mode: "bridge", eps: map[string]*networktypes.EndpointSettings{"bridge": {IPAMConfig: ip}}, class: errdefs.ErrInvalidParameter,
			msg: "invalid endpoint settings:\nuser specified IP address is supported on user defined networks only"},
		{name: "alias on bridge", mode: "default", eps: map[string]*networktypes.EndpointSettings{"default": {Aliases: []string{"x"}}}, class: errdefs.ErrInvalidParameter,
			msg: "network-scoped alias is supported only for containers in user defined networks"},
		{name: "ip outside the subnet", mode: "u2", eps: map[string]*networktypes.EndpointSettings{"u2": {IPAMConfig: ip}}, class: errdefs.ErrInvalidParameter,
			msg: "invalid endpoint settings:\nno configured subnet or ip-range contain the IP address 10.9.9.9"},
		{name: "ip on a network without a user subnet", mode: "u1", eps: map[string]*networktypes.EndpointSettings{"u1": {IPAMConfig: ip}}, class: errdefs.ErrInvalidParameter,
			msg: "invalid endpoint settings:\nuser specified IP address is supported only when connecting to networks with user configured subnets"},
		{name: "none and another", mode: "none", eps: map[string]*networktypes.EndpointSettings{"u1": {}}, class: errdefs.ErrInvalidParameter,
			msg: "container cannot be connected to multiple networks with one of the networks in private (none) mode"},
		{name: "host and another", mode: "host", eps: map[string]*networktypes.EndpointSettings{"u1": {}}, class: errdefs.ErrInvalidParameter,
			msg: "container sharing network namespace with another container or host cannot be connected to any other network"},
		{name: "container mode publishing", mode: "container:x", mod: func(_ *containertypes.Config, h *containertypes.HostConfig) {
			h.PortBindings = networktypes.PortMap{networktypes.MustParsePort("80/tcp"): {{HostPort: "80"}}}
		}, class: errdefs.ErrInvalidParameter, msg: "conflicting options: port publishing and the container type network mode"},
		{name: "container mode dns", mode: "container:x", mod: func(_ *containertypes.Config, h *containertypes.HostConfig) {
			h.DNS = []netip.Addr{netip.MustParseAddr("10.0.0.1")}
		}, class: errdefs.ErrInvalidParameter, msg: "conflicting options: dns and the network mode"},
		{name: "container mode without a name", mode: "container:", class: errdefs.ErrInvalidParameter, msg: "invalid container format container:<name|id>"},
		{name: "bad host port", mode: "bridge", mod: func(_ *containertypes.Config, h *containertypes.HostConfig) {
			h.PortBindings = networktypes.PortMap{networktypes.MustParsePort("80/tcp"): {{HostPort: "eighty"}}}
		}, class: errdefs.ErrInvalidParameter, msg: `invalid port specification: "eighty"`},
	} {
		_, err := createOn(t, d, "", []string{"true"}, tc.eps, func(c *containertypes.Config, h *containertypes.HostConfig) {
			h.NetworkMode = containertypes.NetworkMode(tc.mode)
			if tc.mod != nil {
				tc.mod(c, h)
			}
		})
		if !errors.Is(err, tc.class) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want %v %q", tc.name, err, tc.class, tc.msg)
		}
	}
	if n := len(d.containers.List()); n != 0 {
		t.Fatalf("refused creates left %d containers", n)
	}
	resp, err := d.ContainerCreate(context.Background(), server.ContainerCreateRequest{
		Config: &containertypes.Config{Image: "busybox"},
		Host: &containertypes.HostConfig{NetworkMode: "host",
			PortBindings: networktypes.PortMap{networktypes.MustParsePort("80/tcp"): {{HostPort: "80"}}}},
	})
	if err != nil || !slices.Contains(resp.Warnings, "Published ports are discarded when using host network mode") {
		t.Fatalf("host mode with -p: %+v %v", resp, err)
	}
	// Several networks at create: the mode's first; DefaultRoute and the
	// ports go to it.
	id := mustCreateOn(t, d, "multi", []string{"sleep", "1000"}, map[string]*networktypes.EndpointSettings{"u1": {}, "bridge": {}},
		func(_ *containertypes.Config, h *containertypes.HostConfig) { h.NetworkMode = "u1" })
	mustStart(t, d, id)
	in := inspect(t, d, id)
	if len(in.NetworkSettings.Networks) != 2 || !in.NetworkSettings.Networks["u1"].IPAddress.IsValid() || !in.NetworkSettings.Networks["bridge"].IPAddress.IsValid() {
		t.Fatalf("two networks: %+v", in.NetworkSettings.Networks)
	}
	if eps := d.nets.m.Endpoints(id); len(eps) != 2 || eps[0].NetworkName != "u1" || eps[0].IfName != "eth0" {
		t.Fatalf("join order: %+v", eps)
	}
}

// TestNetworkStartFailureUndo: a network that fails half way through a
// start leaves no endpoint, address or sandbox, and the container exits
// the start with docker's 128.
func TestNetworkStartFailureUndo(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	d := newTestDaemon(t, cfg, newFakeLauncher())
	fn := fakeNetFor(cfg)
	newNet(t, d, "bad")
	fn.mu.Lock()
	fn.connectErr["bad"] = errors.New("veth: no such file or directory")
	fn.mu.Unlock()
	id := mustCreateOn(t, d, "", []string{"sleep", "1000"}, map[string]*networktypes.EndpointSettings{"bad": {}, "bridge": {}})
	err := d.ContainerStart(context.Background(), id)
	if err == nil || !strings.Contains(err.Error(), "failed to set up container networking: veth: no such file or directory") {
		t.Fatalf("start: %v", err)
	}
	if s := inspect(t, d, id).State; s.ExitCode != 128 {
		t.Fatalf("exit code %d, want 128 (not 127 for the words 'no such file')", s.ExitCode)
	}
	if eps, sbs, ports := fn.state(); eps != 0 || sbs != 0 || ports != 0 {
		t.Fatalf("left: %d endpoints, %d sandboxes, %d ports", eps, sbs, ports)
	}
	if _, err := os.Stat(filepath.Join(cfg.ExecRoot, "bundles", id, "rootfs")); err == nil {
		t.Fatal("the rootfs stays mounted")
	}
}

// TestNetworkConnectDisconnect: on a running container at once (hosts
// file rewritten in place), on a stopped one recorded for its next start;
// docker's refusals.
func TestNetworkConnectDisconnect(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	d := newTestDaemon(t, cfg, newFakeLauncher())
	ctx := context.Background()
	ev := recordEvents(t, d)
	uID := newNet(t, d, "u2", func(r *networktypes.CreateRequest) {
		r.IPAM = &networktypes.IPAM{Config: []networktypes.IPAMConfig{{Subnet: netip.MustParsePrefix("10.202.0.0/24")}}}
	})
	id := create(t, d, "app", []string{"sleep", "1000"})
	mustStart(t, d, id)
	hostsPath := inspect(t, d, id).HostsPath
	before, _ := os.Stat(hostsPath)
	ip := netip.MustParseAddr("10.202.0.9")
	if err := d.NetworkConnect(ctx, "u2", networktypes.ConnectRequest{Container: "app", EndpointConfig: &networktypes.EndpointSettings{
		Aliases: []string{"api"}, IPAMConfig: &networktypes.EndpointIPAMConfig{IPv4Address: ip}}}); err != nil {
		t.Fatal(err)
	}
	in := inspect(t, d, id)
	if es := in.NetworkSettings.Networks["u2"]; es == nil || es.IPAddress != ip || es.NetworkID != uID || !slices.Contains(es.DNSNames, "api") {
		t.Fatalf("after connect: %+v", in.NetworkSettings.Networks)
	}
	after, _ := os.Stat(hostsPath)
	if !os.SameFile(before, after) {
		t.Fatal("hosts replaced, not rewritten: the running container would not see it")
	}
	if hosts := readString(t, hostsPath); !strings.Contains(hosts, "10.202.0.9\t"+id[:12]+" api\n") {
		t.Fatalf("hosts after connect:\n%s", hosts)
	}
	eventually(t, "connect event", func() bool { return ev.find(uID, "connect") != nil })
	nin, err := d.NetworkInspect(ctx, "u2", server.NetworkInspectOptions{})
	if err != nil || nin.Containers[id].Name != "app" || nin.Containers[id].IPv4Address != netip.PrefixFrom(ip, 24) {
		t.Fatalf("network inspect: %+v %v", nin.Containers, err)
	}
	err = d.NetworkConnect(ctx, "u2", networktypes.ConnectRequest{Container: id, EndpointConfig: &networktypes.EndpointSettings{}})
	if !errdefs.IsForbidden(err) || !strings.Contains(err.Error(), "endpoint with name app already exists in network u2") {
		t.Fatalf("second connect: %v", err)
	}
	if err := d.NetworkConnect(ctx, "host", networktypes.ConnectRequest{Container: id}); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("connect to host: %v", err)
	}
	if err := d.NetworkConnect(ctx, "u2", networktypes.ConnectRequest{Container: "nope"}); !errdefs.IsNotFound(err) {
		t.Fatalf("connect of a missing container: %v", err)
	}

	if err := d.NetworkDisconnect(ctx, "u2", networktypes.DisconnectRequest{Container: id}); err != nil {
		t.Fatal(err)
	}
	in = inspect(t, d, id)
	if _, ok := in.NetworkSettings.Networks["u2"]; ok || !in.NetworkSettings.Networks["bridge"].IPAddress.IsValid() {
		t.Fatalf("after disconnect: %+v", in.NetworkSettings.Networks)
	}
	if hosts := readString(t, hostsPath); strings.Contains(hosts, "10.202.0.9") {
		t.Fatalf("hosts after disconnect:\n%s", hosts)
	}
	if err := d.NetworkDisconnect(ctx, "u2", networktypes.DisconnectRequest{Container: id}); err == nil || !strings.Contains(err.Error(), "is not connected to network u2") {
		t.Fatalf("second disconnect: %v", err)
	}
	err = d.NetworkDisconnect(ctx, "u2", networktypes.DisconnectRequest{Container: "nope", Force: true})
	if !errdefs.IsNotFound(err) || err.Error() != "endpoint nope not found" {
		t.Fatalf("forced disconnect of a missing container: %v", err)
	}
	if err := d.NetworkDisconnect(ctx, "u9", networktypes.DisconnectRequest{Container: "nope", Force: true}); !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "network u9 not found") {
		t.Fatalf("forced disconnect from a missing network: %v", err)
	}
	if err := d.NetworkRemove(ctx, "u2"); err != nil {
		t.Fatalf("rm of a network no longer in use: %v", err)
	}

	// A stopped container: recorded, joined at the next start.
	newNet(t, d, "u3")
	if err := d.ContainerStop(ctx, id, server.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := d.NetworkConnect(ctx, "u3", networktypes.ConnectRequest{Container: id, EndpointConfig: &networktypes.EndpointSettings{Aliases: []string{"db"}}}); err != nil {
		t.Fatal(err)
	}
	// A second connect of a stopped container succeeds and keeps the first's settings.
	if err := d.NetworkConnect(ctx, "u3", networktypes.ConnectRequest{Container: id}); err != nil {
		t.Fatalf("second connect of a stopped container: %v", err)
	}
	if err := d.NetworkDisconnect(ctx, "bridge", networktypes.DisconnectRequest{Container: id}); err != nil {
		t.Fatal(err)
	}
	if err := d.NetworkDisconnect(ctx, "bridge", networktypes.DisconnectRequest{Container: id}); err == nil || !strings.Contains(err.Error(), "is not connected to the network bridge") {
		t.Fatalf("second disconnect of a stopped container: %v", err)
	}
	if es := inspect(t, d, id).NetworkSettings.Networks; len(es) != 1 || es["u3"] == nil || es["u3"].IPAddress.IsValid() || !slices.Equal(es["u3"].Aliases, []string{"db"}) ||
		len(es["u3"].DNSNames) < 2 || es["u3"].DNSNames[0] != "app" || es["u3"].DNSNames[1] != "db" {
		t.Fatalf("stopped container's networks: %+v", es)
	}
	mustStart(t, d, id)
	if es := inspect(t, d, id).NetworkSettings.Networks; len(es) != 1 || !es["u3"].IPAddress.IsValid() {
		t.Fatalf("restarted container's networks: %+v", es)
	}
}

// TestNetworkRestore: after a daemon restart the manager keeps the
// endpoints of running containers and releases those of containers that
// ended while it was away.
func TestNetworkRestore(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	fake := newFakeLauncher()
	d := newTestDaemon(t, cfg, fake)
	fn := fakeNetFor(cfg)
	live := create(t, d, "live", []string{"sleep", "1000"}, func(_ *containertypes.Config, h *containertypes.HostConfig) {
		h.PortBindings = networktypes.PortMap{networktypes.MustParsePort("80/tcp"): {{HostPort: "18080"}}}
	})
	gone := create(t, d, "gone", []string{"sleep", "1000"})
	mustStart(t, d, live)
	mustStart(t, d, gone)
	liveIP := inspect(t, d, live).NetworkSettings.Networks["bridge"].IPAddress
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	fake.killShim(d.shimDir(gone), 0, true)

	d2 := newTestDaemon(t, cfg, fake)
	fn.mu.Lock()
	reconciled := fn.reconciled
	fn.mu.Unlock()
	if len(reconciled) != 1 || reconciled[live] != filepath.Join(cfg.ExecRoot, "netns", live) {
		t.Fatalf("reconciled %v", reconciled)
	}
	if eps := d2.nets.m.Endpoints(gone); len(eps) != 0 {
		t.Fatalf("the exited container's endpoints stay: %+v", eps)
	}
	in := inspect(t, d2, live)
	if in.NetworkSettings.Networks["bridge"].IPAddress != liveIP || in.NetworkSettings.Ports[networktypes.MustParsePort("80/tcp")][0].HostPort != "18080" {
		t.Fatalf("live container after restore: %+v", in.NetworkSettings)
	}
	if in := inspect(t, d2, gone); in.NetworkSettings.Networks["bridge"].IPAddress.IsValid() {
		t.Fatalf("exited container after restore: %+v", in.NetworkSettings.Networks)
	}
	if err := d2.ContainerRemove(context.Background(), live, server.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if eps, sbs, ports := fn.state(); eps != 0 || sbs != 0 || ports != 0 {
		t.Fatalf("left after rm: %d endpoints, %d sandboxes, %d ports", eps, sbs, ports)
	}
}

// TestNetworkListAndInspect: the predefined networks, docker's filters.
func TestNetworkListAndInspect(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	d := newTestDaemon(t, cfg, newFakeLauncher())
	ctx := context.Background()
	front := newNet(t, d, "front", func(r *networktypes.CreateRequest) { r.Labels = map[string]string{"tier": "front"} })
	names := func(f server.Filters) []string {
		list, err := d.NetworkList(ctx, f)
		if err != nil {
			t.Fatalf("list %v: %v", f, err)
		}
		var out []string
		for _, n := range list {
			out = append(out, n.Name)
		}
		return out
	}
	for _, tc := range []struct {
		f    server.Filters
		want []string
	}{
		{nil, []string{"bridge", "front", "host", "none"}},
		{server.Filters{"type": {"custom"}}, []string{"front"}},
		{server.Filters{"type": {"builtin"}}, []string{"bridge", "host", "none"}},
		{server.Filters{"driver": {"null"}}, []string{"none"}},
		{server.Filters{"label": {"tier=front"}}, []string{"front"}},
		{server.Filters{"name": {"^fr"}}, []string{"front"}},
		{server.Filters{"name": {"["}}, nil},
		{server.Filters{"id": {front[3:9]}}, []string{"front"}},
		{server.Filters{"id": {"["}}, nil},
		{server.Filters{"dangling": {"true"}}, []string{"front"}},
	} {
		if got := names(tc.f); !slices.Equal(got, tc.want) {
			t.Errorf("list %v: %v, want %v", tc.f, got, tc.want)
		}
	}
	in, err := d.NetworkInspect(ctx, "bridge", server.NetworkInspectOptions{})
	if err != nil || in.Driver != "bridge" || len(in.IPAM.Config) != 1 || in.IPAM.Config[0].Gateway.String()+"/24" != cfg.BIP || in.Scope != "local" {
		t.Fatalf("inspect bridge: %+v %v", in, err)
	}
	if _, err := d.NetworkInspect(ctx, "bridge", server.NetworkInspectOptions{Scope: "swarm"}); !errdefs.IsNotFound(err) {
		t.Fatalf("inspect with another scope: %v", err)
	}
	yes := true
	if _, err := d.NetworkCreate(ctx, networktypes.CreateRequest{Name: "v6", EnableIPv6: &yes}); !errdefs.IsNotImplemented(err) {
		t.Fatalf("IPv6 network: %v", err)
	}
}
