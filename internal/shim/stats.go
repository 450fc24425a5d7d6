package shim

import (
	"encoding/json"
	"fmt"
)

// Stats is a container's cgroup usage in the shape of runc's
// `events --stats` data (runc's types/events.go), whichever runtime
// produced it. Sizes are bytes, times nanoseconds.
type Stats struct {
	CPU     CPU                `json:"cpu"`
	Memory  Memory             `json:"memory"`
	Pids    Pids               `json:"pids"`
	Blkio   Blkio              `json:"blkio"`
	Hugetlb map[string]Hugetlb `json:"hugetlb,omitempty"`
}

// CPU is cpu and cpuacct usage.
type CPU struct {
	Usage      CPUUsage   `json:"usage"`
	Throttling Throttling `json:"throttling"`
}

// CPUUsage: Total, Kernel and User in nanoseconds; Percpu on cgroup v1.
type CPUUsage struct {
	Total        uint64   `json:"total,omitempty"`
	Percpu       []uint64 `json:"percpu,omitempty"`
	PercpuKernel []uint64 `json:"percpu_kernel,omitempty"`
	PercpuUser   []uint64 `json:"percpu_user,omitempty"`
	Kernel       uint64   `json:"kernel"`
	User         uint64   `json:"user"`
}

// Throttling is CFS throttling.
type Throttling struct {
	Periods          uint64 `json:"periods,omitempty"`
	ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
	ThrottledTime    uint64 `json:"throttledTime,omitempty"`
}

// Memory is memory usage; Swap is memory+swap, as runc reports it on both
// cgroup versions. Raw is memory.stat as the kernel writes it.
type Memory struct {
	Cache     uint64            `json:"cache,omitempty"`
	Usage     MemoryEntry       `json:"usage"`
	Swap      MemoryEntry       `json:"swap"`
	Kernel    MemoryEntry       `json:"kernel"`
	KernelTCP MemoryEntry       `json:"kernelTCP"`
	Raw       map[string]uint64 `json:"raw,omitempty"`
}

// MemoryEntry is one memory counter.
type MemoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// Pids is pids.current and pids.max (0: no limit).
type Pids struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

// Blkio is block I/O per device and operation.
type Blkio struct {
	IoServiceBytesRecursive []BlkioEntry `json:"ioServiceBytesRecursive,omitempty"`
	IoServicedRecursive     []BlkioEntry `json:"ioServicedRecursive,omitempty"`
	IoQueuedRecursive       []BlkioEntry `json:"ioQueueRecursive,omitempty"`
	IoServiceTimeRecursive  []BlkioEntry `json:"ioServiceTimeRecursive,omitempty"`
	IoWaitTimeRecursive     []BlkioEntry `json:"ioWaitTimeRecursive,omitempty"`
	IoMergedRecursive       []BlkioEntry `json:"ioMergedRecursive,omitempty"`
	IoTimeRecursive         []BlkioEntry `json:"ioTimeRecursive,omitempty"`
	SectorsRecursive        []BlkioEntry `json:"sectorsRecursive,omitempty"`
}

// BlkioEntry is one counter: Op is "Read", "Write", "Sync", "Async",
// "Discard" or "Total".
type BlkioEntry struct {
	Major uint64 `json:"major,omitempty"`
	Minor uint64 `json:"minor,omitempty"`
	Op    string `json:"op,omitempty"`
	Value uint64 `json:"value,omitempty"`
}

// Hugetlb is one page size's usage.
type Hugetlb struct {
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// berthStats is berth-runtime's `events --stats` data: its cgroups.Stats
// marshalled with Go's default field names.
type berthStats struct {
	Memory *struct {
		Usage, MaxUsage, Limit, Failcnt, SwapUsage, Cache, RSS uint64
		Stat                                                   map[string]uint64
	}
	CPU *struct {
		Usage, User, System                      uint64
		PerCPU                                   []uint64
		Periods, ThrottledPeriods, ThrottledTime uint64
	}
	Pids *struct {
		Current, Limit uint64
	}
	BlockIO *struct {
		Devices []struct {
			Major, Minor                        uint64
			ReadBytes, WriteBytes, DiscardBytes uint64
			ReadOps, WriteOps, DiscardOps       uint64
		}
	}
	Hugetlb map[string]struct {
		Usage, MaxUsage, Limit, Failcnt uint64
	}
}

// parseStats decodes one line of `events --stats` output from runc, crun
// or berth-runtime.
func parseStats(line []byte) (*Stats, error) {
	var ev struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(line, &ev); err != nil {
		return nil, fmt.Errorf("runtime events --stats: %w", err)
	}
	if ev.Type != "stats" || len(ev.Data) == 0 {
		return nil, fmt.Errorf("runtime events --stats: no stats in %q", line)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(ev.Data, &keys); err != nil {
		return nil, fmt.Errorf("runtime events --stats: %w", err)
	}
	_, mem := keys["Memory"]
	_, cpu := keys["CPU"]
	_, pids := keys["Pids"]
	if !mem && !cpu && !pids {
		var s Stats
		if err := json.Unmarshal(ev.Data, &s); err != nil {
			return nil, fmt.Errorf("runtime events --stats: %w", err)
		}
		return &s, nil
	}
	var b berthStats
	if err := json.Unmarshal(ev.Data, &b); err != nil {
		return nil, fmt.Errorf("runtime events --stats: %w", err)
	}
	return b.convert(), nil
}

func (b *berthStats) convert() *Stats {
	s := &Stats{}
	if m := b.Memory; m != nil {
		s.Memory = Memory{
			Cache: m.Cache,
			Usage: MemoryEntry{Usage: m.Usage, Max: m.MaxUsage, Limit: m.Limit, Failcnt: m.Failcnt},
			Swap:  MemoryEntry{Usage: m.Usage + m.SwapUsage},
			Raw:   m.Stat,
		}
	}
	if c := b.CPU; c != nil {
		s.CPU = CPU{
			Usage:      CPUUsage{Total: c.Usage, Kernel: c.System, User: c.User, Percpu: c.PerCPU},
			Throttling: Throttling{Periods: c.Periods, ThrottledPeriods: c.ThrottledPeriods, ThrottledTime: c.ThrottledTime},
		}
	}
	if p := b.Pids; p != nil {
		s.Pids = Pids{Current: p.Current, Limit: p.Limit}
	}
	if io := b.BlockIO; io != nil {
		for _, d := range io.Devices {
			for _, e := range []struct {
				op         string
				bytes, ops uint64
			}{{"Read", d.ReadBytes, d.ReadOps}, {"Write", d.WriteBytes, d.WriteOps}, {"Discard", d.DiscardBytes, d.DiscardOps}} {
				s.Blkio.IoServiceBytesRecursive = append(s.Blkio.IoServiceBytesRecursive, BlkioEntry{Major: d.Major, Minor: d.Minor, Op: e.op, Value: e.bytes})
				s.Blkio.IoServicedRecursive = append(s.Blkio.IoServicedRecursive, BlkioEntry{Major: d.Major, Minor: d.Minor, Op: e.op, Value: e.ops})
			}
			s.Blkio.IoServiceBytesRecursive = append(s.Blkio.IoServiceBytesRecursive, BlkioEntry{Major: d.Major, Minor: d.Minor, Op: "Total", Value: d.ReadBytes + d.WriteBytes + d.DiscardBytes})
			s.Blkio.IoServicedRecursive = append(s.Blkio.IoServicedRecursive, BlkioEntry{Major: d.Major, Minor: d.Minor, Op: "Total", Value: d.ReadOps + d.WriteOps + d.DiscardOps})
		}
	}
	if len(b.Hugetlb) > 0 {
		s.Hugetlb = make(map[string]Hugetlb, len(b.Hugetlb))
		for k, h := range b.Hugetlb {
			s.Hugetlb[k] = Hugetlb{Usage: h.Usage, Max: h.MaxUsage, Failcnt: h.Failcnt}
		}
	}
	return s
}
