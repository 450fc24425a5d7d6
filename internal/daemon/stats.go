package daemon

import (
	"bufio"
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/shim"
)

// statsInterval is how often a stats stream samples (docker's 1 s).
const statsInterval = time.Second

// clockTicks is USER_HZ, the unit of /proc/stat (100 on every Linux
// architecture Berth runs on).
const clockTicks = 100

// ContainerStats is GET /containers/{id}/stats. A stopped container
// yields one empty sample, as docker's.
func (d *Daemon) ContainerStats(ctx context.Context, name string, opts server.StatsOptions, send func(containertypes.StatsResponse) error) error {
	c, r, err := d.get(name)
	if err != nil {
		return err
	}
	var prev *containertypes.StatsResponse
	if !opts.Stream && !opts.OneShot {
		// Docker primes precpu_stats with a sample a second earlier.
		if s, ok := d.sample(ctx, c, r); ok {
			prev = &s
			select {
			case <-time.After(statsInterval):
			case <-ctx.Done():
				return nil
			}
		}
	}
	for {
		s, running := d.sample(ctx, c, r)
		if prev != nil {
			s.PreCPUStats = prev.CPUStats
			s.PreRead = prev.Read
		}
		if err := send(s); err != nil {
			return err
		}
		if !opts.Stream || !running {
			return nil
		}
		prev = &s
		select {
		case <-time.After(statsInterval):
		case <-ctx.Done():
			return nil
		}
	}
}

// sample reads the container's cgroup through its shim; ok is false when
// it does not run (the sample is then empty but for its name).
func (d *Daemon) sample(ctx context.Context, c *container.Container, r *run) (containertypes.StatsResponse, bool) {
	c.Lock()
	task, running := r.task, c.State.HasProcess()
	resp := containertypes.StatsResponse{ID: c.ID, Name: c.Name, OSType: "linux"}
	c.Unlock()
	if !running || task == nil {
		return resp, false
	}
	st, err := task.Stats(ctx)
	if err != nil {
		return resp, false
	}
	return statsResponse(resp, st), true
}

// statsResponse turns a cgroup sample (runc's shape) into docker's.
func statsResponse(resp containertypes.StatsResponse, st *container.Stats) containertypes.StatsResponse {
	resp.Read = time.Now().UTC()
	resp.CPUStats = containertypes.CPUStats{
		CPUUsage: containertypes.CPUUsage{
			TotalUsage:        st.CPU.Usage.Total,
			PercpuUsage:       st.CPU.Usage.Percpu,
			UsageInKernelmode: st.CPU.Usage.Kernel,
			UsageInUsermode:   st.CPU.Usage.User,
		},
		ThrottlingData: containertypes.ThrottlingData{
			Periods:          st.CPU.Throttling.Periods,
			ThrottledPeriods: st.CPU.Throttling.ThrottledPeriods,
			ThrottledTime:    st.CPU.Throttling.ThrottledTime,
		},
		SystemUsage: systemCPUUsage(),
		OnlineCPUs:  uint32(runtime.NumCPU()),
	}
	m := st.Memory
	limit := m.Usage.Limit
	if limit == 0 || limit >= 1<<62 {
		// No limit: docker reports the host's memory.
		limit = hostMemory()
	}
	resp.MemoryStats = containertypes.MemoryStats{
		Usage: m.Usage.Usage, MaxUsage: m.Usage.Max, Failcnt: m.Usage.Failcnt, Limit: limit, Stats: m.Raw,
	}
	resp.PidsStats = containertypes.PidsStats{Current: st.Pids.Current, Limit: st.Pids.Limit}
	conv := func(in []shim.BlkioEntry) []containertypes.BlkioStatEntry {
		out := make([]containertypes.BlkioStatEntry, 0, len(in))
		for _, e := range in {
			out = append(out, containertypes.BlkioStatEntry{Major: e.Major, Minor: e.Minor, Op: e.Op, Value: e.Value})
		}
		return out
	}
	b := st.Blkio
	resp.BlkioStats = containertypes.BlkioStats{
		IoServiceBytesRecursive: conv(b.IoServiceBytesRecursive),
		IoServicedRecursive:     conv(b.IoServicedRecursive),
		IoQueuedRecursive:       conv(b.IoQueuedRecursive),
		IoServiceTimeRecursive:  conv(b.IoServiceTimeRecursive),
		IoWaitTimeRecursive:     conv(b.IoWaitTimeRecursive),
		IoMergedRecursive:       conv(b.IoMergedRecursive),
		IoTimeRecursive:         conv(b.IoTimeRecursive),
		SectorsRecursive:        conv(b.SectorsRecursive),
	}
	return resp
}

// systemCPUUsage is the host's total CPU time in nanoseconds (the first
// line of /proc/stat), the denominator of docker's CPU percentage.
func systemCPUUsage() uint64 {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 8 || fields[0] != "cpu" {
			continue
		}
		var ticks uint64
		for _, v := range fields[1:8] {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return 0
			}
			ticks += n
		}
		return ticks * (uint64(time.Second) / clockTicks)
	}
	return 0
}

// hostMemory is MemTotal in bytes.
func hostMemory() uint64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				n, _ := strconv.ParseUint(f[0], 10, 64)
				return n * 1024
			}
		}
	}
	return 0
}
