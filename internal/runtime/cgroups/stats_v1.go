package cgroups

import (
	"path"
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
)

// optional drops the error of a file the kernel may not have; anything
// else (the cgroup gone, a parse error) still fails the call.
func optional(err error) error {
	if errdefs.IsNotImplemented(err) {
		return nil
	}
	return err
}

func (m *v1Manager) stats(s *Stats) error {
	if dir := m.dir("memory"); dir != "" {
		mem, err := memoryStatsV1(dir)
		if err != nil {
			return err
		}
		s.Memory = mem
	}
	if acct, cpu := m.dir("cpuacct"), m.dir("cpu"); acct != "" || cpu != "" {
		c, err := cpuStatsV1(acct, cpu)
		if err != nil {
			return err
		}
		s.CPU = c
	}
	if dir := m.dir("pids"); dir != "" {
		p, err := pidsStats(dir)
		if err != nil {
			return err
		}
		s.Pids = p
	}
	if dir := m.dir("blkio"); dir != "" {
		b, err := blkioStatsV1(dir)
		if err != nil {
			return err
		}
		s.BlockIO = b
	}
	if dir := m.dir("hugetlb"); dir != "" {
		h, err := hugetlbStats(dir, m.pageSizes, "usage_in_bytes", "max_usage_in_bytes", "limit_in_bytes", "failcnt")
		if err != nil {
			return err
		}
		s.Hugetlb = h
	}
	return nil
}

// readInto reads a one-number file into *dst; a missing file leaves it.
func readInto(dst *uint64, dir, file string) error {
	v, err := readUint(path.Join(dir, file))
	if err != nil {
		return optional(err)
	}
	*dst = v
	return nil
}

func memoryStatsV1(dir string) (*MemoryStats, error) {
	mem := &MemoryStats{}
	usage, err := readUint(path.Join(dir, "memory.usage_in_bytes"))
	if err != nil {
		return nil, err
	}
	mem.Usage = usage
	var memsw uint64
	for _, f := range []struct {
		dst  *uint64
		file string
	}{
		{&mem.MaxUsage, "memory.max_usage_in_bytes"},
		{&mem.Limit, "memory.limit_in_bytes"},
		{&mem.Failcnt, "memory.failcnt"},
		{&memsw, "memory.memsw.usage_in_bytes"},
	} {
		if err := readInto(f.dst, dir, f.file); err != nil {
			return nil, err
		}
	}
	if memsw > usage {
		mem.SwapUsage = memsw - usage
	}
	stat, err := readFile(path.Join(dir, "memory.stat"))
	if err != nil {
		return nil, err
	}
	mem.Stat = parseKeyValues(stat)
	mem.Cache = mem.Stat["cache"]
	mem.RSS = mem.Stat["rss"]
	oom, err := readFile(path.Join(dir, "memory.oom_control"))
	if err := optional(err); err != nil {
		return nil, err
	}
	mem.OOMKillEvents = parseKeyValues(oom)["oom_kill"]
	return mem, nil
}

func cpuStatsV1(acct, cpu string) (*CPUStats, error) {
	c := &CPUStats{}
	if acct != "" {
		all, err := readFile(path.Join(acct, "cpuacct.usage_all"))
		switch {
		case err == nil:
			// One read gives all: "cpu user system" then a row per CPU.
			for line := range strings.SplitSeq(all, "\n") {
				f := strings.Fields(line)
				if len(f) != 3 || f[0] == "cpu" {
					continue
				}
				user, err1 := strconv.ParseUint(f[1], 10, 64)
				sys, err2 := strconv.ParseUint(f[2], 10, 64)
				if err1 != nil || err2 != nil {
					continue
				}
				c.PerCPU = append(c.PerCPU, user+sys)
				c.User += user
				c.System += sys
				c.Usage += user + sys
			}
		case errdefs.IsNotImplemented(err):
			if err := cpuacctLegacy(acct, c); err != nil {
				return nil, err
			}
		default:
			return nil, err
		}
	}
	if cpu != "" {
		st, err := readFile(path.Join(cpu, "cpu.stat"))
		if err := optional(err); err != nil {
			return nil, err
		}
		kv := parseKeyValues(st)
		c.Periods, c.ThrottledPeriods, c.ThrottledTime = kv["nr_periods"], kv["nr_throttled"], kv["throttled_time"]
	}
	return c, nil
}

// userHZ is the unit of cpuacct.stat: USER_HZ, 100 on every Linux ABI.
const userHZ = 100

// cpuacctLegacy reads kernels before 4.7, which lack cpuacct.usage_all.
func cpuacctLegacy(dir string, c *CPUStats) error {
	if err := readInto(&c.Usage, dir, "cpuacct.usage"); err != nil {
		return err
	}
	per, err := readFile(path.Join(dir, "cpuacct.usage_percpu"))
	if err := optional(err); err != nil {
		return err
	}
	for f := range strings.FieldsSeq(per) {
		if v, err := strconv.ParseUint(f, 10, 64); err == nil {
			c.PerCPU = append(c.PerCPU, v)
		}
	}
	st, err := readFile(path.Join(dir, "cpuacct.stat"))
	if err := optional(err); err != nil {
		return err
	}
	kv := parseKeyValues(st)
	c.User = kv["user"] * (1e9 / userHZ)
	c.System = kv["system"] * (1e9 / userHZ)
	return nil
}

func pidsStats(dir string) (*PidsStats, error) {
	p := &PidsStats{}
	cur, err := readUint(path.Join(dir, "pids.current"))
	if err != nil {
		return nil, err
	}
	p.Current = cur
	if err := readInto(&p.Limit, dir, "pids.max"); err != nil {
		return nil, err
	}
	if p.Limit == Unlimited {
		p.Limit = 0
	}
	return p, nil
}

func blkioStatsV1(dir string) (*BlockIOStats, error) {
	devs := blockIO{}
	for _, f := range []struct {
		files       [2]string
		read, write func(*BlockIODevice) *uint64
		discard     func(*BlockIODevice) *uint64
	}{
		{
			[2]string{"blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_service_bytes"},
			func(d *BlockIODevice) *uint64 { return &d.ReadBytes },
			func(d *BlockIODevice) *uint64 { return &d.WriteBytes },
			func(d *BlockIODevice) *uint64 { return &d.DiscardBytes },
		},
		{
			[2]string{"blkio.throttle.io_serviced_recursive", "blkio.throttle.io_serviced"},
			func(d *BlockIODevice) *uint64 { return &d.ReadOps },
			func(d *BlockIODevice) *uint64 { return &d.WriteOps },
			func(d *BlockIODevice) *uint64 { return &d.DiscardOps },
		},
	} {
		s, err := readFile(path.Join(dir, f.files[0]))
		if errdefs.IsNotImplemented(err) {
			s, err = readFile(path.Join(dir, f.files[1]))
		}
		if err := optional(err); err != nil {
			return nil, err
		}
		// Lines are "8:0 Read 4096"; the last one is "Total N".
		for line := range strings.SplitSeq(s, "\n") {
			fl := strings.Fields(line)
			if len(fl) != 3 {
				continue
			}
			v, err := strconv.ParseUint(fl[2], 10, 64)
			if err != nil {
				continue
			}
			var field func(*BlockIODevice) *uint64
			switch fl[1] {
			case "Read":
				field = f.read
			case "Write":
				field = f.write
			case "Discard":
				field = f.discard
			default:
				continue
			}
			if d := devs.dev(fl[0]); d != nil {
				*field(d) = v
			}
		}
	}
	return devs.stats(), nil
}

// hugetlbStats reads hugetlb.<size>.<file> for every page size; the v1
// and v2 file names differ (usage_in_bytes/current, …). An empty name
// skips that field.
func hugetlbStats(dir string, sizes []string, usage, maxUsage, limit, failcnt string) (map[string]HugetlbStats, error) {
	out := make(map[string]HugetlbStats, len(sizes))
	for _, size := range sizes {
		var h HugetlbStats
		prefix := "hugetlb." + size + "."
		u, err := readUint(path.Join(dir, prefix+usage))
		if err != nil {
			if errdefs.IsNotImplemented(err) {
				continue // the controller does not offer this size
			}
			return nil, err
		}
		h.Usage = u
		if maxUsage != "" {
			if err := readInto(&h.MaxUsage, dir, prefix+maxUsage); err != nil {
				return nil, err
			}
		}
		if err := readInto(&h.Limit, dir, prefix+limit); err != nil {
			return nil, err
		}
		if failcnt == "events" {
			ev, err := readFile(path.Join(dir, prefix+"events"))
			if err := optional(err); err != nil {
				return nil, err
			}
			h.Failcnt = parseKeyValues(ev)["max"]
		} else if err := readInto(&h.Failcnt, dir, prefix+failcnt); err != nil {
			return nil, err
		}
		out[size] = h
	}
	return out, nil
}
