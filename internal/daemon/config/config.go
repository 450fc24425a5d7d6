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

	// Bridge is accepted and kept for the networking work; containers
	// get network mode none (loopback only) until then.
	Bridge string `json:"bridge,omitempty"`

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
