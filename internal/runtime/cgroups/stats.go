package cgroups

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Stats is a snapshot of a cgroup's usage, in the shape the Engine API's
// container stats need (memory_stats, cpu_stats, pids_stats, blkio_stats).
// A section is nil when the host lacks its controller. Sizes are bytes,
// times nanoseconds, whatever the cgroup version reports.
type Stats struct {
	Memory  *MemoryStats
	CPU     *CPUStats
	Pids    *PidsStats
	BlockIO *BlockIOStats
	// Hugetlb is keyed by page size in the runtime-spec's notation ("2MB").
	Hugetlb map[string]HugetlbStats
}

// MemoryStats: v1 from memory.usage_in_bytes, max_usage_in_bytes,
// limit_in_bytes, failcnt, memsw.usage_in_bytes, stat and oom_control;
// v2 from memory.current, peak, max, events, swap.current and stat.
type MemoryStats struct {
	Usage uint64
	// MaxUsage is the peak usage; 0 on v2 kernels before 5.19 (no memory.peak).
	MaxUsage uint64
	// Limit is Unlimited when there is none.
	Limit uint64
	// Failcnt counts the times usage hit the limit (v2: the "max" event).
	Failcnt uint64
	// SwapUsage is swap alone (v1 reports memory+swap; we subtract).
	SwapUsage uint64
	// Cache is page cache (v1 "cache", v2 "file"); RSS is anonymous
	// memory (v1 "rss", v2 "anon").
	Cache uint64
	RSS   uint64
	// Stat is memory.stat as the kernel wrote it; `docker stats` computes
	// its usage from it (v1 total_inactive_file, v2 inactive_file).
	Stat map[string]uint64
	// OOMEvents counts the times the cgroup was out of memory (v2 only);
	// OOMKillEvents the processes the OOM killer killed in it (v2, and v1
	// since Linux 4.13).
	OOMEvents     uint64
	OOMKillEvents uint64
}

// CPUStats: v1 from cpuacct.usage_all (or usage, usage_percpu and stat on
// old kernels) and cpu.stat; v2 from cpu.stat.
type CPUStats struct {
	Usage  uint64
	User   uint64
	System uint64
	// PerCPU is v1 only; nil on v2.
	PerCPU []uint64
	// Throttling: CFS periods elapsed, periods the cgroup was throttled
	// in, and the total time it was throttled.
	Periods          uint64
	ThrottledPeriods uint64
	ThrottledTime    uint64
}

// PidsStats: pids.current and pids.max. Limit is 0 when there is none, as
// in the Engine API.
type PidsStats struct {
	Current uint64
	Limit   uint64
}

// BlockIOStats lists I/O per device: v1 from the blkio.throttle.*
// counters (recursive where the kernel has them), v2 from io.stat.
type BlockIOStats struct {
	Devices []BlockIODevice
}

// BlockIODevice is one device's I/O; v1's Sync/Async/Total rows are
// left out (they are sums of these).
type BlockIODevice struct {
	Major, Minor uint64
	ReadBytes    uint64
	WriteBytes   uint64
	DiscardBytes uint64
	ReadOps      uint64
	WriteOps     uint64
	DiscardOps   uint64
}

// HugetlbStats is one page size's usage. MaxUsage is v1 only.
type HugetlbStats struct {
	Usage    uint64
	MaxUsage uint64
	Limit    uint64
	Failcnt  uint64
}

// blockIO accumulates devices by number.
type blockIO map[[2]uint64]*BlockIODevice

func (b blockIO) dev(spec string) *BlockIODevice {
	maj, min, ok := strings.Cut(spec, ":")
	if !ok {
		return nil
	}
	ma, err1 := strconv.ParseUint(maj, 10, 64)
	mi, err2 := strconv.ParseUint(min, 10, 64)
	if err1 != nil || err2 != nil {
		return nil
	}
	k := [2]uint64{ma, mi}
	d, ok := b[k]
	if !ok {
		d = &BlockIODevice{Major: ma, Minor: mi}
		b[k] = d
	}
	return d
}

func (b blockIO) stats() *BlockIOStats {
	s := &BlockIOStats{}
	for _, d := range b {
		s.Devices = append(s.Devices, *d)
	}
	slices.SortFunc(s.Devices, func(x, y BlockIODevice) int {
		return cmp.Or(cmp.Compare(x.Major, y.Major), cmp.Compare(x.Minor, y.Minor))
	})
	return s
}
