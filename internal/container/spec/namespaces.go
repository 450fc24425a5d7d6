package spec

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// checkNamespaceModes rejects modes docker rejects, with its wording, and
// the ones Berth does not do yet (a user namespace).
func (g *generator) checkNamespaceModes() error {
	h := &g.host
	if !h.IpcMode.Valid() || (h.IpcMode.IsContainer() && h.IpcMode.Container() == "") {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid IPC mode: %v", h.IpcMode)
	}
	if !h.PidMode.Valid() {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid PID mode: %v", h.PidMode)
	}
	if !h.UTSMode.Valid() {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid UTS mode: %v", h.UTSMode)
	}
	if !h.CgroupnsMode.Valid() {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid cgroup namespace mode: %v", h.CgroupnsMode)
	}
	if !h.UsernsMode.Valid() {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid USER mode: %v", h.UsernsMode)
	}
	if !h.Cgroup.Valid() {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid cgroup: %v", h.Cgroup)
	}
	if h.Cgroup.IsContainer() {
		return errdefs.Errorf(errdefs.ErrNotImplemented, "--cgroup container:<name> is not supported yet")
	}
	n := h.NetworkMode
	switch {
	case string(n) == "container" || n.IsContainer():
		if n.ConnectedContainer() == "" {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid network mode: invalid container format container:<name|id>")
		}
	case n.IsNone(), n.IsDefault(), n.IsBridge(), n.IsHost():
	default:
		// A user-defined network, which the daemon resolved: the
		// container joins the sandbox connected to it.
		if strings.ContainsAny(string(n), "\x00\n") {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid network mode: %q", n)
		}
	}
	if g.in.NamespacePath == nil && (n.IsContainer() || h.PidMode.IsContainer() || h.IpcMode.IsContainer()) {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "joining another container's namespace is not possible here")
	}
	return nil
}

// withNamespaces creates or joins each namespace as dockerd does. The
// network namespace is the daemon's sandbox (NetworkNamespacePath) for
// bridge, user-defined and none networks, another container's for
// container:<x>, none of its own with host.
func (g *generator) withNamespaces(_ context.Context, s *specs.Spec) error {
	h := &g.host
	ns := []specs.LinuxNamespace{{Type: specs.MountNamespace}}

	join := func(kind specs.LinuxNamespaceType, target, what string) (specs.LinuxNamespace, error) {
		p, err := g.in.NamespacePath(kind, target)
		if err != nil {
			return specs.LinuxNamespace{}, fmt.Errorf("failed to join %s namespace: %w", what, err)
		}
		return specs.LinuxNamespace{Type: kind, Path: p}, nil
	}

	switch n := h.NetworkMode; {
	case n.IsHost():
	case n.IsContainer():
		l, err := join(specs.NetworkNamespace, n.ConnectedContainer(), "network")
		if err != nil {
			return err
		}
		ns = append(ns, l)
	default:
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: g.in.NetworkNamespacePath})
	}

	if !h.UTSMode.IsHost() {
		ns = append(ns, specs.LinuxNamespace{Type: specs.UTSNamespace})
	}

	switch {
	case h.PidMode.IsHost():
	case h.PidMode.IsContainer():
		l, err := join(specs.PIDNamespace, h.PidMode.Container(), "PID")
		if err != nil {
			return err
		}
		ns = append(ns, l)
	default:
		ns = append(ns, specs.LinuxNamespace{Type: specs.PIDNamespace})
	}

	switch {
	case h.IpcMode.IsHost():
	case h.IpcMode.IsContainer():
		l, err := join(specs.IPCNamespace, h.IpcMode.Container(), "IPC")
		if err != nil {
			return err
		}
		ns = append(ns, l)
	default: // private, shareable, none
		ns = append(ns, specs.LinuxNamespace{Type: specs.IPCNamespace})
	}

	if h.CgroupnsMode.IsPrivate() {
		ns = append(ns, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}
	s.Linux.Namespaces = ns
	return nil
}

// withHostname sets the hostname and domain name; a container in the host's
// UTS namespace cannot set them.
func (g *generator) withHostname(_ context.Context, s *specs.Spec) error {
	if g.host.UTSMode.IsHost() {
		return nil
	}
	s.Hostname = g.cfg.Hostname
	s.Domainname = g.cfg.Domainname
	return nil
}

// withCgroupsPath is <parent>/<id>, cgroupfs style as dockerd's cgroupfs
// driver makes it.
func (g *generator) withCgroupsPath(_ context.Context, s *specs.Spec) error {
	parent := g.host.CgroupParent
	if parent == "" {
		parent = g.in.CgroupParent
	}
	if parent == "" {
		parent = DefaultCgroupParent
	}
	s.Linux.CgroupsPath = filepath.Join(parent, g.in.ID)
	return nil
}

// ownNetworkNamespace: the container gets a network namespace of its own
// or another container's, never the host's.
func (g *generator) ownNetworkNamespace() bool {
	return !g.host.NetworkMode.IsHost()
}

// CheckCreate runs the checks docker makes on a create request before the
// daemon fills in defaults (the hostname above all): Generate cannot make
// them, since it sees the stored config, whose hostname the daemon set.
// Errors are InvalidParameter with docker's wording.
func CheckCreate(cfg *container.Config, host *container.HostConfig) error {
	if cfg == nil || host == nil || cfg.Hostname == "" {
		return nil
	}
	if string(host.NetworkMode) == "container" || host.NetworkMode.IsContainer() {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "conflicting options: hostname and the network mode")
	}
	if host.UTSMode.IsHost() {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "conflicting options: hostname and the UTS mode")
	}
	return nil
}
