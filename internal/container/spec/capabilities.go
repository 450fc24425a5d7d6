package spec

import (
	"context"
	"slices"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// knownCapabilities lists every capability name in number order
// (include/uapi/linux/capability.h); the index is the number.
var knownCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// DefaultCapabilities returns docker's default capability set, in docker's
// order.
func DefaultCapabilities() []string {
	return []string{
		"CAP_CHOWN",
		"CAP_DAC_OVERRIDE",
		"CAP_FSETID",
		"CAP_FOWNER",
		"CAP_MKNOD",
		"CAP_NET_RAW",
		"CAP_SETGID",
		"CAP_SETUID",
		"CAP_SETFCAP",
		"CAP_SETPCAP",
		"CAP_NET_BIND_SERVICE",
		"CAP_SYS_CHROOT",
		"CAP_KILL",
		"CAP_AUDIT_WRITE",
	}
}

const allCapabilities = "ALL"

// availableCapabilities is "ALL" on this host: every known capability the
// daemon itself holds, in number order.
func (g *generator) availableCapabilities() []string {
	var out []string
	for _, c := range knownCapabilities {
		if g.sys.currentCaps[c] {
			out = append(out, c)
		}
	}
	return out
}

// normalizeCapabilities upper-cases names and adds the CAP_ prefix where it
// is missing; "ALL" stays as it is. An unknown name, or one the host does
// not have, is InvalidParameter with docker's wording.
func (g *generator) normalizeCapabilities(field string, in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, c := range in {
		c = strings.ToUpper(c)
		if c == allCapabilities {
			out = append(out, c)
			continue
		}
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		if !slices.Contains(knownCapabilities, c) {
			return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid %s: unknown capability: %q", field, c)
		}
		if !g.sys.currentCaps[c] {
			return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid %s: capability not supported by your kernel or not available in the current environment: %q", field, c)
		}
		out = append(out, c)
	}
	return out, nil
}

// checkCapabilities computes the capability set: privileged gets all;
// otherwise docker's defaults minus CapDrop plus CapAdd, with "ALL" in
// CapAdd meaning all but the dropped, and "ALL" in CapDrop meaning only
// the added.
func (g *generator) checkCapabilities() error {
	drop, err := g.normalizeCapabilities("CapDrop", g.host.CapDrop)
	if err != nil {
		return err
	}
	add, err := g.normalizeCapabilities("CapAdd", g.host.CapAdd)
	if err != nil {
		return err
	}
	switch {
	case g.host.Privileged:
		g.caps = g.availableCapabilities()
	case len(add) == 0 && len(drop) == 0:
		g.caps = DefaultCapabilities()
	case slices.Contains(add, allCapabilities):
		for _, c := range g.availableCapabilities() {
			if !slices.Contains(drop, c) {
				g.caps = append(g.caps, c)
			}
		}
	case slices.Contains(drop, allCapabilities):
		g.caps = add
	default:
		for _, c := range DefaultCapabilities() {
			if !slices.Contains(drop, c) {
				g.caps = append(g.caps, c)
			}
		}
		for _, c := range add {
			if !slices.Contains(g.caps, c) {
				g.caps = append(g.caps, c)
			}
		}
	}
	if g.caps == nil {
		g.caps = []string{}
	}
	return nil
}

// withCapabilities sets bounding, permitted and effective alike; docker
// leaves inheritable and ambient empty.
func (g *generator) withCapabilities(_ context.Context, s *specs.Spec) error {
	s.Process.Capabilities = &specs.LinuxCapabilities{
		Bounding:  slices.Clone(g.caps),
		Permitted: slices.Clone(g.caps),
		Effective: slices.Clone(g.caps),
	}
	return nil
}
