package spec

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Input is one container as the daemon knows it when it is about to start it.
type Input struct {
	// ID is the container's full id; Name its name (without the leading
	// slash). The id names the cgroup and, cut to 12 characters, is the
	// default hostname.
	ID, Name string
	// Config and Host are the create request as the API received it.
	// Generate never changes them. nil means the zero value.
	Config *container.Config
	Host   *container.HostConfig
	// Image is the image's config: its Env, Entrypoint, Cmd, User and
	// WorkingDir fill what Config leaves unset, by docker's rules
	// (MergeImageConfig).
	Image ocispec.ImageConfig
	// Merged says Config already went through MergeImageConfig (the daemon
	// stores the merged config, as docker does, so inspect shows it), and
	// Generate must not merge again: merging twice is not the same as once
	// when the user reset the entrypoint with --entrypoint "".
	Merged bool
	// Mounts, when not nil, are the container's own mounts as the daemon
	// resolved them from its mount points (MountFor): binds of host paths
	// and of volumes' directories, and tmpfs from --mount, in place of
	// Host.Binds and Host.Mounts, which Generate then does not read
	// (Host.Tmpfs still applies). nil: Generate parses Host.Binds and
	// Host.Mounts itself, and refuses volumes.
	Mounts []mount.Mount
	// Rootfs is the absolute path of the mounted root filesystem; the user
	// is resolved from its /etc/passwd and /etc/group.
	Rootfs string
	// HostsPath, ResolvConfPath and HostnamePath are the files the daemon
	// wrote for the container; each non-empty one is bind-mounted at
	// /etc/hosts, /etc/resolv.conf and /etc/hostname.
	HostsPath, ResolvConfPath, HostnamePath string
	// ShmPath, when set, is bind-mounted at /dev/shm (a shareable IPC
	// namespace's tmpfs the daemon mounted, another container's for
	// --ipc container:X). Empty means a private tmpfs sized by
	// HostConfig.ShmSize (default 64 MiB); with --ipc host, the host's
	// /dev/shm.
	ShmPath string
	// CgroupParent is the default parent when HostConfig.CgroupParent is
	// empty (default "/berth"); the cgroup is <parent>/<id>.
	CgroupParent string
	// InitPath is the berth-init binary bound at /sbin/berth-init for
	// HostConfig.Init (--init). Required only when Init is asked for.
	InitPath string
	// NamespacePath resolves "container:<name|id>" modes (--pid, --ipc,
	// --network) to the path of that running container's namespace, like
	// /proc/<pid>/ns/net. kind is the runtime-spec's name ("pid", "ipc",
	// "network": /proc calls the last one "net"). nil makes those modes an
	// error.
	NamespacePath func(kind specs.LinuxNamespaceType, target string) (string, error)
	// NetworkNamespacePath is the network namespace the daemon prepared
	// for the container (its sandbox: a bind-mounted namespace, loopback
	// up, interfaces connected); the container joins it in every network
	// mode but host and container:<x>. Empty: a new namespace of its own,
	// with nothing in it.
	NetworkNamespacePath string
	// DefaultUlimits are the daemon's --default-ulimit values; the
	// container's own Ulimits win by name.
	DefaultUlimits []container.Ulimit
	// Runtime is the OCI runtime that will run the spec ("berth", "runc",
	// "crun"); kept for the day a feature differs between them.
	Runtime string
}

// InitPathInContainer is where --init's binary appears in the container.
const InitPathInContainer = "/sbin/berth-init"

// DefaultCgroupParent is the cgroup parent when neither the container nor the
// daemon names one.
const DefaultCgroupParent = "/berth"

// DefaultShmSize is /dev/shm's size when HostConfig.ShmSize is 0 (64 MiB,
// docker's default).
const DefaultShmSize = 64 << 20

// Generate builds the runtime spec for in. It validates everything first
// (bad user input is errdefs.ErrInvalidParameter with docker's wording) and
// has no side effects.
func Generate(ctx context.Context, in Input) (*specs.Spec, error) {
	g, err := newGenerator(in)
	if err != nil {
		return nil, err
	}
	if err := g.validate(); err != nil {
		return nil, err
	}
	s := baseSpec()
	// The order matters where docker's does: capabilities before seccomp
	// (the profile has rules conditioned on them), mounts after the
	// namespaces (/dev/shm depends on the IPC mode) and after the init.
	steps := []struct {
		name string
		fn   func(context.Context, *specs.Spec) error
	}{
		{"process", g.withProcess},
		{"user", g.withUser},
		{"hostname", g.withHostname},
		{"cgroups path", g.withCgroupsPath},
		{"resources", g.withResources},
		{"devices", g.withDevices},
		{"namespaces", g.withNamespaces},
		{"sysctls", g.withSysctls},
		{"capabilities", g.withCapabilities},
		{"seccomp", g.withSeccomp},
		{"init", g.withInit},
		{"mounts", g.withMounts},
		{"paths", g.withPaths},
		{"lsm", g.withLSM},
	}
	for _, step := range steps {
		if err := step.fn(ctx, s); err != nil {
			return nil, fmt.Errorf("spec: %s: %w", step.name, err)
		}
	}
	return s, nil
}

// generator holds one Generate call's input after docker's defaults were
// applied, and what validation parsed on the way (so nothing is parsed
// twice).
type generator struct {
	in   Input
	cfg  container.Config
	host container.HostConfig
	// facts about the host, probed once per process.
	sys hostFacts

	// Filled by validation.
	args     []string
	user     specs.User
	caps     []string
	security securityOptions
	ulimits  []specs.POSIXRlimit
	devices  []specs.LinuxDevice
	devRules []specs.LinuxDeviceCgroup
	binds    []specs.Mount
}

func newGenerator(in Input) (*generator, error) {
	g := &generator{in: in, sys: probeHost()}
	if in.Config != nil {
		g.cfg = cloneConfig(*in.Config)
	}
	if in.Host != nil {
		g.host = *in.Host
	}
	if !in.Merged {
		if err := MergeImageConfig(&g.cfg, in.Image); err != nil {
			return nil, err
		}
	}
	g.applyHostDefaults()
	return g, nil
}

// applyHostDefaults fills what dockerd fills at create time when the
// request leaves it empty (the daemon stores most of it at create:
// FillHostDefaults; records from before it did lack it).
func (g *generator) applyHostDefaults() {
	h := &g.host
	fillHostDefaults(h, g.sys)
	if h.NetworkMode == "" {
		h.NetworkMode = "default"
	}
	if g.cfg.Hostname == "" {
		// As docker: only the host's network gives the host's name (with
		// --uts host alone the kernel's name shows, but HOSTNAME is the id).
		switch {
		case h.NetworkMode.IsHost():
			g.cfg.Hostname = g.sys.hostname
		case len(g.in.ID) >= 12:
			g.cfg.Hostname = g.in.ID[:12]
		default:
			g.cfg.Hostname = g.in.ID
		}
	}
}

// cloneConfig copies the parts of c that merging may change, so the
// caller's config stays untouched.
func cloneConfig(c container.Config) container.Config {
	c.Env = slices.Clone(c.Env)
	c.Cmd = slices.Clone(c.Cmd)
	c.Entrypoint = slices.Clone(c.Entrypoint)
	c.Labels = maps.Clone(c.Labels)
	c.Volumes = maps.Clone(c.Volumes)
	c.ExposedPorts = maps.Clone(c.ExposedPorts)
	return c
}

// baseSpec is the skeleton every container starts from; the steps fill it.
func baseSpec() *specs.Spec {
	return &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{},
		Root:    &specs.Root{},
		Linux: &specs.Linux{
			Sysctl:    map[string]string{},
			Resources: &specs.LinuxResources{},
		},
	}
}
