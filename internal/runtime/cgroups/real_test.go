package cgroups

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
)

// Tests against this host's real cgroupfs. They adapt to the layout they
// find: each controller is exercised where the host has it, v1 or v2, and
// skipped with the reason when it has none. On this package's first host
// (hybrid: v1 for everything but hugetlb) they run the v1 controllers, the
// v2 device filter and hugetlb in the unified mount; on a pure-v2 VM they
// run the v2 controllers for real.
//
// Each test makes its own cgroup, named after the test and the pid so
// parallel runs never collide, and removes it and kills its processes in
// t.Cleanup, failed or not.

const helperEnv = "BERTH_CGROUPS_TEST_HELPER"

// TestMain doubles as the helper processes the tests put in cgroups.
func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "wait":
		// Sleep until stdin closes (or a kill).
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	case "alloc":
		// Once in the cgroup, charge it 16MiB of anonymous memory.
		in := bufio.NewReader(os.Stdin)
		if _, err := in.ReadString('\n'); err != nil {
			os.Exit(2)
		}
		ballast := make([]byte, 16<<20)
		for i := range ballast {
			ballast[i] = 1
		}
		fmt.Println("ready")
		_, _ = io.Copy(io.Discard, in)
		os.Exit(int(ballast[len(ballast)-1]) - 1)
	case "spin":
		for i := 0; ; i++ {
			_ = i
		}
	case "open":
		// Wait for the go-ahead (once the parent put us in the cgroup),
		// then try each path and report.
		if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
			os.Exit(2)
		}
		for _, p := range strings.Split(os.Getenv("BERTH_OPEN"), ",") {
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				var errno syscall.Errno
				errors.As(err, &errno)
				fmt.Printf("%s %s\n", p, unix.ErrnoName(errno))
				continue
			}
			f.Close()
			fmt.Printf("%s ok\n", p)
		}
		os.Exit(0)
	}
}

// requireRoot fails (not skips) without root: CI runs as root, and a
// missing requirement there is a broken environment.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root (cgroupfs writes); CI runs as root")
	}
}

func realLayout(t *testing.T) *Layout {
	t.Helper()
	requireRoot(t)
	l, err := DetectLayout()
	if err != nil {
		t.Fatalf("DetectLayout: %v", err)
	}
	return l
}

// testCgroupPath names the test's cgroup. It is relative (below the test
// process's own cgroups, as a runtime's would be) except on a pure v2
// host, where the own cgroup holds processes and so, by the
// no-internal-processes rule, could not hand controllers down.
func testCgroupPath(t *testing.T, l *Layout) string {
	name := "berth-test-" + regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(t.Name(), "_") + "-" + strconv.Itoa(os.Getpid())
	if l.Mode == Unified {
		return "/" + name
	}
	return name
}

// newRealManager creates the test's cgroup and arranges its removal.
func newRealManager(t *testing.T, l *Layout, r *specs.LinuxResources) Manager {
	t.Helper()
	m, err := New(l, Config{Path: testCgroupPath(t, l), Resources: r})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if f, err := m.Frozen(); err == nil && f {
			_ = m.Thaw()
		}
		if pids, err := m.Pids(); err == nil {
			for _, pid := range pids {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
		}
		if err := m.Destroy(); err != nil {
			t.Errorf("cleanup: Destroy: %v", err)
		}
	})
	if err := m.Apply(-1); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return m
}

// startHelper runs this test binary as a helper; it is killed by pid and
// reaped when the test ends.
func startHelper(t *testing.T, mode string, env ...string) (*exec.Cmd, io.WriteCloser, io.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append(env, helperEnv+"="+mode)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	return cmd, stdin, stdout
}

// where reports the directory and version that holds controller for m.
func where(t *testing.T, l *Layout, m Manager, controller string) (dir string, v2 bool) {
	t.Helper()
	if !l.Available(controller) {
		t.Skipf("no %s controller on this host (%s layout): covered by the fake-tree tests", controller, l.Mode)
	}
	dir = m.Paths()[controller]
	if dir == "" {
		t.Fatalf("Paths() has no %s: %v", controller, m.Paths())
	}
	return dir, l.V1Hierarchy(controller) == nil
}

func readBack(t *testing.T, dir, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	return strings.TrimSpace(string(b))
}

func exists(dir, file string) bool {
	_, err := os.Stat(filepath.Join(dir, file))
	return err == nil
}

// procStat returns a process's state letter and its user+system ticks.
func procStat(t *testing.T, pid int) (byte, uint64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseUint(f[11], 10, 64)
	stime, _ := strconv.ParseUint(f[12], 10, 64)
	return f[0][0], utime + stime
}

func TestRealResources(t *testing.T) {
	l := realLayout(t)
	t.Logf("layout: %s", dump(l))
	m := newRealManager(t, l, nil)
	cmd, _, _ := startHelper(t, "wait")
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatalf("Apply(%d): %v", cmd.Process.Pid, err)
	}

	t.Run("memory", func(t *testing.T) {
		dir, v2 := where(t, l, m, "memory")
		r := &specs.LinuxResources{Memory: &specs.LinuxMemory{
			Limit: i64(64 << 20), Reservation: i64(32 << 20),
			//lint:ignore SA1019 deprecated knobs are still sent; they are detected to be ignored
			Kernel: i64(16 << 20), KernelTCP: i64(16 << 20), // gone from the kernel: ignored
		}}
		swapFile := map[bool]string{false: "memory.memsw.limit_in_bytes", true: "memory.swap.max"}[v2]
		hasSwap := exists(dir, swapFile)
		if hasSwap {
			r.Memory.Swap = i64(128 << 20)
		}
		if !v2 {
			r.Memory.Swappiness = u64(0)
			r.Memory.DisableOOMKiller = boolp(true)
		}
		if err := m.Set(r); err != nil {
			t.Fatalf("Set: %v", err)
		}
		if v2 {
			expect(t, dir, "memory.max", "67108864")
			expect(t, dir, "memory.low", "33554432")
			if hasSwap {
				expect(t, dir, "memory.swap.max", "67108864")
			}
		} else {
			expect(t, dir, "memory.limit_in_bytes", "67108864")
			expect(t, dir, "memory.soft_limit_in_bytes", "33554432")
			expect(t, dir, "memory.swappiness", "0")
			if oc := readBack(t, dir, "memory.oom_control"); !strings.Contains(oc, "oom_kill_disable 1") {
				t.Errorf("memory.oom_control = %q", oc)
			}
			if hasSwap {
				expect(t, dir, "memory.memsw.limit_in_bytes", "134217728")
			}
		}
		if !hasSwap {
			t.Logf("no swap accounting here: %s missing", swapFile)
			err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(128 << 20)}})
			if !errdefs.IsNotImplemented(err) {
				t.Errorf("swap without swap accounting: %v", err)
			}
		}
		// A process that allocates 16MiB once inside, then a limit below
		// its usage, with checkBeforeUpdate.
		alloc, stdin, stdout := startHelper(t, "alloc")
		if err := m.Apply(alloc.Process.Pid); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(stdin, "go\n"); err != nil {
			t.Fatal(err)
		}
		if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
			t.Fatalf("alloc helper: %q, %v", line, err)
		}
		s, err := m.Stats()
		if err != nil || s.Memory == nil || s.Memory.Usage < 16<<20 {
			t.Fatalf("memory stats after allocating 16MiB: %+v, %v", s, err)
		}
		err = m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(4 << 20), CheckBeforeUpdate: boolp(true)}})
		if !errdefs.IsInvalidParameter(err) {
			t.Errorf("limit below usage with checkBeforeUpdate: %v", err)
		}
		_ = alloc.Process.Kill()
		// Back to unlimited (memsw along with it on v1).
		if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-1)}}); err != nil {
			t.Errorf("unlimited: %v", err)
		}
	})

	t.Run("cpu", func(t *testing.T) {
		dir, v2 := where(t, l, m, "cpu")
		burst := exists(dir, map[bool]string{false: "cpu.cfs_burst_us", true: "cpu.max.burst"}[v2])
		c := &specs.LinuxCPU{Shares: u64(512), Quota: i64(50000), Period: u64(100000)}
		if burst {
			c.Burst = u64(10000)
		}
		if err := m.Set(&specs.LinuxResources{CPU: c}); err != nil {
			t.Fatalf("Set: %v", err)
		}
		if v2 {
			expect(t, dir, "cpu.weight", "59")
			expect(t, dir, "cpu.max", "50000 100000")
			if burst {
				expect(t, dir, "cpu.max.burst", "10000")
			}
		} else {
			expect(t, dir, "cpu.shares", "512")
			expect(t, dir, "cpu.cfs_quota_us", "50000")
			expect(t, dir, "cpu.cfs_period_us", "100000")
			if burst {
				expect(t, dir, "cpu.cfs_burst_us", "10000")
			}
		}
		// A shorter period with a smaller quota: the burst must shrink
		// first (the kernel keeps burst <= quota), then grow back last.
		shorter := &specs.LinuxCPU{Quota: i64(5000), Period: u64(10000)}
		if burst {
			shorter.Burst = u64(1000)
		}
		if err := m.Set(&specs.LinuxResources{CPU: shorter}); err != nil {
			t.Fatalf("Set shorter period: %v", err)
		}
		if v2 {
			expect(t, dir, "cpu.max", "5000 10000")
		} else {
			expect(t, dir, "cpu.cfs_period_us", "10000")
			expect(t, dir, "cpu.cfs_quota_us", "5000")
		}
		if burst {
			if err := m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(200000), Burst: u64(150000)}}); err != nil {
				t.Fatalf("Set growing burst: %v", err)
			}
			expect(t, dir, map[bool]string{false: "cpu.cfs_burst_us", true: "cpu.max.burst"}[v2], "150000")
		}
		if v2 {
			if err := m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: i64(1000)}}); !errdefs.IsNotImplemented(err) {
				t.Errorf("realtime on v2: %v", err)
			}
		}
	})

	t.Run("cpuset", func(t *testing.T) {
		dir, _ := where(t, l, m, "cpuset")
		if err := m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0", Mems: "0"}}); err != nil {
			t.Fatalf("Set: %v", err)
		}
		expect(t, dir, "cpuset.cpus", "0")
		expect(t, dir, "cpuset.mems", "0")
	})

	t.Run("pids", func(t *testing.T) {
		dir, _ := where(t, l, m, "pids")
		if err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(32)}}); err != nil {
			t.Fatalf("Set: %v", err)
		}
		expect(t, dir, "pids.max", "32")
		if err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(-1)}}); err != nil {
			t.Fatalf("Set: %v", err)
		}
		expect(t, dir, "pids.max", "max")
	})

	t.Run("blkio", func(t *testing.T) {
		ctrl := "blkio"
		if l.V1Hierarchy("blkio") == nil {
			ctrl = "io"
		}
		dir, v2 := where(t, l, m, ctrl)
		err := m.Set(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(200)}})
		switch {
		case err == nil:
			files := map[bool][]string{false: {"blkio.weight", "blkio.bfq.weight"}, true: {"io.bfq.weight", "io.weight"}}[v2]
			got := ""
			for _, f := range files {
				if exists(dir, f) {
					got = readBack(t, dir, f)
					t.Logf("weight through %s: %q", f, got)
					break
				}
			}
			if !strings.HasSuffix(got, "200") && !strings.HasSuffix(got, fmt.Sprint(blkioToIOWeight(200))) {
				t.Errorf("weight read back %q", got)
			}
		case errdefs.IsNotImplemented(err):
			t.Logf("no proportional I/O scheduler (CFQ/BFQ) here; weight refused as expected: %v", err)
		default:
			t.Fatalf("Set weight: %v", err)
		}
		maj, min, ok := rootDisk(t)
		if !ok {
			t.Skip("no whole-disk block device behind / to throttle")
		}
		dev := specs.LinuxBlockIODevice{Major: maj, Minor: min}
		err = m.Set(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
			ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev, Rate: 1 << 20}},
			ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev, Rate: 100}},
		}})
		if err != nil {
			t.Fatalf("Set throttle on %d:%d: %v", maj, min, err)
		}
		d := fmt.Sprintf("%d:%d", maj, min)
		if v2 {
			expect(t, dir, "io.max", d+" rbps=1048576 wbps=max riops=max wiops=100")
		} else {
			expect(t, dir, "blkio.throttle.read_bps_device", d+" 1048576")
			expect(t, dir, "blkio.throttle.write_iops_device", d+" 100")
		}
	})

	t.Run("network", func(t *testing.T) {
		r := &specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: u32(0x100001)}}
		err := m.Set(r)
		if !l.Available("net_cls") || l.V1Hierarchy("net_cls") == nil {
			if !errdefs.IsNotImplemented(err) {
				t.Fatalf("classID without a v1 net_cls: %v, want NotImplemented", err)
			}
			t.Logf("refused as expected: %v", err)
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		expect(t, m.Paths()["net_cls"], "net_cls.classid", "1048577")
	})

	t.Run("unified", func(t *testing.T) {
		if l.Unified == nil {
			if err := m.Set(&specs.LinuxResources{Unified: map[string]string{"pids.max": "5"}}); !errdefs.IsNotImplemented(err) {
				t.Errorf("unified on a v1-only host: %v", err)
			}
			return
		}
		if l.Unified.Has("pids") && l.V1Hierarchy("pids") == nil {
			if err := m.Set(&specs.LinuxResources{Unified: map[string]string{"pids.max": "7"}}); err != nil {
				t.Fatal(err)
			}
			expect(t, m.Paths()[""], "pids.max", "7")
			return
		}
		// Hybrid: keys of a v1 controller are refused before any write.
		if err := m.Set(&specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}}); !errdefs.IsNotImplemented(err) {
			t.Errorf("unified key of a v1 controller: %v", err)
		}
		if err := m.Set(&specs.LinuxResources{Unified: map[string]string{"cgroup.max.descendants": "3"}}); err != nil {
			t.Fatal(err)
		}
		expect(t, m.Paths()[""], "cgroup.max.descendants", "3")
	})

	t.Run("pids and stats", func(t *testing.T) {
		pids, err := m.Pids()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(pids, cmd.Process.Pid) {
			t.Errorf("Pids = %v, want %d among them", pids, cmd.Process.Pid)
		}
		s, err := m.Stats()
		if err != nil {
			t.Fatal(err)
		}
		// Usage may still read 0: pages and CPU time used before the
		// helper joined stay charged to its old cgroup.
		if l.Available("memory") && (s.Memory == nil || len(s.Memory.Stat) == 0 || s.Memory.Limit == 0) {
			t.Errorf("memory stats: %+v", s.Memory)
		}
		if l.Available("pids") && (s.Pids == nil || s.Pids.Current == 0) {
			t.Errorf("pids stats: %+v", s.Pids)
		}
		if s.CPU == nil {
			t.Errorf("no cpu stats")
		}
		if s.Memory != nil {
			t.Logf("memory: usage %d limit %d cache %d rss %d", s.Memory.Usage, s.Memory.Limit, s.Memory.Cache, s.Memory.RSS)
		}
		t.Logf("cpu: usage %dns user %d system %d percpu %v", s.CPU.Usage, s.CPU.User, s.CPU.System, s.CPU.PerCPU)
	})
}

func expect(t *testing.T, dir, file, want string) {
	t.Helper()
	if got := readBack(t, dir, file); got != want {
		t.Errorf("%s/%s = %q, want %q", dir, file, got, want)
	}
}

// rootDisk finds the whole disk behind / (throttling refuses partitions).
func rootDisk(t *testing.T) (int64, int64, bool) {
	var st unix.Stat_t
	if err := unix.Stat("/", &st); err != nil {
		return 0, 0, false
	}
	maj, min := int64(unix.Major(st.Dev)), int64(unix.Minor(st.Dev))
	sys := fmt.Sprintf("/sys/dev/block/%d:%d", maj, min)
	if _, err := os.Stat(sys); err != nil {
		return 0, 0, false // overlay, tmpfs, nfs…
	}
	if _, err := os.Stat(sys + "/partition"); err == nil {
		b, err := os.ReadFile(sys + "/../dev")
		if err != nil {
			return 0, 0, false
		}
		if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "%d:%d", &maj, &min); err != nil {
			return 0, 0, false
		}
	}
	return maj, min, true
}

func TestRealFreeze(t *testing.T) {
	l := realLayout(t)
	m := newRealManager(t, l, nil)
	cmd, _, _ := startHelper(t, "spin")
	pid := cmd.Process.Pid
	if err := m.Apply(pid); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if err := m.Freeze(); err != nil {
		t.Fatalf("Freeze: %v", err)
	}
	if f, err := m.Frozen(); err != nil || !f {
		t.Fatalf("Frozen = %v, %v", f, err)
	}
	state, t0 := procStat(t, pid)
	time.Sleep(300 * time.Millisecond)
	_, t1 := procStat(t, pid)
	t.Logf("frozen: /proc/%d/stat state %c, cpu ticks %d → %d", pid, state, t0, t1)
	if t1 != t0 {
		t.Errorf("a frozen spinning process used CPU: %d → %d ticks", t0, t1)
	}
	if v1Freezer := l.V1Hierarchy("freezer") != nil; v1Freezer && state != 'D' {
		t.Errorf("v1-frozen process in state %c, want D", state)
	}
	if err := m.Thaw(); err != nil {
		t.Fatalf("Thaw: %v", err)
	}
	if f, err := m.Frozen(); err != nil || f {
		t.Fatalf("Frozen after Thaw = %v, %v", f, err)
	}
	time.Sleep(300 * time.Millisecond)
	state, t2 := procStat(t, pid)
	if t2 <= t1 {
		t.Errorf("a thawed spinning process did not run: %d → %d ticks (state %c)", t1, t2, state)
	}
}

func TestRealKillAndDestroy(t *testing.T) {
	l := realLayout(t)
	m := newRealManager(t, l, nil)
	var cmds []*exec.Cmd
	for range 3 {
		cmd, _, _ := startHelper(t, "wait")
		if err := m.Apply(cmd.Process.Pid); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	if err := m.Destroy(); !errdefs.IsConflict(err) {
		t.Errorf("Destroy with processes inside: %v, want Conflict", err)
	}
	k, ok := m.(Killer)
	if !ok {
		t.Logf("%T has no cgroup.kill (no cgroup2 mount); signalling by pid", m)
		pids, _ := m.Pids()
		for _, p := range pids {
			_ = unix.Kill(p, unix.SIGKILL)
		}
	} else if err := k.Kill(); errdefs.IsNotImplemented(err) {
		t.Logf("kernel without cgroup.kill: %v", err)
		pids, _ := m.Pids()
		for _, p := range pids {
			_ = unix.Kill(p, unix.SIGKILL)
		}
	} else if err != nil {
		t.Fatalf("Kill: %v", err)
	}
	for _, cmd := range cmds {
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Errorf("helper %d: %v, want killed by SIGKILL", cmd.Process.Pid, err)
		}
	}
	paths := m.Paths()
	if err := m.Destroy(); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	for k, dir := range paths {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%q: %s still there (%v)", k, dir, err)
		}
	}
	if err := m.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
	if _, err := m.Pids(); !errdefs.IsNotFound(err) {
		t.Errorf("Pids of a destroyed cgroup: %v, want NotFound", err)
	}
	// Load from the saved paths works the same on a gone cgroup.
	again, err := Load(l, paths)
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Destroy(); err != nil {
		t.Errorf("Destroy of a loaded, gone cgroup: %v", err)
	}
}

func TestRealNestedDestroy(t *testing.T) {
	l := realLayout(t)
	m := newRealManager(t, l, nil)
	// A container that made sub-cgroups of its own (systemd inside).
	for _, dir := range m.Paths() {
		if err := os.MkdirAll(filepath.Join(dir, "init.scope/deeper"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Destroy(); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	for _, dir := range m.Paths() {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there", dir)
		}
	}
}

// runOpen starts the open helper in m's cgroup and returns what it reports
// for each path.
func runOpen(t *testing.T, m Manager, paths ...string) map[string]string {
	t.Helper()
	cmd, stdin, stdout := startHelper(t, "open", "BERTH_OPEN="+strings.Join(paths, ","))
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(stdout)
	got := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		if p, res, ok := strings.Cut(line, " "); ok {
			got[p] = res
		}
	}
	return got
}

// devRules allows /dev/null (1:3) and denies everything else, docker-style.
func devRules(allow ...[2]int64) []specs.LinuxDeviceCgroup {
	rules := []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
	for _, d := range allow {
		rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: devn(d[0]), Minor: devn(d[1]), Access: "rwm"})
	}
	return rules
}

// TestRealDevices applies device rules through whatever the host has: v1
// devices.allow/deny where mounted, the eBPF filter otherwise.
func TestRealDevices(t *testing.T) {
	l := realLayout(t)
	m := newRealManager(t, l, nil)
	if err := m.Set(&specs.LinuxResources{Devices: devRules([2]int64{1, 3})}); err != nil {
		t.Fatalf("Set devices: %v", err)
	}
	got := runOpen(t, m, "/dev/null", "/dev/zero")
	if got["/dev/null"] != "ok" || got["/dev/zero"] != "EPERM" {
		t.Errorf("after allowing only /dev/null: %v", got)
	}
	if h := l.V1Hierarchy("devices"); h != nil {
		t.Logf("v1 devices.list: %q", readBack(t, m.Paths()["devices"], "devices.list"))
	}
}

// TestRealDevicesUnified loads and attaches the eBPF filter to a real
// cgroup2 directory, on any host with a cgroup2 mount: device programs
// need no controller, so this runs even on a hybrid host's empty unified
// mount.
func TestRealDevicesUnified(t *testing.T) {
	l := realLayout(t)
	if l.Unified == nil {
		t.Skip("no cgroup2 mount on this host: the device filter is v2 only")
	}
	view := &Layout{Mode: Unified, Unified: l.Unified, HugePageSizes: l.HugePageSizes}
	m := newRealManager(t, view, nil)
	dir := m.Paths()[""]

	if err := m.Set(&specs.LinuxResources{Devices: devRules([2]int64{1, 3})}); err != nil {
		t.Fatalf("Set devices: %v", err)
	}
	got := runOpen(t, m, "/dev/null", "/dev/zero")
	if got["/dev/null"] != "ok" || got["/dev/zero"] != "EPERM" {
		t.Errorf("filter allowing /dev/null only: %v", got)
	}
	if n := countOurPrograms(t, dir); n != 1 {
		t.Errorf("%d Berth device programs attached, want 1", n)
	}

	// An update replaces the program: now /dev/zero only.
	if err := m.Set(&specs.LinuxResources{Devices: devRules([2]int64{1, 5})}); err != nil {
		t.Fatalf("update devices: %v", err)
	}
	got = runOpen(t, m, "/dev/null", "/dev/zero")
	if got["/dev/null"] != "EPERM" || got["/dev/zero"] != "ok" {
		t.Errorf("after the update: %v", got)
	}
	if n := countOurPrograms(t, dir); n != 1 {
		t.Errorf("%d Berth device programs attached after an update, want 1", n)
	}

	// Allow all: no program at all.
	if err := m.Set(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}}); err != nil {
		t.Fatalf("allow all: %v", err)
	}
	if n := countOurPrograms(t, dir); n != 0 {
		t.Errorf("%d programs attached for allow-all, want 0", n)
	}
	got = runOpen(t, m, "/dev/null", "/dev/zero")
	if got["/dev/null"] != "ok" || got["/dev/zero"] != "ok" {
		t.Errorf("allow all: %v", got)
	}
}

// TestRealDeviceProgramErrors: a program the verifier refuses fails with
// the verifier's own words in the error.
func TestRealDeviceProgramErrors(t *testing.T) {
	requireRoot(t)
	// Returns R0 without setting it.
	code, err := assemble([]bpfInsn{exit()})
	if err != nil {
		t.Fatal(err)
	}
	fd, err := loadDeviceProgram(code, deviceProgName)
	if err == nil {
		unix.Close(fd)
		t.Fatal("the verifier took a program that returns an unset R0")
	}
	if !strings.Contains(err.Error(), "verifier log:") || !strings.Contains(err.Error(), "R0 !read_ok") {
		t.Errorf("no verifier log in %q", err)
	}
	if !errdefs.IsForbidden(bpfClass(err)) && !errdefs.IsInvalidParameter(bpfClass(err)) {
		t.Errorf("class %v for %v", bpfClass(err), err)
	}
}

// TestRealDevicesManyAttached: more of our programs attached than the first
// query has room for (a crash between attach and detach could leave some)
// are all found, and an update leaves exactly one.
func TestRealDevicesManyAttached(t *testing.T) {
	l := realLayout(t)
	if l.Unified == nil {
		t.Skip("no cgroup2 mount on this host: the device filter is v2 only")
	}
	view := &Layout{Mode: Unified, Unified: l.Unified, HugePageSizes: l.HugePageSizes}
	m := newRealManager(t, view, nil)
	dir := m.Paths()[""]
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	insns, _ := deviceFilter(devRules([2]int64{1, 3}))
	code, err := assemble(insns)
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	for range n {
		prog, err := loadDeviceProgram(code, deviceProgName)
		if err != nil {
			t.Fatal(err)
		}
		err = attachDeviceProgram(fd, prog, -1)
		unix.Close(prog)
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := countOurPrograms(t, dir); got != n {
		t.Fatalf("%d of our programs found, %d attached", got, n)
	}
	if err := m.Set(&specs.LinuxResources{Devices: devRules([2]int64{1, 5})}); err != nil {
		t.Fatalf("update devices: %v", err)
	}
	if got := countOurPrograms(t, dir); got != 1 {
		t.Errorf("%d of our programs attached after an update, want 1", got)
	}
	got := runOpen(t, m, "/dev/null", "/dev/zero")
	if got["/dev/null"] != "EPERM" || got["/dev/zero"] != "ok" {
		t.Errorf("after the update: %v", got)
	}
}

func countOurPrograms(t *testing.T, dir string) int {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	progs, err := ourDevicePrograms(fd)
	if err != nil {
		t.Fatal(err)
	}
	closeAll(progs)
	return len(progs)
}

func TestRealHugetlb(t *testing.T) {
	l := realLayout(t)
	if len(l.HugePageSizes) == 0 {
		t.Skip("no hugepage sizes in /sys/kernel/mm/hugepages on this host")
	}
	if !l.Available("hugetlb") {
		t.Skipf("no hugetlb controller on this host (%s layout)", l.Mode)
	}
	size := l.HugePageSizes[len(l.HugePageSizes)-1]
	if slices.Contains(l.HugePageSizes, "2MB") {
		size = "2MB"
	}
	r := &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: size, Limit: 0}}}
	// On a hybrid host this enables +hugetlb in the unified root (and any
	// ancestor) and leaves it enabled, as a runtime does: other cgroups
	// may already depend on it.
	m := newRealManager(t, l, r)
	if err := m.Set(r); err != nil {
		t.Fatalf("Set hugetlb: %v", err)
	}
	dir, v2 := where(t, l, m, "hugetlb")
	t.Logf("hugetlb %s through %s (v2: %v)", size, dir, v2)
	limitFile, rsvdFile := "hugetlb."+size+".limit_in_bytes", "hugetlb."+size+".rsvd.limit_in_bytes"
	if v2 {
		limitFile, rsvdFile = "hugetlb."+size+".max", "hugetlb."+size+".rsvd.max"
	}
	expect(t, dir, limitFile, "0")
	if exists(dir, rsvdFile) {
		expect(t, dir, rsvdFile, "0")
	}
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := s.Hugetlb[size]; !ok || h.Limit != 0 {
		t.Errorf("hugetlb stats: %+v", s.Hugetlb)
	}
	if err := m.Set(&specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "3MB"}}}); !errdefs.IsNotImplemented(err) {
		t.Errorf("unknown page size: %v", err)
	}
}

func TestRealCpusetCopiedFromParent(t *testing.T) {
	l := realLayout(t)
	h := l.V1Hierarchy("cpuset")
	if h == nil {
		t.Skip("no v1 cpuset here: v2 cpusets inherit by themselves")
	}
	m := newRealManager(t, l, nil)
	dir := m.Paths()["cpuset"]
	want := readBack(t, filepath.Dir(dir), "cpuset.cpus")
	expect(t, dir, "cpuset.cpus", want)
	cmd, _, _ := startHelper(t, "wait")
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatalf("a task joins the new cpuset: %v", err)
	}
}

// TestRealFreezeUnified drives the cgroup2 core freezer (cgroup.freeze and
// the cgroup.events wait) on a real cgroup2 directory: it needs no
// controller, so it runs on a hybrid host's empty unified mount too.
func TestRealFreezeUnified(t *testing.T) {
	l := realLayout(t)
	if l.Unified == nil {
		t.Skip("no cgroup2 mount on this host")
	}
	view := &Layout{Mode: Unified, Unified: l.Unified, HugePageSizes: l.HugePageSizes}
	m := newRealManager(t, view, nil)
	cmd, _, _ := startHelper(t, "spin")
	pid := cmd.Process.Pid
	if err := m.Apply(pid); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let it spin
	start := time.Now()
	if err := m.Freeze(); err != nil {
		t.Fatalf("Freeze: %v", err)
	}
	t.Logf("froze in %v", time.Since(start))
	if f, err := m.Frozen(); err != nil || !f {
		t.Fatalf("Frozen = %v, %v", f, err)
	}
	state, t0 := procStat(t, pid)
	time.Sleep(300 * time.Millisecond)
	_, t1 := procStat(t, pid)
	t.Logf("frozen: state %c, cpu ticks %d → %d", state, t0, t1)
	if t1 != t0 {
		t.Errorf("a frozen spinning process used CPU: %d → %d ticks", t0, t1)
	}
	if err := m.Thaw(); err != nil {
		t.Fatalf("Thaw: %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	if _, t2 := procStat(t, pid); t2 <= t1 {
		t.Errorf("a thawed process did not run: %d → %d", t1, t2)
	}
}

// BenchmarkRealContainerCgroup measures what a container start and delete
// cost in this package on this host: New, Apply, Set of docker's usual
// resources, Destroy.
func BenchmarkRealContainerCgroup(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Fatal("needs root")
	}
	l, err := DetectLayout()
	if err != nil {
		b.Fatal(err)
	}
	r := &specs.LinuxResources{
		Devices: dockerDefaultDevices(),
		Memory:  &specs.LinuxMemory{Limit: i64(256 << 20)},
		CPU:     &specs.LinuxCPU{Shares: u64(1024)},
		Pids:    &specs.LinuxPids{Limit: i64(1024)},
	}
	for i := 0; b.Loop(); i++ {
		path := fmt.Sprintf("berth-bench-%d-%d", os.Getpid(), i)
		if l.Mode == Unified {
			path = "/" + path
		}
		m, err := New(l, Config{Path: path, Resources: r})
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Apply(-1); err != nil {
			b.Fatal(err)
		}
		if err := m.Set(r); err != nil {
			_ = m.Destroy()
			b.Fatal(err)
		}
		if err := m.Destroy(); err != nil {
			b.Fatal(err)
		}
	}
}
