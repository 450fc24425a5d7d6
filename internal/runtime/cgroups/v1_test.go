package cgroups

import (
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/errdefs"
)

var allV1 = []string{"cpu,cpuacct", "cpuset", "memory", "pids", "blkio", "hugetlb", "net_cls,net_prio", "rdma", "devices", "freezer", "name=systemd"}

// newFakeV1Manager returns a v1 manager for /berth/c1 on a fake host with
// every controller, its cgroup already created, writing through a recorder.
func newFakeV1Manager(t *testing.T, mounts ...string) (*v1Manager, *recorder, string) {
	t.Helper()
	l, root := fakeV1(t, "/", mounts...)
	fakeV1Cgroup(t, l, func(h *Hierarchy) string { return filepath.Join(h.Mountpoint, "berth/c1") })
	m, err := New(l, Config{Path: "/berth/c1"})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(root)
	useRecorder(m, rec)
	return m.(*v1Manager), rec, root
}

func fullResources() *specs.LinuxResources {
	return &specs.LinuxResources{
		Memory: &specs.LinuxMemory{
			Limit: i64(100 << 20), Reservation: i64(50 << 20), Swap: i64(200 << 20),
			Swappiness: u64(10), DisableOOMKiller: boolp(true), UseHierarchy: boolp(true),
			//lint:ignore SA1019 deprecated knobs are still sent; they are detected to be ignored
			Kernel: i64(1 << 20), KernelTCP: i64(1 << 20), // deprecated: never written
		},
		CPU: &specs.LinuxCPU{
			Shares: u64(512), Quota: i64(50000), Period: u64(100000), Burst: u64(1000),
			Cpus: "0-1", Mems: "0",
		},
		Pids: &specs.LinuxPids{Limit: i64(100)},
		BlockIO: &specs.LinuxBlockIO{
			Weight: u16(500),
			WeightDevice: []specs.LinuxWeightDevice{
				{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: u16(300)},
			},
			ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1 << 20}},
			ThrottleWriteBpsDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 16}, Rate: 2 << 20}},
			ThrottleReadIOPSDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 0}},
			ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 100}},
		},
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}, {Pagesize: "1GB", Limit: 1 << 30}},
		Rdma:           map[string]specs.LinuxRdma{"mlx5_0": {HcaHandles: u32(2), HcaObjects: u32(100)}, "mlx5_1": {HcaObjects: u32(7)}},
		Devices: []specs.LinuxDeviceCgroup{
			{Allow: false, Access: "rwm"},
			{Allow: true, Type: "c", Major: devn(1), Minor: devn(3), Access: "rwm"},
			{Allow: true, Type: "c", Major: devn(136), Access: "rw"},
			{Allow: false, Type: "b", Major: devn(8), Minor: devn(-1), Access: "m"},
		},
	}
}

func TestV1SetFakeTree(t *testing.T) {
	m, rec, root := newFakeV1Manager(t, allV1...)
	r := fullResources()
	r.Network = &specs.LinuxNetwork{ClassID: u32(0x100001), Priorities: []specs.LinuxInterfacePriority{{Name: "eth0", Priority: 5}, {Name: "lo", Priority: 1}}}
	r.CPU.RealtimePeriod, r.CPU.RealtimeRuntime = u64(1000000), i64(950000)
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	d := func(h string) string { return filepath.Join(root, h, "berth/c1") }
	expectFiles(t, d("memory"), map[string]string{
		"memory.limit_in_bytes":       "104857600",
		"memory.memsw.limit_in_bytes": "209715200",
		"memory.soft_limit_in_bytes":  "52428800",
		"memory.swappiness":           "10",
		"memory.oom_control":          "1",
		"memory.use_hierarchy":        "1",
		"memory.kmem.limit_in_bytes":  v1Max,
	})
	// Lowering: the limit goes first, memsw must never drop below it.
	if got := rec.writes[:2]; !slices.Equal(got, []string{"cpuset/berth/c1/cpuset.cpus=0-1", "cpuset/berth/c1/cpuset.mems=0"}) {
		t.Errorf("cpuset not written first: %q", got)
	}
	if i, j := slices.Index(rec.writes, "memory/berth/c1/memory.limit_in_bytes=104857600"), slices.Index(rec.writes, "memory/berth/c1/memory.memsw.limit_in_bytes=209715200"); i < 0 || j < i {
		t.Errorf("memory limit (%d) must precede memsw (%d) when lowering", i, j)
	}
	expectFiles(t, d("cpu,cpuacct"), map[string]string{
		"cpu.shares": "512", "cpu.cfs_quota_us": "50000", "cpu.cfs_period_us": "100000",
		"cpu.cfs_burst_us": "1000", "cpu.rt_period_us": "1000000", "cpu.rt_runtime_us": "950000",
		"cpu.idle": "0",
	})
	expectFiles(t, d("cpuset"), map[string]string{"cpuset.cpus": "0-1", "cpuset.mems": "0"})
	expectFiles(t, d("pids"), map[string]string{"pids.max": "100"})
	expectFiles(t, d("blkio"), map[string]string{"blkio.bfq.weight": "500"})
	expectWrites(t, rec, "blkio/berth/c1/blkio.weight", "500") // tried first, missing (no CFQ)
	expectWrites(t, rec, "blkio/berth/c1/blkio.bfq.weight_device", "8:0 300")
	expectWrites(t, rec, "blkio/berth/c1/blkio.throttle.read_bps_device", "8:0 1048576")
	expectWrites(t, rec, "blkio/berth/c1/blkio.throttle.write_bps_device", "8:16 2097152")
	expectWrites(t, rec, "blkio/berth/c1/blkio.throttle.read_iops_device", "8:0 0")
	expectWrites(t, rec, "blkio/berth/c1/blkio.throttle.write_iops_device", "8:0 100")
	expectFiles(t, d("hugetlb"), map[string]string{
		"hugetlb.2MB.limit_in_bytes": "4194304", "hugetlb.2MB.rsvd.limit_in_bytes": "4194304",
		"hugetlb.1GB.limit_in_bytes": "1073741824",
	})
	expectFiles(t, d("net_cls,net_prio"), map[string]string{"net_cls.classid": "1048577"})
	expectWrites(t, rec, "net_cls,net_prio/berth/c1/net_prio.ifpriomap", "eth0 5", "lo 1")
	expectWrites(t, rec, "rdma/berth/c1/rdma.max", "mlx5_0 hca_handle=2 hca_object=100", "mlx5_1 hca_object=7")
	expectWrites(t, rec, "devices/berth/c1/devices.deny", "a", "a *:* rwm", "b 8:* m")
	expectWrites(t, rec, "devices/berth/c1/devices.allow", "c 1:3 rwm", "c 136:* rw")
	// Deny all comes before any allow.
	if i, j := slices.Index(rec.writes, "devices/berth/c1/devices.deny=a"), slices.Index(rec.writes, "devices/berth/c1/devices.allow=c 1:3 rwm"); i < 0 || j < i {
		t.Errorf("devices: deny all (%d) must precede the allow list (%d)", i, j)
	}
	for _, w := range rec.writes {
		if strings.Contains(w, "kmem") {
			t.Errorf("deprecated kernel memory written: %s", w)
		}
	}

	// Raising: memsw goes first.
	rec.reset()
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(300 << 20), Swap: i64(400 << 20)}}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"memory/berth/c1/memory.memsw.limit_in_bytes=419430400", "memory/berth/c1/memory.limit_in_bytes=314572800"}; !slices.Equal(rec.writes, want) {
		t.Errorf("raising memory: writes %q, want %q", rec.writes, want)
	}
	// Unlimited memory takes memsw along, memsw first.
	rec.reset()
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-1)}}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"memory/berth/c1/memory.memsw.limit_in_bytes=-1", "memory/berth/c1/memory.limit_in_bytes=-1"}; !slices.Equal(rec.writes, want) {
		t.Errorf("unlimited memory: writes %q, want %q", rec.writes, want)
	}
}

func TestV1SetRefusesBeforeWriting(t *testing.T) {
	m, rec, _ := newFakeV1Manager(t, "cpu,cpuacct", "memory", "pids")
	for name, r := range map[string]*specs.LinuxResources{
		"unified on v1":          {Pids: &specs.LinuxPids{Limit: i64(5)}, Unified: map[string]string{"memory.high": "1"}},
		"net_cls not mounted":    {Pids: &specs.LinuxPids{Limit: i64(5)}, Network: &specs.LinuxNetwork{ClassID: u32(1)}},
		"hugetlb not mounted":    {Pids: &specs.LinuxPids{Limit: i64(5)}, HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB"}}},
		"devices not mounted":    {Pids: &specs.LinuxPids{Limit: i64(5)}, Devices: []specs.LinuxDeviceCgroup{{Allow: true}}},
		"blkio not mounted":      {Pids: &specs.LinuxPids{Limit: i64(5)}, BlockIO: &specs.LinuxBlockIO{Weight: u16(10)}},
		"cpuset not mounted":     {Pids: &specs.LinuxPids{Limit: i64(5)}, CPU: &specs.LinuxCPU{Cpus: "0"}},
		"invalid value (swap<m)": {Pids: &specs.LinuxPids{Limit: i64(5)}, Memory: &specs.LinuxMemory{Limit: i64(10), Swap: i64(5)}},
	} {
		rec.reset()
		err := m.Set(r)
		want := errdefs.IsNotImplemented
		if name == "invalid value (swap<m)" {
			want = errdefs.IsInvalidParameter
		}
		if !want(err) {
			t.Errorf("%s: Set = %v, want another class", name, err)
		}
		if len(rec.writes) > 0 {
			t.Errorf("%s: wrote %q before refusing", name, rec.writes)
		}
	}
}

func TestV1BlkioWithoutProportionalScheduler(t *testing.T) {
	m, rec, root := newFakeV1Manager(t, "blkio")
	rec.fail["blkio/berth/c1/blkio.bfq.weight"] = fileError("write", filepath.Join(root, "blkio/berth/c1/blkio.bfq.weight"), errnoENOENT)
	err := m.Set(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(500)}})
	if !errdefs.IsNotImplemented(err) {
		t.Fatalf("blkio weight with neither CFQ nor BFQ: %v, want NotImplemented", err)
	}
	t.Logf("error reads: %v", err)
	if err := m.Set(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{LeafWeight: u16(500)}}); !errdefs.IsNotImplemented(err) {
		t.Errorf("leaf weight without CFQ: %v, want NotImplemented", err)
	}
}

func TestV1CheckBeforeUpdate(t *testing.T) {
	m, rec, _ := newFakeV1Manager(t, "memory")
	err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 20), CheckBeforeUpdate: boolp(true)}})
	if !errdefs.IsInvalidParameter(err) {
		t.Errorf("limit below usage (4096000): %v, want InvalidParameter", err)
	}
	if len(rec.writes) > 0 {
		t.Errorf("wrote %q", rec.writes)
	}
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(8 << 20), Swap: i64(16 << 20), CheckBeforeUpdate: boolp(true)}}); err != nil {
		t.Errorf("limit above usage: %v", err)
	}
}

func TestV1ApplyFillsEmptyCpusets(t *testing.T) {
	l, root := fakeV1(t, "/", "cpuset", "pids")
	// Levels a kernel created empty: /berth and /berth/c1.
	for _, d := range []string{"cpuset/berth", "cpuset/berth/c1"} {
		mkfiles(t, filepath.Join(root, d), map[string]string{"cpuset.cpus": "", "cpuset.mems": "\n", "cgroup.procs": ""})
	}
	mkfiles(t, filepath.Join(root, "pids/berth/c1"), map[string]string{"cgroup.procs": ""})
	m, err := New(l, Config{Path: "berth/c1"})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(root)
	useRecorder(m, rec)
	if err := m.Apply(12345); err != nil {
		t.Fatal(err)
	}
	expectFiles(t, filepath.Join(root, "cpuset/berth"), map[string]string{"cpuset.cpus": "0-3", "cpuset.mems": "0"})
	expectFiles(t, filepath.Join(root, "cpuset/berth/c1"), map[string]string{"cpuset.cpus": "0-3", "cpuset.mems": "0", "cgroup.procs": "12345"})
	expectFiles(t, filepath.Join(root, "pids/berth/c1"), map[string]string{"cgroup.procs": "12345"})
}

func TestV1FreezePidsStatsPathsFakeTree(t *testing.T) {
	m, _, root := newFakeV1Manager(t, allV1...)
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if f, err := m.Frozen(); err != nil || !f {
		t.Errorf("Frozen = %v, %v after Freeze", f, err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if f, err := m.Frozen(); err != nil || f {
		t.Errorf("Frozen = %v, %v after Thaw", f, err)
	}

	mkfiles(t, filepath.Join(root, "pids/berth/c1"), map[string]string{"cgroup.procs": "10\n11\n"})
	mkfiles(t, filepath.Join(root, "pids/berth/c1/sub"), map[string]string{"cgroup.procs": "12\n"})
	pids, err := m.Pids()
	if err != nil {
		t.Fatal(err)
	}
	if slices.Sort(pids); !slices.Equal(pids, []int{10, 11, 12}) {
		t.Errorf("Pids = %v", pids)
	}

	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	want := &Stats{
		Memory: &MemoryStats{
			Usage: 4096000, MaxUsage: 8192000, Limit: Unlimited, Failcnt: 3, SwapUsage: 100000,
			Cache: 1000, RSS: 2000, OOMKillEvents: 2,
			Stat: map[string]uint64{"cache": 1000, "rss": 2000, "total_inactive_file": 300},
		},
		CPU: &CPUStats{
			Usage: 330, User: 300, System: 30, PerCPU: []uint64{110, 220},
			Periods: 10, ThrottledPeriods: 4, ThrottledTime: 5000,
		},
		Pids: &PidsStats{Current: 3},
		BlockIO: &BlockIOStats{Devices: []BlockIODevice{
			{Major: 8, Minor: 0, ReadBytes: 4096, WriteBytes: 8192, ReadOps: 1, WriteOps: 2},
			{Major: 253, Minor: 1, ReadBytes: 1, WriteBytes: 2},
		}},
		Hugetlb: map[string]HugetlbStats{
			"2MB": {Usage: 2097152, MaxUsage: 4194304, Limit: Unlimited, Failcnt: 1},
			"1GB": {Limit: Unlimited},
		},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("Stats:\n got %+v\nwant %+v", s, want)
		for _, pair := range [][2]any{{s.Memory, want.Memory}, {s.CPU, want.CPU}, {s.Pids, want.Pids}, {s.BlockIO, want.BlockIO}, {s.Hugetlb, want.Hugetlb}} {
			if !reflect.DeepEqual(pair[0], pair[1]) {
				t.Errorf("  got %+v\n want %+v", pair[0], pair[1])
			}
		}
	}

	paths := m.Paths()
	for _, k := range []string{"cpu", "cpuacct", "memory", "net_cls", "net_prio", "name=systemd", "freezer"} {
		if paths[k] == "" {
			t.Errorf("Paths lacks %q: %v", k, paths)
		}
	}
	if paths["cpu"] != paths["cpuacct"] || paths["cpu"] != filepath.Join(root, "cpu,cpuacct/berth/c1") {
		t.Errorf("co-mounted cpu,cpuacct: %q %q", paths["cpu"], paths["cpuacct"])
	}
}

func TestLoadV1(t *testing.T) {
	l, _ := fakeV1(t, "/", allV1...)
	m, err := New(l, Config{Name: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	paths := m.Paths()
	again, err := Load(l, paths)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := again.(*v1Manager); !ok {
		t.Fatalf("Load gave %T", again)
	}
	if !reflect.DeepEqual(again.Paths(), paths) {
		t.Errorf("Load(Paths()).Paths() = %v, want %v", again.Paths(), paths)
	}
	for name, bad := range map[string]map[string]string{
		"outside":      {"memory": "/etc"},
		"mountpoint":   {"memory": l.V1Hierarchy("memory").Mountpoint},
		"unknown":      {"perf_event": l.V1Hierarchy("memory").Mountpoint + "/x"},
		"disagreeing":  {"cpu": l.V1Hierarchy("cpu").Mountpoint + "/a", "cpuacct": l.V1Hierarchy("cpu").Mountpoint + "/b"},
		"empty":        {},
		"v2 on legacy": {"": "/sys/fs/cgroup/x"},
	} {
		if _, err := Load(l, bad); !errdefs.IsInvalidParameter(err) {
			t.Errorf("Load(%s): %v, want InvalidParameter", name, err)
		}
	}
}
