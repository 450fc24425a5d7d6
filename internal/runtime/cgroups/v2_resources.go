package cgroups

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/errdefs"
)

func (m *v2Manager) supports(g group, r *specs.LinuxResources) error {
	switch g {
	case grpNetClassID, grpNetPrio:
		return fmt.Errorf("%s: needs the v1 net_cls/net_prio controllers; cgroup v2 has none (an eBPF or nftables cgroup match replaces them): %w", g, errdefs.ErrNotImplemented)
	case grpDevices:
		return nil // an eBPF program works on any cgroup2 directory
	case grpCPU:
		if c := r.CPU; (c.RealtimeRuntime != nil && *c.RealtimeRuntime != 0) || (c.RealtimePeriod != nil && *c.RealtimePeriod != 0) {
			return fmt.Errorf("cpu realtime runtime/period: cgroup v2 has no realtime group scheduling: %w", errdefs.ErrNotImplemented)
		}
	case grpHugetlb:
		if err := checkPageSizes(m.pageSizes, r.HugepageLimits); err != nil {
			return err
		}
	case grpUnified:
		for _, k := range sortedKeys(r.Unified) {
			if c := unifiedController(k); c != "" && !slices.Contains(m.owned, c) {
				return fmt.Errorf("unified key %s: the %s controller is not available in the unified hierarchy of this host: %w", k, c, errdefs.ErrNotImplemented)
			}
		}
		return nil
	}
	for _, c := range v2Controllers(g, r) {
		if !slices.Contains(m.owned, c) {
			return notMounted(g.String(), c)
		}
	}
	return nil
}

func (m *v2Manager) set(g group, r *specs.LinuxResources) error {
	if err := m.enable(v2Controllers(g, r), true); err != nil {
		return err
	}
	w := func(file, value string) error { return m.write(path.Join(m.dir, file), value) }
	switch g {
	case grpCPUSet:
		return setCpuset(w, r.CPU)
	case grpMemory:
		return m.setMemory(w, r.Memory)
	case grpCPU:
		return m.setCPU(w, r.CPU)
	case grpPids:
		return w("pids.max", pidsMax(*r.Pids.Limit))
	case grpBlockIO:
		return setIO(w, r.BlockIO)
	case grpHugetlb:
		return setHugetlb(w, r.HugepageLimits, "max", "rsvd.max")
	case grpRdma:
		return setRdma(w, r.Rdma)
	case grpDevices:
		return setDevicesV2(m.dir, r.Devices)
	case grpUnified:
		for _, k := range sortedKeys(r.Unified) {
			if err := w(k, r.Unified[k]); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("group %v: %w", g, errdefs.ErrNotImplemented)
}

// setMemory converts v1 semantics: memory.max ← limit, memory.low ←
// reservation, memory.swap.max ← swap − limit (see swapToV2). Swappiness,
// disableOOMKiller and useHierarchy have no v2 file and are skipped.
func (m *v2Manager) setMemory(w fileWriter, mem *specs.LinuxMemory) error {
	limit := mem.Limit
	if limit == nil && mem.Swap != nil && *mem.Swap > 0 {
		// swap is memory+swap: without a new limit, the current one counts.
		cur, err := readFile(path.Join(m.dir, "memory.max"))
		if err != nil {
			return err
		}
		if v, err := strconv.ParseInt(strings.TrimSpace(cur), 10, 64); err == nil {
			limit = &v
		}
	}
	swap, err := swapToV2(limit, mem.Swap)
	if err != nil {
		return err
	}
	if mem.CheckBeforeUpdate != nil && *mem.CheckBeforeUpdate {
		if err := checkUsage(m.dir, mem.Limit, nil, "memory.current", ""); err != nil {
			return err
		}
	}
	if swap != "" {
		err := w("memory.swap.max", swap)
		explicit := mem.Swap != nil && *mem.Swap != 0
		if err != nil && errdefs.IsNotImplemented(err) {
			if explicit {
				return fmt.Errorf("memory swap limit: swap accounting is off: %w", err)
			}
			err = nil // implied by an unlimited limit; nothing to keep in step
		}
		if err != nil {
			return err
		}
	}
	if mem.Limit != nil {
		if err := w("memory.max", v2Limit(*mem.Limit)); err != nil {
			return err
		}
	}
	if mem.Reservation != nil {
		if err := w("memory.low", v2Limit(*mem.Reservation)); err != nil {
			return err
		}
	}
	return nil
}

// setCPU converts v1 semantics: cpu.weight ← shares (sharesToWeight),
// cpu.max ← "quota period", cpu.max.burst ← burst.
func (m *v2Manager) setCPU(w fileWriter, c *specs.LinuxCPU) error {
	idle := c.Idle != nil && *c.Idle == 1
	if c.Idle != nil {
		if err := w("cpu.idle", strconv.FormatInt(*c.Idle, 10)); err != nil {
			return err
		}
	}
	if c.Shares != nil && *c.Shares != 0 && !idle {
		if err := w("cpu.weight", strconv.FormatUint(sharesToWeight(*c.Shares), 10)); err != nil {
			return err
		}
	}
	// burst <= quota at every write, as in v1 (setCPUV1).
	burstDone := false
	if c.Burst != nil {
		err := w("cpu.max.burst", strconv.FormatUint(*c.Burst, 10))
		if err != nil && !errdefs.IsInvalidParameter(err) {
			return err
		}
		burstDone = err == nil
	}
	quotaSet := c.Quota != nil && *c.Quota != 0
	periodSet := c.Period != nil && *c.Period != 0
	if quotaSet || periodSet {
		var quota string
		if quotaSet {
			quota = v2Limit(*c.Quota)
		} else {
			// cpu.max takes the quota first: keep the current one.
			cur, err := readFile(path.Join(m.dir, "cpu.max"))
			if err != nil {
				return err
			}
			quota = "max"
			if f := strings.Fields(cur); len(f) > 0 {
				quota = f[0]
			}
		}
		line := quota
		if periodSet {
			line += " " + strconv.FormatUint(*c.Period, 10)
		}
		if err := w("cpu.max", line); err != nil {
			return err
		}
	}
	if c.Burst != nil && !burstDone {
		if err := w("cpu.max.burst", strconv.FormatUint(*c.Burst, 10)); err != nil {
			return err
		}
	}
	return nil
}

// setIO converts blkio to io: the weight goes to io.bfq.weight as is when
// BFQ is there (same 1–1000 scale), else to io.weight converted
// (blkioToIOWeight); the four throttle lists merge into one io.max line
// per device, where a rate of 0 (v1: no limit) becomes "max". Leaf weights
// have no v2 equivalent and are skipped.
func setIO(w fileWriter, b *specs.LinuxBlockIO) error {
	if b.Weight != nil && *b.Weight != 0 {
		err := w("io.bfq.weight", strconv.Itoa(int(*b.Weight)))
		if err != nil && errdefs.IsNotImplemented(err) {
			err = w("io.weight", strconv.FormatUint(blkioToIOWeight(*b.Weight), 10))
		}
		if err != nil {
			return err
		}
	}
	for _, d := range b.WeightDevice {
		if d.Weight == nil {
			continue
		}
		dev := devNum(d.LinuxBlockIODevice)
		err := w("io.bfq.weight", dev+" "+strconv.Itoa(int(*d.Weight)))
		if err != nil && errdefs.IsNotImplemented(err) {
			err = w("io.weight", dev+" "+strconv.FormatUint(blkioToIOWeight(*d.Weight), 10))
		}
		if err != nil {
			return err
		}
	}
	type limits struct{ parts []string }
	var order []string
	byDev := map[string]*limits{}
	add := func(key string, devs []specs.LinuxThrottleDevice) {
		for _, d := range devs {
			dev := devNum(d.LinuxBlockIODevice)
			l, ok := byDev[dev]
			if !ok {
				l = &limits{}
				byDev[dev] = l
				order = append(order, dev)
			}
			v := "max"
			if d.Rate != 0 {
				v = strconv.FormatUint(d.Rate, 10)
			}
			l.parts = append(l.parts, key+"="+v)
		}
	}
	add("rbps", b.ThrottleReadBpsDevice)
	add("wbps", b.ThrottleWriteBpsDevice)
	add("riops", b.ThrottleReadIOPSDevice)
	add("wiops", b.ThrottleWriteIOPSDevice)
	for _, dev := range order {
		if err := w("io.max", dev+" "+strings.Join(byDev[dev].parts, " ")); err != nil {
			return err
		}
	}
	return nil
}
