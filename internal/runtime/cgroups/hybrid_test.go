package cgroups

import (
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/errdefs"
)

// fakeHybrid builds this host's layout in a temp dir: every v1 controller
// on its own (cpu apart from cpuacct), no hugetlb/net_cls/net_prio/rdma in
// v1, and a unified mount whose root offers only hugetlb.
func fakeHybrid(t *testing.T) (*Layout, string) {
	t.Helper()
	l, root := fakeV1(t, "/", "name=systemd", "pids", "blkio", "freezer", "devices", "memory", "cpuset", "cpuacct", "cpu")
	l.Mode = Hybrid
	u := filepath.Join(root, "unified")
	mkfiles(t, u, map[string]string{"cgroup.controllers": "hugetlb", "cgroup.subtree_control": "", "cgroup.procs": ""})
	mkfiles(t, filepath.Join(u, "berth"), map[string]string{"cgroup.controllers": "hugetlb", "cgroup.subtree_control": "", "cgroup.procs": ""})
	files := map[string]string{}
	for k, v := range v2Files {
		if k == "cgroup.controllers" {
			v = "hugetlb"
		}
		files[k] = v
	}
	mkfiles(t, filepath.Join(u, "berth/c1"), files)
	l.Unified = &UnifiedHierarchy{Mountpoint: u, Root: "/", Path: "/", Controllers: []string{"hugetlb"}}
	fakeV1Cgroup(t, l, func(h *Hierarchy) string { return filepath.Join(h.Mountpoint, "berth/c1") })
	mkfiles(t, filepath.Join(root, "cpuset/berth"), map[string]string{"cpuset.cpus": "0-3", "cpuset.mems": "0"})
	return l, root
}

func TestHybridRoutesPerController(t *testing.T) {
	l, root := fakeHybrid(t)
	r := &specs.LinuxResources{
		Memory:         &specs.LinuxMemory{Limit: i64(100 << 20), Swappiness: u64(0)},
		CPU:            &specs.LinuxCPU{Shares: u64(512), Cpus: "1"},
		Pids:           &specs.LinuxPids{Limit: i64(64)},
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 8 << 20}},
		Devices:        []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, {Allow: true, Type: "c", Major: devn(1), Minor: devn(3)}},
		Unified:        map[string]string{"hugetlb.1GB.max": "0"},
	}
	m, err := New(l, Config{Path: "/berth/c1", Resources: r})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.(*hybridManager); !ok {
		t.Fatalf("New on a hybrid host gave %T", m)
	}
	rec := newRecorder(root)
	useRecorder(m, rec)
	if err := m.Apply(777); err != nil {
		t.Fatal(err)
	}
	// Only hugetlb is enabled, and only because the resources ask for it.
	expectWrites(t, rec, "unified/cgroup.subtree_control", "+hugetlb")
	expectWrites(t, rec, "unified/berth/cgroup.subtree_control", "+hugetlb")
	for _, hd := range []string{"memory", "cpu", "cpuacct", "pids", "systemd", "unified"} {
		expectFiles(t, filepath.Join(root, hd, "berth/c1"), map[string]string{"cgroup.procs": "777"})
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	v1 := func(c string) string { return filepath.Join(root, c, "berth/c1") }
	expectFiles(t, v1("memory"), map[string]string{"memory.limit_in_bytes": "104857600", "memory.swappiness": "0"})
	expectFiles(t, v1("cpu"), map[string]string{"cpu.shares": "512"}) // v1: no weight conversion
	expectFiles(t, v1("cpuset"), map[string]string{"cpuset.cpus": "1"})
	expectFiles(t, v1("pids"), map[string]string{"pids.max": "64"})
	expectWrites(t, rec, "devices/berth/c1/devices.allow", "c 1:3 rwm")
	expectFiles(t, filepath.Join(root, "unified/berth/c1"), map[string]string{
		"hugetlb.2MB.max": "8388608", "hugetlb.2MB.rsvd.max": "8388608",
		"hugetlb.1GB.max": "0", // unified key for a v2-held controller
		"memory.max":      "max",
	})

	// What v1 holds cannot be reached through unified keys, and what
	// nobody holds is NotImplemented, before any write.
	for name, bad := range map[string]*specs.LinuxResources{
		"unified key of a v1 controller": {Pids: &specs.LinuxPids{Limit: i64(1)}, Unified: map[string]string{"memory.high": "1"}},
		"net_cls nowhere":                {Pids: &specs.LinuxPids{Limit: i64(1)}, Network: &specs.LinuxNetwork{ClassID: u32(7)}},
		"rdma nowhere":                   {Pids: &specs.LinuxPids{Limit: i64(1)}, Rdma: map[string]specs.LinuxRdma{"mlx": {HcaHandles: u32(1)}}},
	} {
		rec.reset()
		if err := m.Set(bad); !errdefs.IsNotImplemented(err) {
			t.Errorf("%s: %v, want NotImplemented", name, err)
		}
		if len(rec.writes) > 0 {
			t.Errorf("%s: wrote %q", name, rec.writes)
		}
	}

	// The v1 freezer is used, and pids come from the unified directory.
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	expectFiles(t, v1("freezer"), map[string]string{"freezer.state": "FROZEN"})
	expectFiles(t, filepath.Join(root, "unified/berth/c1"), map[string]string{"cgroup.freeze": "0"})
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	pids, err := m.Pids()
	if err != nil || !slices.Equal(pids, []int{777}) {
		t.Errorf("Pids = %v, %v", pids, err)
	}
	if err := m.(Killer).Kill(); err != nil {
		t.Fatal(err)
	}
	expectWrites(t, rec, "unified/berth/c1/cgroup.kill", "1")

	// Stats: memory, cpu, pids, blkio from v1; hugetlb from v2.
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Memory == nil || s.Memory.Stat["cache"] != 1000 || s.CPU == nil || len(s.CPU.PerCPU) != 2 || s.Pids == nil || s.BlockIO == nil {
		t.Errorf("v1 sections: %+v", s)
	}
	if s.Hugetlb["2MB"].Usage != 2097152 || s.Hugetlb["2MB"].Failcnt != 1 {
		t.Errorf("hugetlb from the unified hierarchy: %+v", s.Hugetlb)
	}

	paths := m.Paths()
	if paths[""] != filepath.Join(root, "unified/berth/c1") || paths["hugetlb"] != paths[""] ||
		paths["memory"] != v1("memory") || paths["name=systemd"] != v1("systemd") {
		t.Errorf("Paths = %v", paths)
	}
	again, err := Load(l, paths)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := again.(*hybridManager); !ok || !reflect.DeepEqual(again.Paths(), paths) {
		t.Errorf("Load: %T %v", again, again.Paths())
	}
}

func TestHybridDevicesGoToV2WithoutV1Devices(t *testing.T) {
	l, _ := fakeHybrid(t)
	// Drop the v1 devices hierarchy: the eBPF filter must take over.
	l.V1 = slices.DeleteFunc(l.V1, func(h Hierarchy) bool { return h.Has("devices") })
	m, err := New(l, Config{Path: "/berth/c1"})
	if err != nil {
		t.Fatal(err)
	}
	h := m.(*hybridManager)
	r := &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true}}}
	if err := h.v1.supports(grpDevices, r); !errdefs.IsNotImplemented(err) {
		t.Errorf("v1 without devices: %v", err)
	}
	if err := h.v2.supports(grpDevices, r); err != nil {
		t.Errorf("v2 devices: %v", err)
	}
}

func TestWarnings(t *testing.T) {
	r := &specs.LinuxResources{
		//lint:ignore SA1019 deprecated knobs are still sent; they are detected to be ignored
		Memory:  &specs.LinuxMemory{Kernel: i64(1), KernelTCP: i64(1), Swappiness: u64(1), DisableOOMKiller: boolp(true), UseHierarchy: boolp(false)},
		BlockIO: &specs.LinuxBlockIO{LeafWeight: u16(10)},
		CPU:     &specs.LinuxCPU{Idle: i64(1), Shares: u64(100)},
	}
	v2, _ := fakeV2(t)
	if got := Warnings(v2, r); len(got) != 7 {
		t.Errorf("v2 warnings: %d\n%q", len(got), got)
	}
	v1, _ := fakeV1(t, "/", "memory", "blkio", "cpu")
	if got := Warnings(v1, r); len(got) != 3 { // kernel, kernelTCP, idle shares
		t.Errorf("v1 warnings: %d\n%q", len(got), got)
	}
	if Warnings(v1, nil) != nil {
		t.Error("warnings for no resources")
	}
}
