package guest

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/runtime/cgroups"
)

// The runtime on a pure cgroup v2 machine, container by container: each test
// sets a limit in config.json, runs busybox under it, and checks both the
// cgroup files the runtime wrote and that the kernel enforced them.

// TestMemoryLimitOOMKill: a container that allocates past memory.max is
// killed by the kernel's OOM killer, and the cgroup's memory.events counts
// it; below the limit the same allocation works.
func TestMemoryLimitOOMKill(t *testing.T) {
	const limit = 64 << 20
	// dd's buffer is one block, touched by read(2): 8MiB fits, 256MiB not.
	c := newContainer(t, "dd if=/dev/zero of=/dev/null bs=8M count=1 || exit 3; exec dd if=/dev/zero of=/dev/null bs=256M count=1", func(s *specs.Spec) {
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptr(int64(limit)), Swap: ptr(int64(limit))}
	})
	code, out := c.run()
	if code != 128+int(unix.SIGKILL) {
		t.Fatalf("exit status %d, want %d (SIGKILL by the OOM killer); output:\n%s", code, 128+int(unix.SIGKILL), out)
	}
	if got := c.file("memory.max"); got != strconv.Itoa(limit) {
		t.Errorf("memory.max = %s, want %d", got, limit)
	}
	// Swap equal to the limit means no swap at all: memory.swap.max 0.
	if _, err := os.Stat(filepath.Join(c.cgroup, "memory.swap.max")); err == nil {
		if got := c.file("memory.swap.max"); got != "0" {
			t.Errorf("memory.swap.max = %s, want 0", got)
		}
	}
	ev := keyed(t, c.file("memory.events"))
	if ev["oom_kill"] < 1 {
		t.Errorf("memory.events oom_kill = %d, want >= 1:\n%s", ev["oom_kill"], c.file("memory.events"))
	}
	if ev["max"] < 1 {
		t.Errorf("memory.events max = %d, want >= 1 (the limit was hit)", ev["max"])
	}
	c.delete()
}

// TestPidsLimit: pids.max stops a fork bomb at the limit, and pids.events
// counts the refused forks.
func TestPidsLimit(t *testing.T) {
	const limit = 16
	c := newContainer(t, `i=0; while [ $i -lt 64 ]; do sleep 1000 & i=$((i+1)); echo "started $i"; done; echo "all started"`, func(s *specs.Spec) {
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: ptr(int64(limit))}
	})
	c.start()
	// The shell stops at its first refused fork (ash gives up on "can't
	// fork"), or goes on and prints "all started"; either way the pids
	// controller must have refused forks and never let more than the limit in.
	deadline := time.Now().Add(cmdTimeout)
	for keyed(t, c.file("pids.events"))["max"] == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("pids.events never counted a refused fork; pids.current %s; output:\n%s", c.file("pids.current"), c.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := c.file("pids.max"); got != strconv.Itoa(limit) {
		t.Errorf("pids.max = %s, want %d", got, limit)
	}
	if n, _ := strconv.Atoi(c.file("pids.current")); n > limit {
		t.Errorf("pids.current = %d, above pids.max %d", n, limit)
	}
	procs := strings.Fields(c.file("cgroup.procs"))
	if len(procs) > limit {
		t.Errorf("%d processes in the cgroup, above pids.max %d", len(procs), limit)
	}
	if strings.Contains(c.output(), "started 64") {
		t.Errorf("all 64 forks succeeded under pids.max %d:\n%s", limit, c.output())
	}
	c.delete()
}

// TestCPUQuota: cpu.max holds the quota and period, and a spinning
// container is throttled to about that share of one CPU.
func TestCPUQuota(t *testing.T) {
	const quota, period = 20000, 100000
	c := newContainer(t, "while :; do :; done", func(s *specs.Spec) {
		s.Linux.Resources.CPU = &specs.LinuxCPU{Quota: ptr(int64(quota)), Period: ptr(uint64(period)), Shares: ptr(uint64(1024))}
	})
	c.start()
	c.waitStatus("running")
	before := keyed(t, c.file("cpu.stat"))
	start := time.Now()
	// Watch for the throttling rather than expect it within a fixed time:
	// an emulated guest on a loaded host may get less than the quota's
	// share of a real CPU for a while, and is then never throttled.
	var after map[string]uint64
	for deadline := start.Add(cmdTimeout); ; {
		time.Sleep(500 * time.Millisecond)
		after = keyed(t, c.file("cpu.stat"))
		if after["nr_throttled"] > before["nr_throttled"] && time.Since(start) >= 1500*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			break
		}
	}
	wall := time.Since(start)

	if got, want := c.file("cpu.max"), fmt.Sprintf("%d %d", quota, period); got != want {
		t.Errorf("cpu.max = %q, want %q", got, want)
	}
	// Shares map to cgroup v2's weight so that the v1 default (1024) is
	// the v2 default (100), as current runc and crun map them.
	if got := c.file("cpu.weight"); got != "100" {
		t.Errorf("cpu.weight = %s, want 100 (from shares 1024)", got)
	}
	if after["nr_throttled"] <= before["nr_throttled"] || after["throttled_usec"] <= before["throttled_usec"] {
		t.Errorf("not throttled: cpu.stat before %v, after %v", before, after)
	}
	used := time.Duration(after["usage_usec"]-before["usage_usec"]) * time.Microsecond
	// 20% of one CPU, with room for the period boundaries and an emulated
	// clock; unthrottled it would be close to 100%.
	if share := float64(used) / float64(wall); share > 0.5 {
		t.Errorf("used %v of CPU in %v (%.0f%%), want about %d%%", used, wall, 100*share, 100*quota/period)
	}

	// The runtime's stats read the same files.
	var ev struct {
		Type string
		Data *cgroups.Stats
	}
	if err := json.Unmarshal([]byte(c.runtime("events", "--stats", c.id)), &ev); err != nil {
		t.Fatalf("events --stats: %v", err)
	}
	switch d := ev.Data; {
	case ev.Type != "stats" || d == nil:
		t.Errorf("events --stats: %+v", ev)
	case d.CPU == nil || d.CPU.Usage == 0 || d.CPU.ThrottledPeriods == 0:
		t.Errorf("events --stats: cpu %+v, want usage and throttled periods", d.CPU)
	case d.Memory == nil || d.Memory.Usage == 0:
		t.Errorf("events --stats: memory %+v, want usage", d.Memory)
	case d.Pids == nil || d.Pids.Current == 0:
		t.Errorf("events --stats: pids %+v, want the spinning shell", d.Pids)
	}
	c.delete()
}

// TestDeviceAllowList: on cgroup v2 the device rules are an eBPF program on
// the container's cgroup. /dev/null works; a node for a device the rules do
// not allow can be neither opened nor made, and the same node with a rule
// that allows it can be both (so the refusal is the filter's).
func TestDeviceAllowList(t *testing.T) {
	// /dev/kmsg (1:11) opens write-only without any capability, so only the
	// device filter can refuse it.
	const script = `
echo x >/dev/null && echo null=ok || echo null=denied
(echo berth-vm-devicetest >/kmsg) 2>/dev/null && echo open=ok || echo open=denied
mknod /tmp/kmsg2 c 1 11 2>/dev/null && echo mknod=ok || echo mknod=denied
`
	for _, tc := range []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		want  string
	}{
		{"default", nil, "null=ok open=denied mknod=denied"},
		{"allowed", []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: ptr(int64(1)), Minor: ptr(int64(11)), Access: "rwm"}}, "null=ok open=ok mknod=ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newContainer(t, script, func(s *specs.Spec) {
				s.Linux.Resources.Devices = append([]specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}, tc.rules...)
				// mknod needs the capability; the filter is what is tested.
				for _, set := range []*[]string{&s.Process.Capabilities.Bounding, &s.Process.Capabilities.Effective, &s.Process.Capabilities.Permitted} {
					*set = append(*set, "CAP_MKNOD")
				}
			})
			// Made from outside: the rootfs is ours, and the filter applies
			// only to the container's cgroup.
			if err := unix.Mknod(filepath.Join(c.rootfs, "kmsg"), unix.S_IFCHR|0o600, int(unix.Mkdev(1, 11))); err != nil {
				t.Fatal(err)
			}
			code, out := c.run()
			if code != 0 {
				t.Fatalf("exit status %d:\n%s", code, out)
			}
			if got := strings.Join(strings.Fields(out), " "); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			c.delete()
		})
	}
}

// TestPauseResume: pause freezes the cgroup (cgroup.freeze, cgroup.events)
// and the process stops using CPU; resume undoes both.
func TestPauseResume(t *testing.T) {
	c := newContainer(t, "while :; do :; done", nil)
	c.start()
	pid := c.waitStatus("running").Pid

	c.runtime("pause", c.id)
	if s := c.state(); s.Status != "paused" {
		t.Errorf("status after pause: %s", s.Status)
	}
	if got := c.file("cgroup.freeze"); got != "1" {
		t.Errorf("cgroup.freeze = %s after pause", got)
	}
	if ev := keyed(t, c.file("cgroup.events")); ev["frozen"] != 1 {
		t.Errorf("cgroup.events frozen = %d after pause", ev["frozen"])
	}
	t0 := cpuTicks(t, pid)
	time.Sleep(500 * time.Millisecond)
	if t1 := cpuTicks(t, pid); t1 != t0 {
		t.Errorf("a paused process ran: cpu ticks %d -> %d", t0, t1)
	}

	c.runtime("resume", c.id)
	if s := c.state(); s.Status != "running" {
		t.Errorf("status after resume: %s", s.Status)
	}
	if ev := keyed(t, c.file("cgroup.events")); ev["frozen"] != 0 {
		t.Errorf("cgroup.events frozen = %d after resume", ev["frozen"])
	}
	// Resumed, it runs again: wait for its ticks to move (a loaded host may
	// leave an emulated guest's CPU idle for a while).
	t0 = cpuTicks(t, pid)
	for deadline := time.Now().Add(cmdTimeout); cpuTicks(t, pid) == t0; {
		if time.Now().After(deadline) {
			t.Errorf("the resumed process did not run: cpu ticks stay %d", t0)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.delete()
}

// TestCgroupNamespace: with a cgroup namespace the container sees its own
// cgroup as the root, at /sys/fs/cgroup, read-only, with its limits.
func TestCgroupNamespace(t *testing.T) {
	const limit = 96 << 20
	const script = `cat /proc/self/cgroup; echo @@
grep ' /sys/fs/cgroup ' /proc/self/mountinfo; echo @@
cat /sys/fs/cgroup/memory.max; echo @@
cat /sys/fs/cgroup/cgroup.procs; echo @@
(echo 1 >/sys/fs/cgroup/cgroup.freeze) 2>/dev/null && echo writable || echo read-only`
	c := newContainer(t, script, func(s *specs.Spec) {
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptr(int64(limit))}
	})
	code, out := c.run()
	if code != 0 {
		t.Fatalf("exit status %d:\n%s", code, out)
	}
	parts := strings.Split(out, "@@\n")
	if len(parts) != 5 {
		t.Fatalf("unexpected output:\n%s", out)
	}
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	if parts[0] != "0::/" {
		t.Errorf("/proc/self/cgroup in the container = %q, want 0::/", parts[0])
	}
	// mountinfo: id parent major:minor root mountpoint options ... - fstype source super-options
	f := strings.Fields(parts[1])
	sep := slices.Index(f, "-")
	if len(f) < 5 || sep < 0 || sep+1 >= len(f) || f[3] != "/" || f[sep+1] != "cgroup2" {
		t.Errorf("/sys/fs/cgroup in the container: %q, want the root of a cgroup2 mount", parts[1])
	}
	if parts[2] != strconv.Itoa(limit) {
		t.Errorf("memory.max in the container = %q, want %d (the container's own cgroup)", parts[2], limit)
	}
	if pids := strings.Fields(parts[3]); !slices.Contains(pids, "1") {
		t.Errorf("cgroup.procs in the container = %v, want the container's pid 1 among them", pids)
	}
	if parts[4] != "read-only" {
		t.Errorf("/sys/fs/cgroup in the container is %s, want read-only", parts[4])
	}
	c.delete()
}

// TestUpdate: berth-runtime update changes a running container's limits.
func TestUpdate(t *testing.T) {
	c := newContainer(t, "sleep 1000", func(s *specs.Spec) {
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptr(int64(64 << 20))}
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: ptr(int64(100))}
	})
	c.start()
	c.waitStatus("running")
	c.runtime("update", "--memory", strconv.Itoa(128<<20), "--pids-limit", "50", "--cpu-quota", "30000", "--cpu-period", "100000", c.id)
	for file, want := range map[string]string{
		"memory.max": strconv.Itoa(128 << 20),
		"pids.max":   "50",
		"cpu.max":    "30000 100000",
	} {
		if got := c.file(file); got != want {
			t.Errorf("%s = %q after update, want %q", file, got, want)
		}
	}
	c.delete()
}

// TestRelativeCgroupsPath: an empty or relative cgroupsPath works from a
// process in a leaf cgroup, as a runtime started by a systemd service runs.
// cgroup v2 forbids a cgroup with processes to hand controllers to its
// children, so (as runc does) the path starts at the parent of the
// caller's cgroup: a sibling of it.
func TestRelativeCgroupsPath(t *testing.T) {
	own := ownCgroup(t)
	if own == "/" {
		t.Fatal("the test runs in the root cgroup; the VM's /init should have put it in a service cgroup")
	}
	for _, tc := range []struct{ name, path string }{
		{"empty", ""},
		{"relative", "berth-vm-relative/ctr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const limit = 64 << 20
			c := newContainer(t, "sleep 1000", func(s *specs.Spec) {
				s.Linux.CgroupsPath = tc.path
				s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptr(int64(limit))}
			})
			want := path.Join(path.Dir(own), tc.path)
			if tc.path == "" {
				want = path.Join(path.Dir(own), c.id)
			}
			c.start()
			pid := c.waitStatus("running").Pid
			got := strings.TrimPrefix(readTrim(t, fmt.Sprintf("/proc/%d/cgroup", pid)), "0::")
			if got != want {
				t.Errorf("container's cgroup is %s, want %s (beside the caller's %s)", got, want, own)
			}
			c.cgroup = filepath.Join(cgroupRoot, got)
			if got := c.file("memory.max"); got != strconv.Itoa(limit) {
				t.Errorf("memory.max = %s, want %d", got, limit)
			}
			c.delete()
		})
	}
}

// TestCgroupsPathBelowBusyCgroup: a cgroupsPath below a cgroup that holds
// processes (here the test's own) cannot get controllers on cgroup v2. The
// create must fail, and must leave that cgroup as it was: enabling a
// threaded controller alone (pids) would succeed there and silently turn
// the caller's cgroup into a threaded-domain root.
func TestCgroupsPathBelowBusyCgroup(t *testing.T) {
	own := ownCgroup(t)
	if own == "/" {
		t.Fatal("the test runs in the root cgroup; the VM's /init should have put it in a service cgroup")
	}
	ownDir := filepath.Join(cgroupRoot, own)
	before := readTrim(t, filepath.Join(ownDir, "cgroup.subtree_control"))
	c := newContainer(t, "true", func(s *specs.Spec) {
		s.Linux.CgroupsPath = path.Join(own, "ctr")
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptr(int64(64 << 20))}
	})
	code, out := c.run()
	if code == 0 {
		t.Fatalf("a container below the busy cgroup %s ran with a memory limit:\n%s", own, out)
	}
	t.Logf("refused as expected: %s", strings.TrimSpace(out))
	if after := readTrim(t, filepath.Join(ownDir, "cgroup.subtree_control")); after != before {
		t.Errorf("the caller's cgroup.subtree_control changed from %q to %q", before, after)
	}
	if typ := readTrim(t, filepath.Join(ownDir, "cgroup.type")); typ != "domain" {
		t.Errorf("the caller's cgroup.type is now %q, want domain", typ)
	}
	if _, err := os.Stat(c.cgroup); err == nil {
		t.Errorf("the failed create left %s behind", c.cgroup)
	}
}

// TestBlockIOThrottle: a write-bandwidth limit on the disk behind "/" (the
// VM's ramdisk) lands in io.max, and the kernel holds a container's direct
// writes to it: 3MiB at 1MiB/s take seconds, where unthrottled they take
// milliseconds.
func TestBlockIOThrottle(t *testing.T) {
	var st unix.Stat_t
	if err := unix.Stat("/", &st); err != nil {
		t.Fatal(err)
	}
	major, minor := int64(unix.Major(st.Dev)), int64(unix.Minor(st.Dev))
	sys := fmt.Sprintf("/sys/dev/block/%d:%d", major, minor)
	if _, err := os.Stat(sys); err != nil {
		t.Fatalf("no block device behind / (%d:%d): scripts/vmtest.sh puts / on a ramdisk unless --tmpfs-root", major, minor)
	}
	if _, err := os.Stat(filepath.Join(sys, "partition")); err == nil {
		t.Fatalf("/ is on a partition (%s); the test wants the whole disk", sys)
	}
	// Direct writes go to a directory of "/" itself, bind-mounted in: the
	// bundle lives on /tmp, a tmpfs.
	data, err := os.MkdirTemp("/", "berth-vm-io-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(data) })
	const rate = 1 << 20
	const script = `read a _ </proc/uptime
dd if=/dev/zero of=/data/f bs=64k count=48 oflag=direct 2>/dev/null || exit 3
read b _ </proc/uptime
echo "$a $b"`
	c := newContainer(t, script, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: data, Options: []string{"rbind", "rw"}})
		s.Linux.Resources.BlockIO = &specs.LinuxBlockIO{ThrottleWriteBpsDevice: []specs.LinuxThrottleDevice{{
			LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: major, Minor: minor}, Rate: rate,
		}}}
	})
	code, out := c.run()
	if code != 0 {
		t.Fatalf("exit status %d:\n%s", code, out)
	}
	var a, b float64
	if _, err := fmt.Sscanf(strings.TrimSpace(out), "%f %f", &a, &b); err != nil {
		t.Fatalf("unexpected output %q: %v", out, err)
	}
	// 3MiB at 1MiB/s, less the burst blk-throttle grants up front.
	if b-a < 2 {
		t.Errorf("3MiB of direct writes took %.2fs under a 1MiB/s limit: not throttled", b-a)
	}
	dev := fmt.Sprintf("%d:%d", major, minor)
	if got, want := c.file("io.max"), dev+" rbps=max wbps=1048576 riops=max wiops=max"; got != want {
		t.Errorf("io.max = %q, want %q", got, want)
	}
	for _, line := range strings.Split(c.file("io.stat"), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != dev {
			continue
		}
		st := map[string]uint64{}
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			n, _ := strconv.ParseUint(v, 10, 64)
			st[k] = n
		}
		if st["wbytes"] < 3<<20 {
			t.Errorf("io.stat wbytes = %d, want the 3MiB written", st["wbytes"])
		}
		c.delete()
		return
	}
	t.Errorf("io.stat has no line for %s:\n%s", dev, c.file("io.stat"))
}
