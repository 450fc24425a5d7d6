package spec

import (
	"context"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultMaskedPaths is docker's list of paths hidden from a container (an
// empty file or tmpfs over them); the per-CPU thermal_throttle directories
// that exist on the host are added to it.
func DefaultMaskedPaths() []string {
	return []string{
		"/proc/asound",
		"/proc/acpi",
		"/proc/interrupts",
		"/proc/kcore",
		"/proc/keys",
		"/proc/latency_stats",
		"/proc/timer_list",
		"/proc/timer_stats",
		"/proc/sched_debug",
		"/proc/scsi",
		"/sys/firmware",
		"/sys/devices/virtual/powercap",
	}
}

// DefaultReadonlyPaths is docker's list of paths a container sees read-only.
func DefaultReadonlyPaths() []string {
	return []string{
		"/proc/bus",
		"/proc/fs",
		"/proc/irq",
		"/proc/sys",
		"/proc/sysrq-trigger",
	}
}

// withPaths sets the masked and read-only paths: docker's defaults, none
// for a privileged container, and the request's own lists when it has them
// (the docker CLI sends empty ones for --security-opt systempaths=unconfined).
func (g *generator) withPaths(_ context.Context, s *specs.Spec) error {
	if !g.host.Privileged {
		s.Linux.MaskedPaths = append(DefaultMaskedPaths(), g.sys.thermalThrottle...)
		s.Linux.ReadonlyPaths = DefaultReadonlyPaths()
	}
	if g.host.MaskedPaths != nil {
		s.Linux.MaskedPaths = append([]string{}, g.host.MaskedPaths...)
	}
	if g.host.ReadonlyPaths != nil {
		s.Linux.ReadonlyPaths = append([]string{}, g.host.ReadonlyPaths...)
	}
	return nil
}
