package runtime

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/berth-project/berth/internal/runtime/cgroups"
	"github.com/berth-project/berth/internal/runtime/nsenter"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestReadProcStat(t *testing.T) {
	st, err := readProcStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.State == 'Z' || st.StartTime == 0 {
		t.Fatalf("implausible stat %+v", st)
	}
	if !processAlive(os.Getpid(), st.StartTime) {
		t.Fatal("we are alive")
	}
	if processAlive(os.Getpid(), st.StartTime+1) {
		t.Fatal("a different start time is a different process")
	}
	if processAlive(0, 0) || processAlive(1<<22+12345, 0) {
		t.Fatal("no such process")
	}
}

func TestParseCPUList(t *testing.T) {
	set, err := parseCPUList("0-2,5")
	if err != nil {
		t.Fatal(err)
	}
	for c, want := range map[int]bool{0: true, 1: true, 2: true, 3: false, 5: true} {
		if set.IsSet(c) != want {
			t.Errorf("cpu %d: %v", c, set.IsSet(c))
		}
	}
	for _, bad := range []string{"a", "3-1", "-1", "0-9999"} {
		if _, err := parseCPUList(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestBootstrapFor(t *testing.T) {
	s := DefaultSpec(false)
	s.Linux.Namespaces = append(s.Linux.Namespaces,
		specs.LinuxNamespace{Type: specs.TimeNamespace})
	s.Linux.Namespaces[1].Path = "/proc/1/ns/net"
	s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: 5}, "monotonic": {Secs: -1, Nanosecs: 7}}
	b, err := bootstrapFor(s)
	if err != nil {
		t.Fatal(err)
	}
	want := uint32(unix.CLONE_NEWPID | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWTIME)
	if b.CloneFlags != want {
		t.Errorf("clone flags %#x, want %#x", b.CloneFlags, want)
	}
	if len(b.Join) != 1 || b.Join[0] != (nsenter.NamespacePath{Type: unix.CLONE_NEWNET, Path: "/proc/1/ns/net"}) {
		t.Errorf("join %+v", b.Join)
	}
	if b.TimeOffsets != "monotonic -1 7\nboottime 5 0\n" {
		t.Errorf("time offsets %q", b.TimeOffsets)
	}
}

func TestWithDeviceRules(t *testing.T) {
	s := DefaultSpec(false)
	s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229}, {Path: "/dev/p", Type: "p"}}
	r := withDeviceRules(s)
	if len(r.Devices) != 1+1+len(DefaultDeviceRules()) {
		t.Fatalf("%d rules", len(r.Devices))
	}
	if d := r.Devices[0]; d.Allow || d.Access != "rwm" {
		t.Errorf("the config's deny-all must stay first: %+v", d)
	}
	if d := r.Devices[1]; !d.Allow || d.Type != "c" || *d.Major != 10 || *d.Minor != 229 {
		t.Errorf("linux.devices must be allowed: %+v", d)
	}
	if len(s.Linux.Resources.Devices) != 1 {
		t.Error("the config itself must not change")
	}
	s.Linux.Resources.Devices = nil
	if withDeviceRules(s) != s.Linux.Resources {
		t.Error("no device rules: nothing to add")
	}
}

func TestCgroupMounts(t *testing.T) {
	hybrid := &cgroups.Layout{
		Mode: cgroups.Hybrid,
		V1: []cgroups.Hierarchy{
			{Controllers: []string{"cpu", "cpuacct"}, Mountpoint: "/sys/fs/cgroup/cpu,cpuacct"},
			{Controllers: []string{"memory"}, Mountpoint: "/sys/fs/cgroup/memory"},
			{Controllers: []string{"name=systemd"}, Mountpoint: "/sys/fs/cgroup/systemd"},
		},
		Unified: &cgroups.UnifiedHierarchy{Mountpoint: "/sys/fs/cgroup/unified"},
	}
	paths := map[string]string{"cpu": "/sys/fs/cgroup/cpu,cpuacct/c1", "memory": "/sys/fs/cgroup/memory/c1", "": "/sys/fs/cgroup/unified/c1"}
	got := cgroupMounts(hybrid, paths)
	want := []cgroupMount{
		{Dir: "cpu,cpuacct", Options: "cpu,cpuacct", HostPath: "/sys/fs/cgroup/cpu,cpuacct/c1", Symlinks: []string{"cpu", "cpuacct"}},
		{Dir: "memory", Options: "memory", HostPath: "/sys/fs/cgroup/memory/c1"},
		{Dir: "unified", V2: true, HostPath: "/sys/fs/cgroup/unified/c1"},
	}
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if !bytes.Equal(gj, wj) {
		t.Errorf("hybrid:\n got %s\nwant %s", gj, wj)
	}
	unified := &cgroups.Layout{Mode: cgroups.Unified, Unified: &cgroups.UnifiedHierarchy{Mountpoint: "/sys/fs/cgroup"}}
	if got := cgroupMounts(unified, map[string]string{"": "/sys/fs/cgroup/c1"}); len(got) != 1 || !got[0].V2 || got[0].Dir != "" {
		t.Errorf("unified: %+v", got)
	}
}

func TestSyncFrames(t *testing.T) {
	var buf bytes.Buffer
	in := &syncMsg{Type: msgConfig, Config: (&initConfig{Mode: modeExec, ID: "x", ConsoleFD: -1}).encode()}
	if err := writeFrame(&buf, in); err != nil {
		t.Fatal(err)
	}
	writeFrame(&buf, &syncMsg{Type: msgError, Error: "boom"})
	m, err := expect(&buf, msgConfig)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := decodeInitConfig(m.Config); err != nil || cfg.ID != "x" || cfg.ConsoleFD != -1 {
		t.Fatalf("round trip: %+v %v", cfg, err)
	}
	if _, err := expect(&buf, msgReady); err == nil || err.Error() != "boom" {
		t.Fatalf("an error frame must become the error: %v", err)
	}
	if _, err := readFrame(bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff})); err == nil {
		t.Fatal("oversized frame accepted")
	}
	if _, err := readFrame(bytes.NewReader([]byte{5, 0, 0, 0, '{'})); err == nil {
		t.Fatal("truncated frame accepted")
	}
}

func TestCapabilities(t *testing.T) {
	names := AllCapabilities()
	if len(names) != 41 || names[0] != "CAP_CHOWN" || names[40] != "CAP_CHECKPOINT_RESTORE" {
		t.Fatalf("capability table: %v", names)
	}
	set, err := parseCapabilities("bounding", []string{"CAP_CHOWN", "cap_kill", "CAP_BPF"})
	if err != nil {
		t.Fatal(err)
	}
	if !set.has(0) || !set.has(5) || !set.has(39) || set.has(1) {
		t.Errorf("set %#x", set)
	}
}

// TestWarmSpecDecodes: the spec that warms the decoders is one.
func TestWarmSpecDecodes(t *testing.T) {
	var s specs.Spec
	if err := json.Unmarshal(warmSpec, &s); err != nil {
		t.Fatal(err)
	}
	if s.Linux == nil || s.Linux.Seccomp == nil || s.Linux.Resources == nil || s.Process == nil || len(s.Mounts) == 0 || s.Hooks == nil {
		t.Fatalf("warmspec.json lacks sections: %+v", s)
	}
}
