package cgroups

import specs "github.com/opencontainers/runtime-spec/specs-go"

// Warnings lists the settings of r that Set will skip on a host of this
// layout, in words for the user (the Warnings of a create response).
// Skipping them rather than failing is what runc and crun do: the knobs
// are deprecated or have no cgroup v2 equivalent.
func Warnings(l *Layout, r *specs.LinuxResources) []string {
	if l == nil || r == nil {
		return nil
	}
	var w []string
	memV2 := l.V1Hierarchy("memory") == nil && l.Unified != nil
	if m := r.Memory; m != nil {
		//lint:ignore SA1019 deprecated knobs are still sent; they are detected to be ignored
		if m.Kernel != nil {
			w = append(w, "kernel memory limits are deprecated and no longer supported by the kernel; the limit was ignored")
		}
		if m.KernelTCP != nil {
			w = append(w, "kernel TCP memory limits are deprecated and no longer supported by the kernel; the limit was ignored")
		}
		if memV2 && m.Swappiness != nil {
			w = append(w, "memory swappiness has no cgroup v2 equivalent; it was ignored")
		}
		if memV2 && m.DisableOOMKiller != nil && *m.DisableOOMKiller {
			w = append(w, "disabling the OOM killer is not possible with cgroup v2; it was ignored")
		}
		if memV2 && m.UseHierarchy != nil && !*m.UseHierarchy {
			w = append(w, "cgroup v2 memory accounting is always hierarchical; useHierarchy=false was ignored")
		}
	}
	if c := r.CPU; c != nil && c.Idle != nil && *c.Idle == 1 && c.Shares != nil && *c.Shares != 0 {
		w = append(w, "cpu shares do not apply to an idle cgroup; they were ignored")
	}
	ioV2 := l.V1Hierarchy("blkio") == nil && l.Unified != nil
	if b := r.BlockIO; ioV2 && b != nil {
		leaf := b.LeafWeight != nil
		for _, d := range b.WeightDevice {
			leaf = leaf || d.LeafWeight != nil
		}
		if leaf {
			w = append(w, "blkio leaf weights have no cgroup v2 equivalent; they were ignored")
		}
	}
	return w
}
