package system

import (
	"context"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"

	"github.com/berth-project/berth/internal/daemon/images"
)

// Info is GET /info: docker info's facts about the engine and the host.
func (s *Service) Info(ctx context.Context) (system.Info, error) {
	o := &s.opts
	cg := s.host.cgroups
	info := system.Info{
		Driver:             images.DriverOverlay,
		MemoryLimit:        cg.memory,
		SwapLimit:          cg.swap,
		CPUCfsPeriod:       cg.cfsPeriod,
		CPUCfsQuota:        cg.cfsQuota,
		CPUShares:          cg.shares,
		CPUSet:             cg.cpuset,
		PidsLimit:          cg.pids,
		OomKillDisable:     cg.oomKillDisable && o.CgroupVersion == "1",
		IPv4Forwarding:     ipv4Forwarding(),
		Debug:              o.Debug,
		NFd:                openFiles(),
		NGoroutines:        runtime.NumGoroutine(),
		SystemTime:         time.Now().Format(time.RFC3339Nano),
		LoggingDriver:      o.LoggingDriver,
		CgroupDriver:       o.CgroupDriver,
		CgroupVersion:      o.CgroupVersion,
		KernelVersion:      s.host.kernel,
		OperatingSystem:    s.host.osName,
		OSVersion:          s.host.osVersion,
		OSType:             runtime.GOOS,
		Architecture:       s.host.machine,
		IndexServerAddress: "https://index.docker.io/v1/",
		RegistryConfig:     registryConfig(o.InsecureRegistries, o.Mirrors),
		NCPU:               s.host.ncpu,
		MemTotal:           s.host.memTotal,
		DockerRootDir:      o.DataRoot,
		HTTPProxy:          proxyEnv("HTTP_PROXY"),
		HTTPSProxy:         proxyEnv("HTTPS_PROXY"),
		NoProxy:            proxyEnv("NO_PROXY"),
		Labels:             append([]string{}, o.Labels...),
		ServerVersion:      o.Version,
		Runtimes:           map[string]system.RuntimeWithStatus{},
		DefaultRuntime:     o.DefaultRuntime,
		Swarm:              swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive},
		LiveRestoreEnabled: o.LiveRestore,
		InitBinary:         o.InitBinary,
		ContainerdCommit:   system.Commit{},
		RuncCommit:         system.Commit{ID: o.GitCommit},
		InitCommit:         system.Commit{ID: o.GitCommit},
		SecurityOptions:    securityOptions(o.CgroupVersion),
		Plugins: system.PluginsInfo{
			Volume:  []string{"local"},
			Network: []string{"host", "null"},
			Log:     logDrivers(o.LoggingDriver),
		},
	}
	if id, err := engineID(o.DataRoot); err == nil {
		info.ID = id
	} else {
		s.log.WarnContext(ctx, "docker info: no engine id", "error", err)
	}
	info.Name, _ = os.Hostname()
	for name, path := range o.Runtimes {
		info.Runtimes[name] = system.RuntimeWithStatus{Runtime: system.Runtime{Path: path}}
	}
	if o.Containers != nil {
		info.Containers, info.ContainersRunning, info.ContainersPaused, info.ContainersStopped = o.Containers.Counts()
	}
	if o.Events != nil {
		info.NEventsListener = o.Events.Subscribers()
	}
	var warnings []string
	if o.Images != nil {
		n, err := o.Images.Count(ctx)
		if err != nil {
			return system.Info{}, err
		}
		info.Images = n
		info.Driver = o.Images.Driver()
		warnings = append(warnings, o.Images.Warnings()...)
	}
	info.DriverStatus = driverStatus(info.Driver, o.DataRoot)
	info.Warnings = append(append(warnings, o.Warnings...), cgroupWarnings(info)...)
	return info, nil
}

// driverStatus is the snapshotter's lines of docker info.
func driverStatus(driver, root string) [][2]string {
	fs := backingFilesystem(root)
	if driver != images.DriverOverlay {
		return [][2]string{{"Backing Filesystem", fs}}
	}
	// The overlay snapshotter mounts with metacopy off and diffs upper
	// directories itself (no naive diff through a mount).
	return [][2]string{
		{"Backing Filesystem", fs},
		{"Supports d_type", "true"},
		{"Using metacopy", "false"},
		{"Native Overlay Diff", "true"},
		{"userxattr", "false"},
	}
}

// securityOptions are the engine's security features as docker lists
// them: its built-in seccomp profile, and private cgroup namespaces on
// cgroup v2.
func securityOptions(cgroupVersion string) []string {
	out := []string{"name=seccomp,profile=builtin"}
	if cgroupVersion == "2" {
		out = append(out, "name=cgroupns")
	}
	return out
}

func logDrivers(def string) []string {
	out := []string{"json-file"}
	if def != "" && !slices.Contains(out, def) && def != "none" {
		out = append(out, def)
	}
	return out
}

// cgroupWarnings are docker's warnings for the limits the host cannot
// enforce.
func cgroupWarnings(info system.Info) []string {
	var w []string
	for _, c := range []struct {
		ok  bool
		msg string
	}{
		{info.MemoryLimit, "WARNING: No memory limit support"},
		{info.SwapLimit, "WARNING: No swap limit support"},
		{info.CPUCfsQuota, "WARNING: No cpu cfs quota support"},
		{info.CPUCfsPeriod, "WARNING: No cpu cfs period support"},
		{info.CPUShares, "WARNING: No cpu shares support"},
		{info.CPUSet, "WARNING: No cpuset support"},
	} {
		if !c.ok {
			w = append(w, c.msg)
		}
	}
	return w
}

// registryConfig is docker info's registry section: loopback and the
// configured CIDRs are insecure; Docker Hub (with its mirrors) and each
// insecure registry named by host are indexes.
func registryConfig(insecure, mirrors []string) *registry.ServiceConfig {
	cfg := &registry.ServiceConfig{
		InsecureRegistryCIDRs: []netip.Prefix{netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("127.0.0.0/8")},
		IndexConfigs:          map[string]*registry.IndexInfo{},
		Mirrors:               []string{},
	}
	for _, m := range mirrors {
		cfg.Mirrors = append(cfg.Mirrors, normalizeMirror(m))
	}
	cfg.IndexConfigs["docker.io"] = &registry.IndexInfo{Name: "docker.io", Mirrors: cfg.Mirrors, Secure: true, Official: true}
	for _, e := range insecure {
		e = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(e), "http://"), "https://"), "/")
		if p, err := netip.ParsePrefix(e); err == nil {
			p = p.Masked()
			if !slices.Contains(cfg.InsecureRegistryCIDRs, p) {
				cfg.InsecureRegistryCIDRs = append(cfg.InsecureRegistryCIDRs, p)
			}
			continue
		}
		if e != "" {
			cfg.IndexConfigs[e] = &registry.IndexInfo{Name: e, Mirrors: []string{}, Secure: false}
		}
	}
	return cfg
}

// normalizeMirror writes a mirror as docker shows it: a URL with a
// trailing slash.
func normalizeMirror(m string) string {
	u, err := url.Parse(strings.TrimSpace(m))
	if err != nil || u.Host == "" {
		return m
	}
	return u.Scheme + "://" + u.Host + "/"
}

func proxyEnv(name string) string {
	if v := os.Getenv(name); v != "" {
		return redactURL(v)
	}
	return redactURL(os.Getenv(strings.ToLower(name)))
}

// redactURL hides a proxy's password, as docker info does.
func redactURL(v string) string {
	u, err := url.Parse(v)
	if err != nil || u.User == nil {
		return v
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
