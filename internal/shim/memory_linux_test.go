package shim_test

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/berth-project/berth/internal/shim"
)

// procKB reads "Key: N kB" fields of a /proc file.
func procKB(path string, keys ...string) map[string]int {
	out := map[string]int{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		for _, want := range keys {
			if k == want {
				fields := strings.Fields(v)
				if len(fields) > 0 {
					out[k], _ = strconv.Atoi(fields[0])
				}
			}
		}
	}
	return out
}

// shimCost is one idle shim's host memory in KiB: its private dirty pages
// (heap, stacks, data), its page tables, and per thread a kernel stack
// (16 KiB on x86-64) and task structures (about 10 KiB).
type shimCost struct {
	privateDirty, pte, threads int
}

func (c shimCost) total() int { return c.privateDirty + c.pte + c.threads*(16+10) }

// measureShim counts the shim's anonymous pages as its private dirty
// memory: smaps' Private_Dirty also counts the page cache of a binary
// written moments ago (make) and not yet written back, megabytes that
// every shim shares.
func measureShim(pid int) shimCost {
	roll := procKB(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Anonymous")
	st := procKB(fmt.Sprintf("/proc/%d/status", pid), "VmPTE")
	threads := 0
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid)); err == nil {
		threads = len(ents)
	}
	return shimCost{privateDirty: roll["Anonymous"], pte: st["VmPTE"], threads: threads}
}

// TestIdleShimMemory starts 50 idle containers, each with a client
// waiting on it as the daemon would, and reports what one idle shim costs
// the host (the budget is 1 MiB a container, shim and kernel
// objects included). It reports; it does not assert, since the figure
// depends on the Go runtime and the kernel.
func TestIdleShimMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("50 containers: not in -short")
	}
	r := runtimes(t)[0]
	const n = 50
	var cs []*container
	var wg sync.WaitGroup
	for i := range n {
		c := newContainer(t, r, "sleep", "1000")
		c.cfg.ID = fmt.Sprintf("%s-%d", c.cfg.ID[:min(len(c.cfg.ID), 24)], i)
		cl := c.create()
		if _, err := cl.Start(ctx(t)); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl.Wait(ctx(t))
		}()
		cs = append(cs, c)
	}
	var costs []shimCost
	for _, c := range cs {
		data, err := readShimPid(c.cfg.StateDir)
		if err != nil {
			t.Fatal(err)
		}
		pid, _ := strconv.Atoi(string(data))
		costs = append(costs, measureShim(pid))
	}
	sort.Slice(costs, func(i, j int) bool { return costs[i].total() < costs[j].total() })
	med := costs[len(costs)/2]
	sum := 0
	for _, c := range costs {
		sum += c.total()
	}
	t.Logf("idle shim (median of %d): private dirty %d KiB + page tables %d KiB + %d threads x 26 KiB = %d KiB; mean %d KiB; max %d KiB",
		n, med.privateDirty, med.pte, med.threads, med.total(), sum/n, costs[n-1].total())
	for _, c := range cs {
		if err := c.client.Kill(ctx(t), 9, false); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
	_ = shim.StatusStopped
}
