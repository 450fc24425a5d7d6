// Package cgroups places a container's processes in cgroups and applies the
// OCI runtime-spec's linux.resources to them, on cgroup v1, v2 and hybrid
// hosts (v1 controllers beside a cgroup2 mount that holds a few or none).
//
// It owns nothing but cgroupfs (and the device eBPF program attached to a
// cgroup2 directory): it never forks, never reads config.json and never
// touches namespaces. The runtime creates a Manager before the container's
// first process exists, applies the limits, moves the process in, and
// destroys the cgroup when the container is deleted.
//
// Hosts: DetectLayout reads the host's layout once. New returns a v1
// manager on a Legacy host, a v2 manager on a Unified host, and on a Hybrid
// host a manager that uses v1 for every controller mounted in v1 and the
// unified hierarchy for the rest (there, typically hugetlb). On a Hybrid
// host the container also gets a directory in the unified hierarchy, so
// cgroup.kill, cgroup.events and cgroupns work there as on v2.
package cgroups

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/errdefs"
)

// Manager controls the cgroup (one directory per v1 hierarchy, one in the
// unified hierarchy) of a single container. Its methods are safe for
// concurrent use.
//
// Lifecycle: New (or Load, from Paths saved in a previous process) → Apply
// for the first pid → Set → … Freeze/Thaw, Pids, Stats … → Destroy.
//
// Errors: a resource the host cannot provide (a controller not mounted, a
// kernel knob that does not exist) is an errdefs.ErrNotImplemented wrapped
// with the controller and file; an invalid value is errdefs.ErrInvalidParameter;
// a cgroup that no longer exists is errdefs.ErrNotFound; a cgroup busy with
// processes is errdefs.ErrConflict. Every error names the file it was
// writing. Set checks every value and that every controller it needs is
// there before it writes anything.
//
// Example:
//
//	layout, err := cgroups.DetectLayout()
//	m, err := cgroups.New(layout, cgroups.Config{Path: "/berth/" + id, Resources: spec.Linux.Resources})
//	err = m.Apply(-1)                 // create the directories
//	err = m.Set(spec.Linux.Resources) // before the process runs user code
//	err = m.Apply(pid)
//	saved := m.Paths()                // persisted with the container's state
//	…
//	m, err = cgroups.Load(layout, saved)
//	err = m.Destroy()
type Manager interface {
	// Apply creates the cgroup directories if they do not exist and moves
	// pid into every one of them. Applying pid 0 or a negative pid only
	// creates the directories. On v1, a new cpuset cgroup gets its
	// parent's cpus and mems, without which no task could join it.
	Apply(pid int) error
	// Set writes the resource limits. Fields left nil are left alone, and
	// so are zero shares, quota and period (as runc does). Call Apply
	// first: Set does not create directories. Deprecated knobs
	// (memory.kernel, memory.kernelTCP) and knobs cgroup v2 lacks
	// (swappiness, disableOOMKiller, useHierarchy, blkio leaf weights) are
	// skipped; Warnings lists them for the user.
	Set(r *specs.LinuxResources) error
	// Freeze stops every process of the cgroup and returns once they are
	// frozen (bounded by a few seconds: errdefs.ErrUnavailable and the
	// cgroup thawed again if some task cannot be frozen); Thaw resumes them.
	// The v1 freezer is used where mounted (hybrid hosts included), else
	// cgroup v2's cgroup.freeze.
	Freeze() error
	Thaw() error
	// Frozen reports whether the cgroup is frozen.
	Frozen() (bool, error)
	// Pids lists every process in the cgroup and its descendants.
	Pids() ([]int, error)
	// Stats reads memory, cpu, pids, block io and hugetlb usage. A section
	// whose controller the host lacks is nil.
	Stats() (*Stats, error)
	// Destroy removes the cgroup directories (descendants first). It fails
	// with errdefs.ErrConflict if processes remain; a cgroup already gone
	// is not an error.
	Destroy() error
	// Paths maps each controller to the absolute directory that holds this
	// container's cgroup. The unified (v2) hierarchy's directory is under
	// the key "" (its controllers are listed under their own names too).
	// Named v1 hierarchies appear as "name=systemd". The map is enough for
	// Load to reopen the Manager.
	Paths() map[string]string
}

// Killer is implemented by managers with a cgroup2 directory (Unified and
// Hybrid hosts). Kill sends SIGKILL to every process of the cgroup and its
// descendants at once through cgroup.kill, with no race against forks;
// it returns errdefs.ErrNotImplemented on kernels older than 5.14, where
// the caller must signal the pids itself.
type Killer interface {
	Kill() error
}

// Config says where a container's cgroup goes and what it will be limited to.
type Config struct {
	// Path is the OCI cgroupsPath. An absolute path starts at each
	// hierarchy's root; a relative one at the calling process's own
	// cgroup in that hierarchy (as runc does), except on a Unified host,
	// where it starts at the parent of the caller's cgroup (as runc's v2
	// driver does): a cgroup v2 that holds the caller cannot hand
	// controllers to children. It must not climb out of
	// that anchor with "..", and systemd paths (slice:prefix:name) are
	// refused with errdefs.ErrNotImplemented.
	Path string
	// Name is the container id, used as a relative Path when Path is empty.
	Name string
	// Resources are checked by New, and on a v2 or hybrid host decide which
	// controllers Apply enables for the cgroup. They are written by Set,
	// not by New. May be nil.
	Resources *specs.LinuxResources
}

// New returns a Manager for a container's cgroup on a host of the given
// layout. It validates the path and the resources but touches nothing.
func New(layout *Layout, cfg Config) (Manager, error) {
	if layout == nil {
		return nil, fmt.Errorf("cgroups: no layout: %w", errdefs.ErrInvalidParameter)
	}
	cp, err := parseCgroupsPath(cfg.Path, cfg.Name)
	if err != nil {
		return nil, err
	}
	if err := validateResources(cfg.Resources); err != nil {
		return nil, err
	}
	switch layout.Mode {
	case Legacy:
		return newV1(layout, cp), nil
	case Unified:
		v2 := newV2(layout, cp, false)
		v2.want = v2.wanted(cfg.Resources, nil)
		return v2, nil
	case Hybrid:
		h := &hybridManager{v1: newV1(layout, cp), v2: newV2(layout, cp, true)}
		h.v2.want = h.v2.wanted(cfg.Resources, h.v1)
		return h, nil
	}
	return nil, fmt.Errorf("cgroups: layout mode %v: %w", layout.Mode, errdefs.ErrInvalidParameter)
}

// Load reopens the Manager whose Paths() were saved, on the same host.
// Every path must lie strictly below the mountpoint of its hierarchy.
func Load(layout *Layout, paths map[string]string) (Manager, error) {
	if layout == nil {
		return nil, fmt.Errorf("cgroups: no layout: %w", errdefs.ErrInvalidParameter)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("cgroups: load: no paths: %w", errdefs.ErrInvalidParameter)
	}
	var v1 *v1Manager
	var v2 *v2Manager
	if dir, ok := paths[""]; ok {
		var err error
		if v2, err = loadV2(layout, dir); err != nil {
			return nil, err
		}
	}
	v1Paths := maps.Clone(paths)
	delete(v1Paths, "")
	if v2 != nil {
		for k, dir := range v1Paths {
			if dir == v2.dir {
				delete(v1Paths, k)
			}
		}
	}
	if len(v1Paths) > 0 {
		var err error
		if v1, err = loadV1(layout, v1Paths); err != nil {
			return nil, err
		}
	}
	switch {
	case v1 != nil && v2 != nil:
		return &hybridManager{v1: v1, v2: v2}, nil
	case v1 != nil:
		return v1, nil
	case v2 != nil:
		return v2, nil
	}
	return nil, fmt.Errorf("cgroups: load: no usable path in %v: %w", paths, errdefs.ErrInvalidParameter)
}

// group is a part of LinuxResources that one controller applies.
type group int

const (
	grpCPUSet group = iota
	grpMemory
	grpCPU
	grpPids
	grpBlockIO
	grpHugetlb
	grpNetClassID
	grpNetPrio
	grpRdma
	grpDevices
	grpUnified
)

var groupNames = [...]string{"cpuset", "memory", "cpu", "pids", "blkio", "hugetlb", "network classID", "network priorities", "rdma", "devices", "unified"}

func (g group) String() string { return groupNames[g] }

// requested lists the groups r asks for, in the order they are written:
// cpuset first (other controllers may depend on the cpus a cgroup has),
// unified last (its raw keys override the converted values, as in runc).
func requested(r *specs.LinuxResources) []group {
	if r == nil {
		return nil
	}
	var gs []group
	if c := r.CPU; c != nil && (c.Cpus != "" || c.Mems != "") {
		gs = append(gs, grpCPUSet)
	}
	if m := r.Memory; m != nil && (m.Limit != nil || m.Reservation != nil || m.Swap != nil ||
		m.Swappiness != nil || m.DisableOOMKiller != nil || m.UseHierarchy != nil) {
		gs = append(gs, grpMemory)
	}
	if c := r.CPU; c != nil && (c.Shares != nil || c.Quota != nil || c.Burst != nil || c.Period != nil ||
		c.RealtimeRuntime != nil || c.RealtimePeriod != nil || c.Idle != nil) {
		gs = append(gs, grpCPU)
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		gs = append(gs, grpPids)
	}
	if b := r.BlockIO; b != nil && (b.Weight != nil || b.LeafWeight != nil || len(b.WeightDevice) > 0 ||
		len(b.ThrottleReadBpsDevice) > 0 || len(b.ThrottleWriteBpsDevice) > 0 ||
		len(b.ThrottleReadIOPSDevice) > 0 || len(b.ThrottleWriteIOPSDevice) > 0) {
		gs = append(gs, grpBlockIO)
	}
	if len(r.HugepageLimits) > 0 {
		gs = append(gs, grpHugetlb)
	}
	if r.Network != nil && r.Network.ClassID != nil {
		gs = append(gs, grpNetClassID)
	}
	if r.Network != nil && len(r.Network.Priorities) > 0 {
		gs = append(gs, grpNetPrio)
	}
	if len(r.Rdma) > 0 {
		gs = append(gs, grpRdma)
	}
	if len(r.Devices) > 0 {
		gs = append(gs, grpDevices)
	}
	if len(r.Unified) > 0 {
		gs = append(gs, grpUnified)
	}
	return gs
}

// backend is one cgroup version's way of applying a group.
type backend interface {
	// supports returns nil when the backend can apply g of r, and
	// otherwise says which controller is missing (ErrNotImplemented).
	supports(g group, r *specs.LinuxResources) error
	set(g group, r *specs.LinuxResources) error
}

// setResources validates r, routes every requested group to a backend,
// and only when all of them have one, writes.
func setResources(r *specs.LinuxResources, route func(group) (backend, error)) error {
	if err := validateResources(r); err != nil {
		return err
	}
	groups := requested(r)
	plan := make([]backend, len(groups))
	var errs []error
	for i, g := range groups {
		b, err := route(g)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		plan[i] = b
	}
	if len(errs) > 0 {
		return fmt.Errorf("cgroup resources: %w", errors.Join(errs...))
	}
	for i, g := range groups {
		if err := plan[i].set(g, r); err != nil {
			return fmt.Errorf("cgroup %s: %w", g, err)
		}
	}
	return nil
}

// only routes every group to b.
func only(b backend, r *specs.LinuxResources) func(group) (backend, error) {
	return func(g group) (backend, error) {
		if err := b.supports(g, r); err != nil {
			return nil, err
		}
		return b, nil
	}
}

func notMounted(what, controller string) error {
	return fmt.Errorf("%s: the %s cgroup controller is not available on this host: %w", what, controller, errdefs.ErrNotImplemented)
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	return slices.Sorted(maps.Keys(m))
}

// UnifiedFirst is implemented by managers with a cgroup2 directory (v2
// and hybrid hosts). ApplyUnified makes that directory alone, so the
// runtime can fork the container's first process straight into it
// (clone3 CLONE_INTO_CGROUP) while Apply makes the v1 directories.
type UnifiedFirst interface {
	ApplyUnified() error
}
