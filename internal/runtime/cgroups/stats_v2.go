package cgroups

import (
	"path"
	"slices"
	"strconv"
	"strings"
)

// stats fills the sections v1 did not (on a hybrid host, v1 fills first).
func (m *v2Manager) stats(s *Stats) error {
	has := func(c string) bool { return slices.Contains(m.owned, c) }
	if s.Memory == nil && has("memory") {
		mem, err := memoryStatsV2(m.dir)
		if err != nil {
			return err
		}
		s.Memory = mem
	}
	if s.CPU == nil {
		// cpu.stat's usage lines come from the core, even without the
		// cpu controller; throttling lines need it.
		c, err := cpuStatsV2(m.dir)
		if err != nil {
			return err
		}
		s.CPU = c
	}
	if s.Pids == nil && has("pids") {
		p, err := pidsStats(m.dir)
		if err != nil {
			return err
		}
		s.Pids = p
	}
	if s.BlockIO == nil && has("io") {
		b, err := ioStatsV2(m.dir)
		if err != nil {
			return err
		}
		s.BlockIO = b
	}
	if s.Hugetlb == nil && has("hugetlb") {
		h, err := hugetlbStats(m.dir, m.pageSizes, "current", "", "max", "events")
		if err != nil {
			return err
		}
		s.Hugetlb = h
	}
	return nil
}

func memoryStatsV2(dir string) (*MemoryStats, error) {
	mem := &MemoryStats{}
	usage, err := readUint(path.Join(dir, "memory.current"))
	if err != nil {
		return nil, err
	}
	mem.Usage = usage
	for _, f := range []struct {
		dst  *uint64
		file string
	}{
		{&mem.MaxUsage, "memory.peak"},
		{&mem.Limit, "memory.max"},
		{&mem.SwapUsage, "memory.swap.current"},
	} {
		if err := readInto(f.dst, dir, f.file); err != nil {
			return nil, err
		}
	}
	stat, err := readFile(path.Join(dir, "memory.stat"))
	if err != nil {
		return nil, err
	}
	mem.Stat = parseKeyValues(stat)
	mem.Cache = mem.Stat["file"]
	mem.RSS = mem.Stat["anon"]
	ev, err := readFile(path.Join(dir, "memory.events"))
	if err := optional(err); err != nil {
		return nil, err
	}
	kv := parseKeyValues(ev)
	mem.Failcnt, mem.OOMEvents, mem.OOMKillEvents = kv["max"], kv["oom"], kv["oom_kill"]
	return mem, nil
}

func cpuStatsV2(dir string) (*CPUStats, error) {
	st, err := readFile(path.Join(dir, "cpu.stat"))
	if err != nil {
		return nil, err
	}
	kv := parseKeyValues(st)
	const us = 1000 // v2 counts microseconds
	return &CPUStats{
		Usage:            kv["usage_usec"] * us,
		User:             kv["user_usec"] * us,
		System:           kv["system_usec"] * us,
		Periods:          kv["nr_periods"],
		ThrottledPeriods: kv["nr_throttled"],
		ThrottledTime:    kv["throttled_usec"] * us,
	}, nil
}

// ioStatsV2 parses io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0".
func ioStatsV2(dir string) (*BlockIOStats, error) {
	s, err := readFile(path.Join(dir, "io.stat"))
	if err := optional(err); err != nil {
		return nil, err
	}
	devs := blockIO{}
	for line := range strings.SplitSeq(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		d := devs.dev(f[0])
		if d == nil {
			continue
		}
		for _, kv := range f[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				continue
			}
			switch k {
			case "rbytes":
				d.ReadBytes = n
			case "wbytes":
				d.WriteBytes = n
			case "dbytes":
				d.DiscardBytes = n
			case "rios":
				d.ReadOps = n
			case "wios":
				d.WriteOps = n
			case "dios":
				d.DiscardOps = n
			}
		}
	}
	return devs.stats(), nil
}
