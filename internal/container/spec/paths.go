package spec

import (
	"context"
	"slices"

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

// withPaths sets the masked and read-only paths: the host config's, which
// applyHostDefaults filled with docker's defaults when the request had
// none (the docker CLI sends empty lists for --security-opt
// systempaths=unconfined).
func (g *generator) withPaths(_ context.Context, s *specs.Spec) error {
	s.Linux.MaskedPaths = slices.Clone(g.host.MaskedPaths)
	s.Linux.ReadonlyPaths = slices.Clone(g.host.ReadonlyPaths)
	return nil
}
