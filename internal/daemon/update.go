package daemon

import (
	"context"
	"fmt"

	containertypes "github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/container/spec"
	"github.com/berth-project/berth/internal/errdefs"
)

// ContainerUpdate is POST /containers/{id}/update: new resource limits
// (applied to the running container's cgroup at once) and a new restart
// policy. Only the fields the request sets change.
func (d *Daemon) ContainerUpdate(ctx context.Context, name string, u containertypes.UpdateConfig) (containertypes.UpdateResponse, error) {
	resp := containertypes.UpdateResponse{Warnings: []string{}}
	c, r, err := d.get(name)
	if err != nil {
		return resp, err
	}
	r.op.Lock()
	defer r.op.Unlock()
	// A start begun in the background used the container as it was.
	d.dropPrestart(ctx, c, r)
	c.Lock()
	defer c.Unlock()
	if c.State.Status == container.Removing || c.State.Status == container.Dead {
		return resp, errdefs.Errorf(errdefs.ErrConflict, "container is marked for removal and cannot be \"update\"")
	}
	host := *c.HostConfig
	res := &host.Resources
	if u.RestartPolicy.Name != "" {
		if c.IsAutoRemove() && u.RestartPolicy.Name != containertypes.RestartPolicyDisabled {
			return resp, errdefs.Errorf(errdefs.ErrInvalidParameter, "Cannot update container %s: Restart policy cannot be updated because AutoRemove is enabled for the container", c.ID)
		}
		host.RestartPolicy = u.RestartPolicy
		if err := checkRestartPolicy(d, nil, &host); err != nil {
			return resp, err
		}
	}
	n := u.Resources
	if n.Memory != 0 {
		if n.Memory < 6<<20 {
			return resp, errdefs.Errorf(errdefs.ErrInvalidParameter, "Minimum memory limit allowed is 6MB")
		}
		if n.MemorySwap == 0 && res.MemorySwap > 0 && n.Memory > res.MemorySwap {
			// As docker: the swap limit (twice the memory limit unless
			// set) does not follow a new memory limit by itself.
			return resp, errdefs.Errorf(errdefs.ErrInvalidParameter, "Cannot update container %s: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time", c.ID)
		}
		res.Memory = n.Memory
	}
	if n.MemorySwap != 0 {
		res.MemorySwap = n.MemorySwap
	}
	if res.MemorySwap > 0 && res.Memory > 0 && res.MemorySwap < res.Memory {
		return resp, errdefs.Errorf(errdefs.ErrInvalidParameter, "Minimum memoryswap limit should be larger than memory limit, see usage")
	}
	if n.MemoryReservation != 0 {
		res.MemoryReservation = n.MemoryReservation
	}
	if n.NanoCPUs != 0 {
		if res.CPUQuota > 0 || n.CPUQuota > 0 {
			return resp, errdefs.Errorf(errdefs.ErrInvalidParameter, "Conflicting options: Nano CPUs and CPU Period cannot both be set")
		}
		res.NanoCPUs = n.NanoCPUs
	}
	if n.CPUShares != 0 {
		res.CPUShares = n.CPUShares
	}
	if n.CPUPeriod != 0 {
		res.CPUPeriod = n.CPUPeriod
	}
	if n.CPUQuota != 0 {
		res.CPUQuota = n.CPUQuota
	}
	if n.CpusetCpus != "" {
		res.CpusetCpus = n.CpusetCpus
	}
	if n.CpusetMems != "" {
		res.CpusetMems = n.CpusetMems
	}
	if n.BlkioWeight != 0 {
		res.BlkioWeight = n.BlkioWeight
	}
	if n.PidsLimit != nil {
		res.PidsLimit = n.PidsLimit
	}
	if err := spec.CheckResources(&host); err != nil {
		return resp, err
	}
	if c.State.HasProcess() && r.task != nil {
		if err := r.task.Update(ctx, linuxResources(res)); err != nil {
			return resp, fmt.Errorf("cannot update container %s: %w", c.ID, err)
		}
	}
	c.HostConfig = &host
	if err := d.containers.Save(c); err != nil {
		return resp, err
	}
	d.emit(c, "update", nil)
	return resp, nil
}

// linuxResources is the runtime-spec form of the limits update can change.
func linuxResources(r *containertypes.Resources) *specs.LinuxResources {
	out := &specs.LinuxResources{}
	mem := &specs.LinuxMemory{}
	if r.Memory > 0 {
		mem.Limit = &r.Memory
	}
	if r.MemoryReservation > 0 {
		mem.Reservation = &r.MemoryReservation
	}
	if r.MemorySwap != 0 {
		swap := r.MemorySwap
		mem.Swap = &swap
	} else if r.Memory > 0 {
		// docker's default: as much swap as memory.
		swap := 2 * r.Memory
		mem.Swap = &swap
	}
	out.Memory = mem
	cpu := &specs.LinuxCPU{}
	if r.CPUShares > 0 {
		shares := uint64(r.CPUShares)
		cpu.Shares = &shares
	}
	period, quota := uint64(r.CPUPeriod), r.CPUQuota
	if r.NanoCPUs > 0 {
		period = 100000
		quota = r.NanoCPUs * int64(period) / 1e9
	}
	if period > 0 {
		cpu.Period = &period
	}
	if quota != 0 {
		cpu.Quota = &quota
	}
	cpu.Cpus = r.CpusetCpus
	cpu.Mems = r.CpusetMems
	out.CPU = cpu
	if r.PidsLimit != nil {
		limit := *r.PidsLimit
		if limit <= 0 {
			limit = -1
		}
		out.Pids = &specs.LinuxPids{Limit: &limit}
	}
	if r.BlkioWeight > 0 {
		w := r.BlkioWeight
		out.BlockIO = &specs.LinuxBlockIO{Weight: &w}
	}
	return out
}
