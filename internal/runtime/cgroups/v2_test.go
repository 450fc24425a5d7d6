package cgroups

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
)

// fakeV2 builds a pure v2 host: the unified root, an intermediate /berth
// and the container's /berth/c1, each with the files of v2Files.
func fakeV2(t *testing.T) (*Layout, string) {
	t.Helper()
	root := t.TempDir()
	ctrl := "cpuset cpu io memory hugetlb pids rdma misc"
	mkfiles(t, root, map[string]string{"cgroup.controllers": ctrl, "cgroup.subtree_control": "", "cgroup.procs": ""})
	mkfiles(t, filepath.Join(root, "berth"), map[string]string{"cgroup.controllers": ctrl, "cgroup.subtree_control": "", "cgroup.procs": ""})
	mkfiles(t, filepath.Join(root, "berth/c1"), v2Files)
	l := &Layout{
		Mode:          Unified,
		Unified:       &UnifiedHierarchy{Mountpoint: root, Root: "/", Path: "/", Controllers: []string{"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"}},
		HugePageSizes: []string{"2MB", "1GB"},
	}
	return l, root
}

func newFakeV2Manager(t *testing.T, r *specs.LinuxResources) (*v2Manager, *recorder, string) {
	t.Helper()
	l, root := fakeV2(t)
	m, err := New(l, Config{Path: "/berth/c1", Resources: r})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(root)
	useRecorder(m, rec)
	return m.(*v2Manager), rec, root
}

func TestV2ApplyEnablesControllersInAncestors(t *testing.T) {
	r := &specs.LinuxResources{
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 21}},
		CPU:            &specs.LinuxCPU{Cpus: "0"},
		Devices:        []specs.LinuxDeviceCgroup{{Allow: true}}, // eBPF: no controller
	}
	m, rec, root := newFakeV2Manager(t, r)
	if err := m.Apply(4242); err != nil {
		t.Fatal(err)
	}
	// The stats controllers, then those the resources need; nothing else
	// (no rdma, no misc): every enabled controller binds the ancestors.
	want := "+cpu +memory +io +pids +cpuset +hugetlb"
	expectWrites(t, rec, "cgroup.subtree_control", want)
	expectWrites(t, rec, "berth/cgroup.subtree_control", want)
	expectWrites(t, rec, "berth/c1/cgroup.subtree_control") // never the leaf
	expectFiles(t, filepath.Join(root, "berth/c1"), map[string]string{"cgroup.procs": "4242"})

	// Already enabled: a new manager reads and writes nothing more.
	rec.reset()
	m2, _ := New(m2Layout(t, root), Config{Path: "/berth/c2", Resources: r})
	mkfiles(t, filepath.Join(root, "berth/c2"), v2Files)
	useRecorder(m2, rec)
	if err := m2.Apply(-1); err != nil {
		t.Fatal(err)
	}
	if len(rec.writes) > 0 {
		t.Errorf("second container rewrote: %q", rec.writes)
	}
}

func m2Layout(t *testing.T, root string) *Layout {
	t.Helper()
	return &Layout{
		Mode:          Unified,
		Unified:       &UnifiedHierarchy{Mountpoint: root, Root: "/", Path: "/", Controllers: []string{"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"}},
		HugePageSizes: []string{"2MB", "1GB"},
	}
}

func TestV2EnableRespectsNoInternalProcesses(t *testing.T) {
	m, rec, root := newFakeV2Manager(t, nil)
	busy := fileError("write", filepath.Join(root, "berth/cgroup.subtree_control"), unix.EBUSY)
	rec.fail["berth/cgroup.subtree_control"] = busy
	// Apply is best effort, and stops at EBUSY: one by one, the kernel
	// would take the threaded controllers (cpu, pids) alone and turn the
	// busy cgroup into a threaded domain (seen on a real v2 kernel, in
	// integration/vm/guest TestCgroupsPathBelowBusyCgroup).
	if err := m.Apply(-1); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	expectWrites(t, rec, "berth/cgroup.subtree_control", "+cpu +memory +io +pids")
	// Set needs memory: a clear Conflict naming the rule.
	err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 20)}})
	if !errdefs.IsConflict(err) {
		t.Fatalf("Set with memory not enabled: %v, want Conflict", err)
	}
	t.Logf("error reads: %v", err)
}

// A controller the kernel refuses for a reason of its own (EINVAL: cpu
// beside realtime tasks) costs only that controller: the others are then
// enabled one by one.
func TestV2EnableFallsBackOneByOne(t *testing.T) {
	m, rec, _ := newFakeV2Manager(t, nil)
	m.write = func(p, v string) error {
		if filepath.Base(filepath.Dir(p)) == "berth" && slices.Contains(strings.Fields(v), "+cpu") {
			return fileError("write", p, unix.EINVAL)
		}
		return rec.write(p, v)
	}
	if err := m.Apply(-1); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	expectWrites(t, rec, "berth/cgroup.subtree_control", "+memory", "+io", "+pids")
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 20)}}); err != nil {
		t.Errorf("Set memory: %v", err)
	}
	if err := m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(1000)}}); !errdefs.IsInvalidParameter(err) {
		t.Errorf("Set cpu, which the kernel refused: %v, want the kernel's InvalidParameter", err)
	}
}

func TestV2ControllerMissingInParent(t *testing.T) {
	m, _, root := newFakeV2Manager(t, nil)
	mkfiles(t, filepath.Join(root, "berth"), map[string]string{"cgroup.controllers": "cpu memory"})
	err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(10)}})
	if !errdefs.IsNotImplemented(err) {
		t.Errorf("pids not available in parent: %v, want NotImplemented", err)
	}
}

func TestV2SetFakeTree(t *testing.T) {
	m, rec, root := newFakeV2Manager(t, nil)
	r := fullResources()
	r.Devices = nil // eBPF needs a real cgroup2 directory: TestRealDevices
	r.Unified = map[string]string{"memory.high": "90000000", "cgroup.max.depth": "5"}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "berth/c1")
	expectFiles(t, dir, map[string]string{
		"memory.max":           "104857600",
		"memory.swap.max":      "104857600", // (memory+swap) − memory
		"memory.low":           "52428800",  // reservation
		"memory.high":          "90000000",  // unified, verbatim
		"cgroup.max.depth":     "5",
		"cpu.weight":           "59", // shares 512
		"cpu.max":              "50000 100000",
		"cpu.max.burst":        "1000",
		"cpu.idle":             "0",
		"cpuset.cpus":          "0-1",
		"cpuset.mems":          "0",
		"pids.max":             "100",
		"hugetlb.2MB.max":      "4194304",
		"hugetlb.2MB.rsvd.max": "4194304",
		"hugetlb.1GB.max":      "1073741824",
	})
	// No io.bfq.weight in this tree: io.weight, converted.
	expectWrites(t, rec, "berth/c1/io.bfq.weight", "500", "8:0 300")
	expectWrites(t, rec, "berth/c1/io.weight", "4950", "8:0 2930")
	expectWrites(t, rec, "berth/c1/io.max", "8:0 rbps=1048576 riops=max wiops=100", "8:16 wbps=2097152")
	expectWrites(t, rec, "berth/c1/rdma.max", "mlx5_0 hca_handle=2 hca_object=100", "mlx5_1 hca_object=7")
	// v1-only knobs have no file to go to.
	for _, w := range rec.writes {
		for _, f := range []string{"swappiness", "oom_control", "use_hierarchy", "kmem"} {
			if strings.Contains(w, f) {
				t.Errorf("v1-only knob written on v2: %s", w)
			}
		}
	}
	// Unified keys come last and override.
	if last := rec.writes[len(rec.writes)-1]; last != "berth/c1/memory.high=90000000" {
		t.Errorf("last write %q, want the unified keys last", last)
	}

	// BFQ present: the v1 scale goes through unconverted.
	mkfiles(t, dir, map[string]string{"io.bfq.weight": "default 100"})
	rec.reset()
	if err := m.Set(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(500)}}); err != nil {
		t.Fatal(err)
	}
	expectWrites(t, rec, "berth/c1/io.bfq.weight", "500")
	expectWrites(t, rec, "berth/c1/io.weight")
}

func TestV2MemoryAndCPUConversions(t *testing.T) {
	m, rec, root := newFakeV2Manager(t, nil)
	dir := filepath.Join(root, "berth/c1")
	steps := []struct {
		name string
		r    *specs.LinuxResources
		want map[string]string
	}{
		{"unlimited memory frees swap", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-1)}},
			map[string]string{"memory.max": "max", "memory.swap.max": "max"}},
		{"memory == swap: no swap", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 20), Swap: i64(1 << 20)}},
			map[string]string{"memory.max": "1048576", "memory.swap.max": "0"}},
		{"swap alone keeps the current limit", &specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: i64(3 << 20)}},
			map[string]string{"memory.max": "1048576", "memory.swap.max": "2097152"}},
		{"swap -1", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 20), Swap: i64(-1)}},
			map[string]string{"memory.swap.max": "max"}},
		{"reservation -1", &specs.LinuxResources{Memory: &specs.LinuxMemory{Reservation: i64(-1)}},
			map[string]string{"memory.low": "max"}},
		{"quota -1 keeps the period", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(-1)}},
			map[string]string{"cpu.max": "max"}},
		{"period alone keeps the quota", &specs.LinuxResources{CPU: &specs.LinuxCPU{Period: u64(50000)}},
			map[string]string{"cpu.max": "max 50000"}},
		{"idle skips the weight", &specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: i64(1), Shares: u64(2048)}},
			map[string]string{"cpu.idle": "1", "cpu.weight": "59"}},
		{"leaving idle takes the weight", &specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: i64(0), Shares: u64(2048)}},
			map[string]string{"cpu.idle": "0", "cpu.weight": "174"}},
		{"pids 0 means no limit", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(0)}},
			map[string]string{"pids.max": "max"}},
	}
	mkfiles(t, dir, map[string]string{"cpu.weight": "59", "cpu.max": "max 100000"})
	for _, s := range steps {
		rec.reset()
		if err := m.Set(s.r); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		for f, v := range s.want {
			if got := cat(t, filepath.Join(dir, f)); got != v {
				t.Errorf("%s: %s = %q, want %q (writes %q)", s.name, f, got, v, rec.writes)
			}
		}
	}
	// cpu.max "max 100000" was rewritten by "quota -1" to "max"; the
	// kernel would keep the period, the fake does not: check the write.
	rec.reset()
	mkfiles(t, dir, map[string]string{"cpu.max": "20000 100000"})
	if err := m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Period: u64(50000)}}); err != nil {
		t.Fatal(err)
	}
	expectWrites(t, rec, "berth/c1/cpu.max", "20000 50000")
}

func TestV2Refusals(t *testing.T) {
	m, rec, root := newFakeV2Manager(t, nil)
	for name, tc := range map[string]struct {
		r     *specs.LinuxResources
		class func(error) bool
	}{
		"realtime":           {&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(1)}, CPU: &specs.LinuxCPU{RealtimeRuntime: i64(1000)}}, errdefs.IsNotImplemented},
		"net_cls":            {&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(1)}, Network: &specs.LinuxNetwork{ClassID: u32(1)}}, errdefs.IsNotImplemented},
		"net_prio":           {&specs.LinuxResources{Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "lo", Priority: 1}}}}, errdefs.IsNotImplemented},
		"unknown page size":  {&specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "16GB"}}}, errdefs.IsNotImplemented},
		"unknown controller": {&specs.LinuxResources{Unified: map[string]string{"perf_event.x": "1"}}, errdefs.IsNotImplemented},
		"swap, no limit":     {&specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: i64(1 << 30)}}, errdefs.IsInvalidParameter},
		"check before update": {&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 20), CheckBeforeUpdate: boolp(true)}},
			errdefs.IsInvalidParameter},
	} {
		rec.reset()
		err := m.Set(tc.r)
		if !tc.class(err) {
			t.Errorf("%s: Set = %v, want another class", name, err)
		}
		for _, w := range rec.writes {
			if filepath.Base(filepath.Dir(w)) == "c1" || filepath.Dir(w) == "berth/c1" {
				t.Errorf("%s: wrote %s before refusing", name, w)
			}
		}
	}
	// Unified key for a file the kernel lacks: NotImplemented naming it.
	err := m.Set(&specs.LinuxResources{Unified: map[string]string{"memory.nosuchfile": "1"}})
	if !errdefs.IsNotImplemented(err) {
		t.Errorf("missing unified file: %v", err)
	}
	// Swap asked for explicitly without swap accounting.
	if err := os.Remove(filepath.Join(root, "berth/c1/memory.swap.max")); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 20), Swap: i64(2 << 20)}}); !errdefs.IsNotImplemented(err) {
		t.Errorf("swap without accounting: %v, want NotImplemented", err)
	}
	// But unlimited memory without swap accounting is fine.
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-1)}}); err != nil {
		t.Errorf("unlimited memory without swap accounting: %v", err)
	}
}

func TestV2FreezeWaitsForEvent(t *testing.T) {
	m, _, root := newFakeV2Manager(t, nil)
	events := filepath.Join(root, "berth/c1/cgroup.events")
	// The "kernel" finishes freezing 50ms after the request: Freeze must
	// wake on the inotify event, well before its timeout.
	go func() {
		time.Sleep(50 * time.Millisecond)
		overwrite(events, "populated 1\nfrozen 1\n")
	}()
	start := time.Now()
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Freeze took %v", d)
	}
	expectFiles(t, filepath.Join(root, "berth/c1"), map[string]string{"cgroup.freeze": "1"})
	if f, err := m.Frozen(); err != nil || !f {
		t.Errorf("Frozen = %v, %v", f, err)
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		overwrite(events, "populated 1\nfrozen 0\n")
	}()
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if f, err := m.Frozen(); err != nil || f {
		t.Errorf("Frozen = %v, %v after Thaw", f, err)
	}
}

// overwrite rewrites a file in place with one write of the same length,
// as the kernel updates cgroup.events: a truncation would show a reader an
// empty file no kernel ever shows.
func overwrite(p, content string) {
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.WriteAt([]byte(content), 0)
}

func TestV2FreezeTimeout(t *testing.T) {
	_, _, root := newFakeV2Manager(t, nil)
	err := waitFrozen(filepath.Join(root, "berth/c1"), true, 30*time.Millisecond)
	if !errdefs.IsUnavailable(err) {
		t.Errorf("waitFrozen on a cgroup that never freezes: %v, want Unavailable", err)
	}
}

func TestV2StatsKillPathsLoad(t *testing.T) {
	m, rec, root := newFakeV2Manager(t, nil)
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	want := &Stats{
		Memory: &MemoryStats{
			Usage: 4096000, MaxUsage: 8192000, Limit: Unlimited, Failcnt: 3, SwapUsage: 100,
			Cache: 1000, RSS: 2000, OOMEvents: 1, OOMKillEvents: 1,
			Stat: map[string]uint64{"anon": 2000, "file": 1000, "inactive_file": 300},
		},
		CPU:  &CPUStats{Usage: 330000, User: 300000, System: 30000, Periods: 10, ThrottledPeriods: 4, ThrottledTime: 5000},
		Pids: &PidsStats{Current: 3},
		BlockIO: &BlockIOStats{Devices: []BlockIODevice{
			{Major: 8, Minor: 0, ReadBytes: 4096, WriteBytes: 8192, ReadOps: 1, WriteOps: 2},
			{Major: 253, Minor: 1, ReadBytes: 1, WriteBytes: 2, ReadOps: 3, WriteOps: 4, DiscardBytes: 5, DiscardOps: 6},
		}},
		Hugetlb: map[string]HugetlbStats{
			"2MB": {Usage: 2097152, Limit: Unlimited, Failcnt: 1},
			"1GB": {Limit: Unlimited},
		},
	}
	if !reflect.DeepEqual(s, want) {
		for _, pair := range [][2]any{{s.Memory, want.Memory}, {s.CPU, want.CPU}, {s.Pids, want.Pids}, {s.BlockIO, want.BlockIO}, {s.Hugetlb, want.Hugetlb}} {
			if !reflect.DeepEqual(pair[0], pair[1]) {
				t.Errorf("Stats:\n got %+v\nwant %+v", pair[0], pair[1])
			}
		}
	}

	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	expectWrites(t, rec, "berth/c1/cgroup.kill", "1")

	paths := m.Paths()
	dir := filepath.Join(root, "berth/c1")
	if paths[""] != dir || paths["memory"] != dir || paths["hugetlb"] != dir {
		t.Errorf("Paths = %v", paths)
	}
	l := m2Layout(t, root)
	again, err := Load(l, paths)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := again.(*v2Manager); !ok || !reflect.DeepEqual(again.Paths(), paths) {
		t.Errorf("Load: %T %v", again, again.Paths())
	}
	if _, ok := again.(Killer); !ok {
		t.Error("v2 manager is not a Killer")
	}
	if _, err := Load(l, map[string]string{"": root}); !errdefs.IsInvalidParameter(err) {
		t.Errorf("Load of the hierarchy root: %v", err)
	}
}
