package cgroups

import (
	"errors"
	"fmt"
	"path"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/errdefs"
)

// v1Controller names the v1 controller that applies a group.
// An array, not a map: no code builds it when the binary starts.
var v1Controller = [...]string{
	grpCPUSet:     "cpuset",
	grpMemory:     "memory",
	grpCPU:        "cpu",
	grpPids:       "pids",
	grpBlockIO:    "blkio",
	grpHugetlb:    "hugetlb",
	grpNetClassID: "net_cls",
	grpNetPrio:    "net_prio",
	grpRdma:       "rdma",
	grpDevices:    "devices",
	grpUnified:    "", // none: cgroup v2 only
}

func (m *v1Manager) supports(g group, r *specs.LinuxResources) error {
	if g == grpUnified {
		return fmt.Errorf("unified resources need cgroup v2, and this host has only v1 for them: %w", errdefs.ErrNotImplemented)
	}
	c := v1Controller[g]
	if m.dir(c) == "" {
		return notMounted(g.String(), c)
	}
	if g == grpHugetlb {
		return checkPageSizes(m.pageSizes, r.HugepageLimits)
	}
	return nil
}

func (m *v1Manager) set(g group, r *specs.LinuxResources) error {
	dir := m.dir(v1Controller[g])
	w := func(file, value string) error { return m.write(path.Join(dir, file), value) }
	switch g {
	case grpCPUSet:
		return setCpuset(w, r.CPU)
	case grpMemory:
		return m.setMemory(dir, r.Memory)
	case grpCPU:
		return setCPUV1(w, r.CPU)
	case grpPids:
		return w("pids.max", pidsMax(*r.Pids.Limit))
	case grpBlockIO:
		return setBlkioV1(w, r.BlockIO)
	case grpHugetlb:
		return setHugetlb(w, r.HugepageLimits, "limit_in_bytes", "rsvd.limit_in_bytes")
	case grpNetClassID:
		return w("net_cls.classid", strconv.FormatUint(uint64(*r.Network.ClassID), 10))
	case grpNetPrio:
		for _, p := range r.Network.Priorities {
			if err := w("net_prio.ifpriomap", p.Name+" "+strconv.FormatUint(uint64(p.Priority), 10)); err != nil {
				return err
			}
		}
		return nil
	case grpRdma:
		return setRdma(w, r.Rdma)
	case grpDevices:
		return setDevicesV1(w, r.Devices)
	}
	return fmt.Errorf("group %v: %w", g, errdefs.ErrNotImplemented)
}

// fileWriter writes value to a file of the cgroup being set.
type fileWriter func(file, value string) error

func setCpuset(w fileWriter, c *specs.LinuxCPU) error {
	if c.Cpus != "" {
		if err := w("cpuset.cpus", c.Cpus); err != nil {
			return err
		}
	}
	if c.Mems != "" {
		return w("cpuset.mems", c.Mems)
	}
	return nil
}

func (m *v1Manager) setMemory(dir string, mem *specs.LinuxMemory) error {
	w := func(file, value string) error { return m.write(path.Join(dir, file), value) }
	limit, swap := mem.Limit, mem.Swap
	if swap != nil && *swap == 0 {
		swap = nil // 0 is "unset" for memory+swap, as in runc
	}
	// An unlimited memory limit would be refused while memsw is lower
	// (memsw must stay >= limit), so it takes memsw along, as runc does.
	impliedSwap := false
	if limit != nil && *limit == -1 && swap == nil {
		minus1 := int64(-1)
		swap, impliedSwap = &minus1, true
	}
	if mem.CheckBeforeUpdate != nil && *mem.CheckBeforeUpdate {
		if err := checkUsage(dir, limit, swap, "memory.usage_in_bytes", "memory.memsw.usage_in_bytes"); err != nil {
			return err
		}
	}
	writeSwap := func() error {
		err := w("memory.memsw.limit_in_bytes", strconv.FormatInt(*swap, 10))
		if err != nil && impliedSwap && errdefs.IsNotImplemented(err) {
			return nil // no swap accounting: nothing to keep in step
		}
		return swapAccounting(err)
	}
	switch {
	case limit != nil && swap != nil:
		// memsw >= limit holds before and after, not necessarily between:
		// raise memsw first when it grows, lower the limit first otherwise.
		swapFirst := *swap == -1
		if !swapFirst {
			cur, err := readUint(path.Join(dir, "memory.memsw.limit_in_bytes"))
			if err != nil {
				return swapAccounting(err)
			}
			swapFirst = uint64(*swap) > cur
		}
		if swapFirst {
			if err := writeSwap(); err != nil {
				return err
			}
			if err := w("memory.limit_in_bytes", strconv.FormatInt(*limit, 10)); err != nil {
				return err
			}
		} else {
			if err := w("memory.limit_in_bytes", strconv.FormatInt(*limit, 10)); err != nil {
				return err
			}
			if err := writeSwap(); err != nil {
				return err
			}
		}
	case limit != nil:
		if err := w("memory.limit_in_bytes", strconv.FormatInt(*limit, 10)); err != nil {
			return err
		}
	case swap != nil:
		if err := writeSwap(); err != nil {
			return err
		}
	}
	if mem.Reservation != nil {
		if err := w("memory.soft_limit_in_bytes", strconv.FormatInt(*mem.Reservation, 10)); err != nil {
			return err
		}
	}
	if mem.Swappiness != nil {
		if err := w("memory.swappiness", strconv.FormatUint(*mem.Swappiness, 10)); err != nil {
			return err
		}
	}
	if mem.DisableOOMKiller != nil {
		if err := w("memory.oom_control", boolFlag(*mem.DisableOOMKiller)); err != nil {
			return err
		}
	}
	if mem.UseHierarchy != nil {
		err := w("memory.use_hierarchy", boolFlag(*mem.UseHierarchy))
		// Since Linux 5.16 v1 memory is always hierarchical and refuses 0.
		if err != nil && !(errdefs.IsInvalidParameter(err) && !*mem.UseHierarchy) {
			return err
		}
	}
	return nil
}

// swapAccounting explains a missing memsw file.
func swapAccounting(err error) error {
	if err != nil && errdefs.IsNotImplemented(err) {
		return fmt.Errorf("memory swap limit: swap accounting is off (boot with swapaccount=1): %w", err)
	}
	return err
}

// checkUsage implements checkBeforeUpdate: a new limit below what the
// cgroup uses now is refused instead of triggering reclaim or the OOM
// killer. usageFile and swapUsageFile hold memory and memory+swap usage.
func checkUsage(dir string, limit, swap *int64, usageFile, swapUsageFile string) error {
	if limit != nil && *limit > 0 {
		usage, err := readUint(path.Join(dir, usageFile))
		if err != nil {
			return err
		}
		if uint64(*limit) < usage {
			return invalid("memory limit %d is below the current usage %d (checkBeforeUpdate)", *limit, usage)
		}
	}
	if swap != nil && *swap > 0 && swapUsageFile != "" {
		usage, err := readUint(path.Join(dir, swapUsageFile))
		if err != nil && !errdefs.IsNotImplemented(err) {
			return err
		}
		if err == nil && uint64(*swap) < usage {
			return invalid("memory+swap limit %d is below the current usage %d (checkBeforeUpdate)", *swap, usage)
		}
	}
	return nil
}

func boolFlag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func setCPUV1(w fileWriter, c *specs.LinuxCPU) error {
	idle := c.Idle != nil && *c.Idle == 1
	if c.Idle != nil {
		// Written first: a cgroup leaving idle must do so before it can
		// take shares again (the kernel refuses shares on an idle group).
		if err := w("cpu.idle", strconv.FormatInt(*c.Idle, 10)); err != nil {
			return err
		}
	}
	if c.Shares != nil && *c.Shares != 0 && !idle {
		if err := w("cpu.shares", strconv.FormatUint(*c.Shares, 10)); err != nil {
			return err
		}
	}
	// The kernel keeps burst <= quota at every write: a burst that shrinks
	// must go before a quota that shrinks below the old burst, one that
	// grows after a quota that grows. Try it first; on EINVAL, last.
	burstDone := false
	if c.Burst != nil {
		err := w("cpu.cfs_burst_us", strconv.FormatUint(*c.Burst, 10))
		if err != nil && !errdefs.IsInvalidParameter(err) {
			return err
		}
		burstDone = err == nil
	}
	quotaSet := c.Quota != nil && *c.Quota != 0
	quotaDone := false
	if c.Period != nil && *c.Period != 0 {
		err := w("cpu.cfs_period_us", strconv.FormatUint(*c.Period, 10))
		// A shorter period can break the parent's quota/period ratio until
		// the new quota is in: then write the quota first.
		if err != nil && quotaSet && errdefs.IsInvalidParameter(err) {
			if err := w("cpu.cfs_quota_us", strconv.FormatInt(*c.Quota, 10)); err != nil {
				return err
			}
			quotaDone = true
			err = w("cpu.cfs_period_us", strconv.FormatUint(*c.Period, 10))
		}
		if err != nil {
			return err
		}
	}
	if quotaSet && !quotaDone {
		if err := w("cpu.cfs_quota_us", strconv.FormatInt(*c.Quota, 10)); err != nil {
			return err
		}
	}
	if c.Burst != nil && !burstDone {
		if err := w("cpu.cfs_burst_us", strconv.FormatUint(*c.Burst, 10)); err != nil {
			return err
		}
	}
	if c.RealtimePeriod != nil && *c.RealtimePeriod != 0 {
		if err := w("cpu.rt_period_us", strconv.FormatUint(*c.RealtimePeriod, 10)); err != nil {
			return err
		}
	}
	if c.RealtimeRuntime != nil && *c.RealtimeRuntime != 0 {
		if err := w("cpu.rt_runtime_us", strconv.FormatInt(*c.RealtimeRuntime, 10)); err != nil {
			return err
		}
	}
	return nil
}

// pidsMax formats a pids limit: 0 and below mean no limit.
func pidsMax(limit int64) string {
	if limit <= 0 {
		return "max"
	}
	return strconv.FormatInt(limit, 10)
}

// writeFirst writes to the first of files the kernel has: the same knob
// lives under another name with another I/O scheduler (CFQ's blkio.weight,
// BFQ's blkio.bfq.weight).
func writeFirst(w fileWriter, value string, files ...string) error {
	var errs []error
	for _, f := range files {
		err := w(f, value)
		if err == nil || !errdefs.IsNotImplemented(err) {
			return err
		}
		errs = append(errs, err)
	}
	return fmt.Errorf("none of %v exists (is a proportional I/O scheduler, CFQ or BFQ, built in?): %w", files, errors.Join(errs...))
}

func devNum(d specs.LinuxBlockIODevice) string {
	return strconv.FormatInt(d.Major, 10) + ":" + strconv.FormatInt(d.Minor, 10)
}

func setBlkioV1(w fileWriter, b *specs.LinuxBlockIO) error {
	if b.Weight != nil && *b.Weight != 0 {
		if err := writeFirst(w, strconv.Itoa(int(*b.Weight)), "blkio.weight", "blkio.bfq.weight"); err != nil {
			return err
		}
	}
	if b.LeafWeight != nil && *b.LeafWeight != 0 {
		if err := w("blkio.leaf_weight", strconv.Itoa(int(*b.LeafWeight))); err != nil {
			return fmt.Errorf("blkio leaf weight needs CFQ: %w", err)
		}
	}
	for _, d := range b.WeightDevice {
		if d.Weight != nil {
			if err := writeFirst(w, devNum(d.LinuxBlockIODevice)+" "+strconv.Itoa(int(*d.Weight)), "blkio.weight_device", "blkio.bfq.weight_device"); err != nil {
				return err
			}
		}
		if d.LeafWeight != nil {
			if err := w("blkio.leaf_weight_device", devNum(d.LinuxBlockIODevice)+" "+strconv.Itoa(int(*d.LeafWeight))); err != nil {
				return fmt.Errorf("blkio leaf weight needs CFQ: %w", err)
			}
		}
	}
	throttles := []struct {
		file string
		devs []specs.LinuxThrottleDevice
	}{
		{"blkio.throttle.read_bps_device", b.ThrottleReadBpsDevice},
		{"blkio.throttle.write_bps_device", b.ThrottleWriteBpsDevice},
		{"blkio.throttle.read_iops_device", b.ThrottleReadIOPSDevice},
		{"blkio.throttle.write_iops_device", b.ThrottleWriteIOPSDevice},
	}
	for _, t := range throttles {
		// One line per write: the kernel parses a single rule per write.
		for _, d := range t.devs {
			if err := w(t.file, devNum(d.LinuxBlockIODevice)+" "+strconv.FormatUint(d.Rate, 10)); err != nil {
				return err
			}
		}
	}
	return nil
}

// setHugetlb writes hugetlb.<size>.<limitSuffix>, and the reservation
// limit (<rsvdSuffix>, Linux 5.7+) where the kernel has it: the spec asks
// for reservations to be limited when possible, because a fault-time
// limit kills a process at first touch instead of failing its mmap.
func setHugetlb(w fileWriter, limits []specs.LinuxHugepageLimit, limitSuffix, rsvdSuffix string) error {
	for _, l := range limits {
		v := strconv.FormatUint(l.Limit, 10)
		if err := w("hugetlb."+l.Pagesize+"."+limitSuffix, v); err != nil {
			return err
		}
		if err := w("hugetlb."+l.Pagesize+"."+rsvdSuffix, v); err != nil && !errdefs.IsNotImplemented(err) {
			return err
		}
	}
	return nil
}

// setRdma writes one rdma.max line per device (same format in v1 and v2);
// a limit left nil keeps its current value.
func setRdma(w fileWriter, rdma map[string]specs.LinuxRdma) error {
	for _, dev := range sortedKeys(rdma) {
		l := rdma[dev]
		line := dev
		if l.HcaHandles != nil {
			line += " hca_handle=" + strconv.FormatUint(uint64(*l.HcaHandles), 10)
		}
		if l.HcaObjects != nil {
			line += " hca_object=" + strconv.FormatUint(uint64(*l.HcaObjects), 10)
		}
		if line == dev {
			continue
		}
		if err := w("rdma.max", line); err != nil {
			return err
		}
	}
	return nil
}
