package spec

import (
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"
)

// FillHostDefaults fills what dockerd fills in a container's HostConfig
// at create when the request leaves it empty, so that inspect shows what
// the container runs with, as docker's does: the shm size, the IPC and
// cgroup namespace modes, swap (twice the memory limit), swappiness (the
// CLI's -1 means unset), the masked and read-only paths (none for a
// privileged container) and label=disable for a container that shares
// the host's IPC or PID namespace or is privileged. It never changes the
// slices h shares with its caller in place.
func FillHostDefaults(h *container.HostConfig) {
	fillHostDefaults(h, probeHost())
}

func fillHostDefaults(h *container.HostConfig, sys hostFacts) {
	if h.Memory > 0 && h.MemorySwap == 0 {
		h.MemorySwap = h.Memory * 2
	}
	if h.MemorySwappiness != nil && *h.MemorySwappiness == -1 {
		h.MemorySwappiness = nil
	}
	if h.ShmSize == 0 {
		h.ShmSize = DefaultShmSize
	}
	if h.IpcMode == "" {
		h.IpcMode = container.IPCModePrivate
	}
	if h.CgroupnsMode == "" {
		// docker: private on a cgroup2-only host, host otherwise.
		h.CgroupnsMode = container.CgroupnsModeHost
		if sys.cgroup2Only {
			h.CgroupnsMode = container.CgroupnsModePrivate
		}
	}
	if !h.Privileged {
		// An empty list (--security-opt systempaths=unconfined) stays.
		if h.MaskedPaths == nil {
			h.MaskedPaths = append(DefaultMaskedPaths(), sys.thermalThrottle...)
		}
		if h.ReadonlyPaths == nil {
			h.ReadonlyPaths = DefaultReadonlyPaths()
		}
	}
	if (h.IpcMode.IsHost() || h.PidMode.IsHost() || h.Privileged) && !hasLabelOpt(h.SecurityOpt) {
		h.SecurityOpt = append(slices.Clone(h.SecurityOpt), "label=disable")
	}
}

// hasLabelOpt says opts set an SELinux label option ("label=..." or the
// old "label:..."), which docker leaves to the caller.
func hasLabelOpt(opts []string) bool {
	return slices.ContainsFunc(opts, func(o string) bool {
		return strings.HasPrefix(o, "label=") || strings.HasPrefix(o, "label:")
	})
}
