// Package config is berthd's configuration: the subset of dockerd's
// daemon.json that Berth understands, the command-line flags (dockerd's
// names where they overlap), the defaults (all in Default), and the
// checks that reject contradictions before the daemon touches anything.
//
// Precedence: a flag given on the command line wins over the file, the
// file wins over the default (Resolve).
package config

import (
	"github.com/moby/moby/api/types/container"
)

// Config is the daemon's whole configuration.
type Config struct {
	// Hosts are the addresses to serve: unix:///path or tcp://host:port.
	// Empty means one unix socket, DefaultSocket(ExecRoot).
	Hosts []string `json:"hosts,omitempty"`
	// SocketGroup owns the unix sockets (mode 0660) when it exists.
	SocketGroup string `json:"group,omitempty"`

	DataRoot string `json:"data-root,omitempty"`
	ExecRoot string `json:"exec-root,omitempty"`
	Pidfile  string `json:"pidfile,omitempty"`
	// ConfigFile is the daemon.json read (flag only).
	ConfigFile string `json:"-"`

	LogLevel string `json:"log-level,omitempty"`

	// DefaultRuntime names the OCI runtime containers use unless they
	// pick one; Runtimes adds runtimes beside the built-in berth, runc
	// and crun.
	DefaultRuntime string             `json:"default-runtime,omitempty"`
	Runtimes       map[string]Runtime `json:"runtimes,omitempty"`

	InsecureRegistries []string `json:"insecure-registries,omitempty"`
	RegistryMirrors    []string `json:"registry-mirrors,omitempty"`

	// LiveRestore keeps containers running while the daemon is down.
	LiveRestore bool `json:"live-restore"`

	LogDriver string            `json:"log-driver,omitempty"`
	LogOpts   map[string]string `json:"log-opts,omitempty"`

	DefaultUlimits map[string]*container.Ulimit `json:"default-ulimits,omitempty"`

	// StorageDriver is dockerd's name (overlay2, overlay, vfs) or Berth's
	// (overlay, native); empty picks overlay where the kernel has it.
	StorageDriver string `json:"storage-driver,omitempty"`

	// Networking, with dockerd's names (network.go says what each does).
	// Bridge is the default bridge's Linux name ("" => <prefix>0), or
	// "none" for no default bridge network (containers then default to
	// network mode none).
	Bridge string `json:"bridge,omitempty"`
	// BIP is the default bridge's gateway address with its prefix
	// length (CIDR, e.g. 10.10.0.1/24); empty picks a free subnet.
	BIP string `json:"bip,omitempty"`
	// DefaultAddressPools are where user networks' subnets come from;
	// empty means docker's (172.17-31.0.0/16, 192.168.0.0/16 in /20s).
	DefaultAddressPools []AddressPool `json:"default-address-pools,omitempty"`
	// DNS, DNSSearch and DNSOptions are containers' defaults for --dns,
	// --dns-search and --dns-option.
	DNS        []string `json:"dns,omitempty"`
	DNSSearch  []string `json:"dns-search,omitempty"`
	DNSOptions []string `json:"dns-opts,omitempty"`
	// IPTables false leaves the host's firewall alone: no NAT, no
	// published ports through rules, no isolation.
	IPTables bool `json:"iptables"`
	// IPForward false does not turn on net.ipv4.ip_forward (accepted
	// for dockerd compatibility; the firewall backend needs forwarding
	// for outbound traffic and says so).
	IPForward bool `json:"ip-forward"`
	// MTU of the default bridge and its veths; 0 means 1500.
	MTU int `json:"mtu,omitempty"`
	// UserlandProxy is accepted for dockerd compatibility: Berth never
	// runs a proxy process; published ports work from 127.0.0.1 through
	// the firewall's hairpin rules whatever its value.
	UserlandProxy bool `json:"userland-proxy"`

	// CgroupParent is the parent of containers' cgroups; empty means
	// "/" + ResourcePrefix.
	CgroupParent string `json:"cgroup-parent,omitempty"`
	// ResourcePrefix starts every host-global name the daemon makes
	// (cgroups, later bridges and nftables tables), so several daemons
	// can share a host.
	ResourcePrefix string `json:"resource-prefix,omitempty"`

	TLS       bool   `json:"tls,omitempty"`
	TLSVerify bool   `json:"tlsverify,omitempty"`
	TLSCACert string `json:"tlscacert,omitempty"`
	TLSCert   string `json:"tlscert,omitempty"`
	TLSKey    string `json:"tlskey,omitempty"`

	// ShutdownTimeout is how long (seconds) shutdown waits for each
	// container to stop when live restore is off.
	ShutdownTimeout int `json:"shutdown-timeout,omitempty"`

	// ShimHibernateAfter (a Go duration, "0" for never) is how long a
	// running container's shim may sit idle before it hands its place to
	// a keeper of a few pages (internal/shim, hibernate_linux.go). A
	// Berth extension.
	ShimHibernateAfter string `json:"shim-hibernate-after,omitempty"`
}

// AddressPool is one of daemon.json's default-address-pools (dockerd's
// shape): subnets of Size bits cut out of Base.
type AddressPool struct {
	Base string `json:"base"`
	Size int    `json:"size"`
}

// Runtime is an OCI runtime with runc's command line.
type Runtime struct {
	Path string   `json:"path"`
	Args []string `json:"runtimeArgs,omitempty"`
}

// The built-in runtimes: Berth's own, and runc and crun when found in
// $PATH.
const (
	RuntimeBerth = "berth"
	RuntimeRunc  = "runc"
	RuntimeCrun  = "crun"
)

// Default is the configuration with nothing set: every default, in one
// place.
func Default() Config {
	return Config{
		SocketGroup:     "berth",
		DataRoot:        "/var/lib/berth",
		ExecRoot:        "/run/berth",
		LogLevel:        "info",
		DefaultRuntime:  RuntimeBerth,
		LiveRestore:     true,
		LogDriver:       "json-file",
		LogOpts:         map[string]string{},
		DefaultUlimits:  map[string]*container.Ulimit{},
		Runtimes:        map[string]Runtime{},
		ResourcePrefix:  "berth",
		ShutdownTimeout: 15,
		// Long enough that a container's start and its first seconds
		// (health checks, docker exec right after run) find the shim
		// awake; short enough that idle containers cost little.
		ShimHibernateAfter: "2s",
		IPTables:           true,
		IPForward:          true,
		UserlandProxy:      true,
	}
}

// DefaultSocket is the unix socket served when no host is given.
func DefaultSocket(execRoot string) string {
	return "unix://" + execRoot + "/berth.sock"
}

// EffectiveHosts are the hosts to serve.
func (c *Config) EffectiveHosts() []string {
	if len(c.Hosts) == 0 {
		return []string{DefaultSocket(c.ExecRoot)}
	}
	return c.Hosts
}

// EffectiveCgroupParent is the cgroup parent of containers without their
// own.
func (c *Config) EffectiveCgroupParent() string {
	if c.CgroupParent != "" {
		return c.CgroupParent
	}
	return "/" + c.ResourcePrefix
}

// Snapshotter is the snapshotter behind StorageDriver: "overlay",
// "native", or "" to pick by what the kernel supports.
func (c *Config) Snapshotter() string {
	switch c.StorageDriver {
	case "overlay2", "overlay":
		return "overlay"
	case "native", "vfs":
		return "native"
	}
	return ""
}
