// Package cgroups places a container's processes in cgroups and applies the
// OCI runtime-spec's linux.resources to them, on cgroup v1, v2 and hybrid
// hosts (v1 controllers beside a cgroup2 mount that holds a few or none).
//
// It owns nothing but cgroupfs: it never forks, never reads config.json and
// never touches namespaces. The runtime creates a Manager before the
// container's first process exists, applies the limits, moves the process in,
// and destroys the cgroup when the container is deleted.
package cgroups

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Manager controls the cgroup (one directory per v1 hierarchy, one in the
// unified hierarchy) of a single container.
//
// Lifecycle: New (or Load, from Paths saved in a previous process) → Apply
// for the first pid → Set → … Freeze/Thaw, Pids, Stats … → Destroy.
//
// Errors: a resource the host cannot provide (a controller not mounted, a
// kernel knob that does not exist) is an errdefs.ErrNotImplemented wrapped
// with the controller and file; an invalid value is errdefs.ErrInvalidParameter.
// Every error names the file it was writing.
type Manager interface {
	// Apply creates the cgroup directories if they do not exist and moves
	// pid into every one of them. Applying pid 0 or a negative pid only
	// creates the directories.
	Apply(pid int) error
	// Set writes the resource limits. Fields left nil are left alone.
	Set(r *specs.LinuxResources) error
	// Freeze stops every process of the cgroup and returns once they are
	// frozen; Thaw resumes them.
	Freeze() error
	Thaw() error
	// Frozen reports whether the cgroup is frozen.
	Frozen() (bool, error)
	// Pids lists every process in the cgroup and its descendants.
	Pids() ([]int, error)
	// Stats reads memory, cpu, pids, block io and hugetlb usage.
	Stats() (*Stats, error)
	// Destroy removes the cgroup directories (descendants first). It fails
	// if processes remain.
	Destroy() error
	// Paths maps each controller to the absolute directory that holds this
	// container's cgroup. The unified (v2) hierarchy's directory is under
	// the key "" (its controllers are listed under their own names too).
	// The map is enough for Load to reopen the Manager.
	Paths() map[string]string
}
