package shim_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/runtime"
	"github.com/berth-project/berth/internal/runtime/cgroups"
	"github.com/berth-project/berth/internal/shim"
	"github.com/berth-project/berth/internal/testenv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestPool: containers started through a pool run as through Start; the
// pooled shim runs create itself, and no runtime command runs at all for
// them (start and delete are the shim's own too); a config its warm
// runtime cannot serve (another runtime) still works; a failed create
// reports the runtime's error, in the shim and from a runtime wrapped in a
// script (which runs as a command); Close leaves no pooled shim behind.
func TestPool(t *testing.T) {
	rts := runtimes(t)
	berth, runc := rts[0], rts[1]
	root := t.TempDir()
	p, err := shim.NewPool(shim.PoolConfig{ShimBinary: shimBinary(t), Runtime: berth.bin, RuntimeRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			p.Close()
		}
	}()
	run := func(t *testing.T, r rt, runtimePath, runtimeRoot, want string) *container {
		c := newContainer(t, r, "sh", "-c", "echo "+want)
		c.cfg.Runtime, c.cfg.RuntimeRoot = runtimePath, runtimeRoot
		c.writeSpec()
		runPooled(t, p, c)
		if msgs := readLog(t, c.cfg.LogPath); len(msgs) != 1 || string(msgs[0].Line) != want+"\n" {
			t.Fatalf("log: %+v", msgs)
		}
		return c
	}
	for i := range 3 {
		// Give the refill its moment so that each start finds a pooled shim.
		waitForPooled(t, root, 1)
		c := run(t, berth, berth.bin, root, "pooled"+string(rune('a'+i)))
		// A runtime command opens its --log file in the state directory.
		if _, err := os.Stat(filepath.Join(c.cfg.StateDir, "runtime.log")); err == nil {
			t.Errorf("a runtime command ran for a pooled container")
		}
	}

	t.Run("other runtime", func(t *testing.T) {
		waitForPooled(t, root, 1)
		run(t, runc, runc.bin, t.TempDir(), "runc")
	})

	t.Run("failed create", func(t *testing.T) {
		script, log := recordingRuntime(t, berth.bin)
		for _, runtimePath := range []string{berth.bin, script} {
			waitForPooled(t, root, 1)
			c := newContainer(t, berth, "true")
			c.cfg.Runtime, c.cfg.RuntimeRoot = runtimePath, root
			c.spec.Root.Path = "no-such-rootfs"
			c.writeSpec()
			if _, err := p.Start(ctx(t), c.cfg); err == nil || !strings.Contains(err.Error(), "rootfs") {
				t.Fatalf("pool start with a missing rootfs (%s): %v", runtimePath, err)
			}
			p.Refill()
		}
		if !ranCommand(t, log, "create") {
			t.Error("the script around the runtime did not run create")
		}
	})

	waitForPooled(t, root, 1)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	waitForPooled(t, root, 0)
}

// waitForPooled waits until n pooled shims for root wait for a container
// (an assigned shim takes another name).
func waitForPooled(t *testing.T, root string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := len(pooledShims(root))
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pooled shims for %s, want %d", got, root, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pooledShims lists the pids of the pooled shims for root that wait for
// a container.
func pooledShims(root string) []int {
	var pids []int
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range procs {
		data, _ := os.ReadFile(f)
		args := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
		if len(args) < 4 || args[1] != "pool" || args[3] != root {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join(filepath.Dir(f), "comm"))
		if strings.TrimSpace(string(comm)) != "berth-shim-pool" {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(f))); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestPoolBackgroundPriority: a pooled shim waits in an autogroup of the
// lowest priority. Assigned a container, the shim
// returns to normal priority, unless the container is made ahead of need
// (StartAhead): then it keeps it until hurried or first called. The
// container's process, in a session of its own, never has it.
func TestPoolBackgroundPriority(t *testing.T) {
	if _, err := os.Stat("/proc/self/autogroup"); err != nil {
		t.Skip("deliberately skipped: this kernel has no autogroups (CONFIG_SCHED_AUTOGROUP), and pooled shims keep their priority")
	}
	berth := runtimes(t)[0]
	root := t.TempDir()
	p, err := shim.NewPool(shim.PoolConfig{ShimBinary: shimBinary(t), Runtime: berth.bin, RuntimeRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	start := func(t *testing.T, start func(shim.Config) (*shim.Client, error)) (*container, int) {
		t.Helper()
		waitForPooled(t, root, 1)
		waiting := pooledShims(root)
		if nice := autogroupNice(t, waiting[0]); nice != 19 {
			t.Errorf("a waiting pooled shim's autogroup has nice %d, want 19", nice)
		}
		c := newContainer(t, berth, "cat", "/proc/self/autogroup")
		c.cfg.RuntimeRoot = root
		c.writeSpec()
		cl, err := start(c.cfg)
		if err != nil {
			t.Fatalf("pool start: %v", err)
		}
		c.client = cl
		p.Refill()
		data, err := readShimPid(c.cfg.StateDir)
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil {
			t.Fatalf("shim.pid: %q", data)
		}
		return c, pid
	}
	run := func(t *testing.T, c *container) {
		t.Helper()
		if _, err := c.client.Start(ctx(t)); err != nil {
			t.Fatal(err)
		}
		if exit, err := c.client.Wait(ctx(t)); err != nil || exit.Code != 0 {
			t.Fatalf("wait: %+v %v", exit, err)
		}
		msgs := readLog(t, c.cfg.LogPath)
		if len(msgs) != 1 || !strings.HasSuffix(string(msgs[0].Line), " nice 0\n") {
			t.Errorf("the container's autogroup: %+v", msgs)
		}
	}

	t.Run("start", func(t *testing.T) {
		c, pid := start(t, func(cfg shim.Config) (*shim.Client, error) { return p.Start(ctx(t), cfg) })
		if nice := autogroupNice(t, pid); nice != 0 {
			t.Errorf("an assigned shim's autogroup has nice %d, want 0", nice)
		}
		run(t, c)
	})
	t.Run("ahead", func(t *testing.T) {
		c, pid := start(t, func(cfg shim.Config) (*shim.Client, error) {
			return p.StartAhead(ctx(t), cfg, make(chan struct{}))
		})
		if nice := autogroupNice(t, pid); nice != 19 {
			t.Errorf("the shim of a container made ahead has nice %d before any call, want 19", nice)
		}
		if _, err := c.client.State(ctx(t)); err != nil {
			t.Fatal(err)
		}
		if nice := autogroupNice(t, pid); nice != 0 {
			t.Errorf("the shim of a container made ahead has nice %d after a call, want 0", nice)
		}
		run(t, c)
	})
	t.Run("hurried", func(t *testing.T) {
		hurry := make(chan struct{})
		close(hurry)
		c, pid := start(t, func(cfg shim.Config) (*shim.Client, error) { return p.StartAhead(ctx(t), cfg, hurry) })
		if nice := autogroupNice(t, pid); nice != 0 {
			t.Errorf("a hurried shim has nice %d, want 0", nice)
		}
		run(t, c)
	})
}

// autogroupNice reads the nice value of pid's autogroup from
// /proc/PID/autogroup ("/autogroup-N nice V").
func autogroupNice(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/autogroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	var name string
	var nice int
	if _, err := fmt.Sscanf(string(data), "%s nice %d", &name, &nice); err != nil {
		t.Fatalf("/proc/%d/autogroup: %q: %v", pid, data, err)
	}
	return nice
}

// TestPoolSpareInit: with a cgroup parent, each pooled shim keeps a spare
// init there, which a fitting container's create adopts:
// the container runs in its own cgroup v1 directories (renamed from the
// spare's) and namespaces, with its stdio, and a container that does not
// fit (a new network namespace) gets an init of its own. Closing the pool
// leaves no spare init and no spare cgroup behind.
func TestPoolSpareInit(t *testing.T) {
	berth := runtimes(t)[0]
	layout, err := cgroups.DetectLayout()
	if err != nil {
		t.Fatal(err)
	}
	if layout.Mode == cgroups.Unified {
		t.Log("a cgroup2 host has no spare inits (no cgroup rename): only the plain create is checked")
	}
	root := t.TempDir()
	parent := "/berth-shim-test-" + testenv.UniqueName(t, "spare")
	p, err := shim.NewPool(shim.PoolConfig{ShimBinary: shimBinary(t), Runtime: berth.bin, RuntimeRoot: root, CgroupParent: parent})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			p.Close()
		}
		for _, h := range layout.V1 {
			os.Remove(filepath.Join(h.Mountpoint, parent))
		}
		if layout.Unified != nil {
			os.Remove(filepath.Join(layout.Unified.Mountpoint, parent))
		}
	}()
	run := func(t *testing.T, newNetNS bool) string {
		c := newContainer(t, berth, "sh", "-c", "cat /proc/self/cgroup; readlink /proc/1/ns/net; echo pid $$")
		c.cfg.RuntimeRoot = root
		fitSpare(c, parent, newNetNS)
		waitForPooled(t, root, 1)
		runPooled(t, p, c)
		var out strings.Builder
		for _, m := range readLog(t, c.cfg.LogPath) {
			out.Write(m.Line)
		}
		got := out.String()
		if !strings.Contains(got, "pid 1\n") {
			t.Errorf("the process is not pid 1 of its namespace:\n%s", got)
		}
		if layout.Mode != cgroups.Unified && !strings.Contains(got, ":memory:"+parent+"/"+c.cfg.ID+"\n") {
			t.Errorf("not in the container's memory cgroup %s/%s:\n%s", parent, c.cfg.ID, got)
		}
		return got
	}
	t.Run("fits", func(t *testing.T) {
		got := run(t, false)
		hostNet, _ := os.Readlink("/proc/self/ns/net")
		if !strings.Contains(got, hostNet) {
			t.Errorf("the container without a network namespace is not in the host's (%s):\n%s", hostNet, got)
		}
		if layout.Mode == cgroups.Hybrid && !strings.Contains(got, "0::"+parent+"/"+runtime.SparePrefix) {
			t.Errorf("the container did not get the spare init (its cgroup2 directory keeps the spare's name):\n%s", got)
		}
	})
	t.Run("does not fit", func(t *testing.T) {
		got := run(t, true)
		if strings.Contains(got, parent+"/"+runtime.SparePrefix) {
			t.Errorf("a container with a new network namespace got the spare init:\n%s", got)
		}
	})
	waitForPooled(t, root, 1)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	waitForPooled(t, root, 0)
	for _, h := range layout.V1 {
		if left, _ := filepath.Glob(filepath.Join(h.Mountpoint, parent, runtime.SparePrefix+"*")); len(left) > 0 {
			t.Errorf("spare cgroups left: %v", left)
		}
	}
}

// fitSpare puts c's cgroup under parent and gives it docker's namespaces
// on a cgroup v1 host (the host's cgroup namespace), with the host's
// network namespace unless newNetNS, and writes its spec: a spare init
// under parent fits it unless newNetNS.
func fitSpare(c *container, parent string, newNetNS bool) {
	c.spec.Linux.CgroupsPath = parent + "/" + c.cfg.ID
	var nss []specs.LinuxNamespace
	for _, ns := range c.spec.Linux.Namespaces {
		if ns.Type != specs.CgroupNamespace && (ns.Type != specs.NetworkNamespace || newNetNS) {
			nss = append(nss, ns)
		}
	}
	c.spec.Linux.Namespaces = nss
	c.writeSpec()
}

// runPooled runs c through a pooled shim, refills the pool once c runs,
// and waits for c to exit 0.
func runPooled(t *testing.T, p *shim.Pool, c *container) {
	t.Helper()
	cl, err := p.Start(ctx(t), c.cfg)
	if err != nil {
		t.Fatalf("pool start: %v", err)
	}
	c.client = cl
	if _, err := cl.Start(ctx(t)); err != nil {
		t.Fatal(err)
	}
	p.Refill()
	if exit, err := cl.Wait(ctx(t)); err != nil || exit.Code != 0 {
		t.Fatalf("wait: %+v %v", exit, err)
	}
}

// TestPoolSpareIdle: a waiting pool's spare init has an idle cgroup
// (cpu.idle 1), and so has a container made ahead of need until its shim
// is hurried or called; a container a client waits for never has.
func TestPoolSpareIdle(t *testing.T) {
	if _, err := os.Stat("/proc/self/autogroup"); err != nil {
		t.Skip("deliberately skipped: this kernel has no autogroups (CONFIG_SCHED_AUTOGROUP), and pooled shims keep their priority")
	}
	berth := runtimes(t)[0]
	layout, err := cgroups.DetectLayout()
	if err != nil {
		t.Fatal(err)
	}
	var cpu string
	for _, h := range layout.V1 {
		if h.Has("cpu") {
			cpu = h.Mountpoint
		}
	}
	if layout.Mode == cgroups.Unified || cpu == "" {
		t.Skip("deliberately skipped: spare inits need cgroup v1 directories (a rename), and this host's cpu controller is not on one")
	}
	root := t.TempDir()
	parent := "/berth-shim-test-" + testenv.UniqueName(t, "idle")
	p, err := shim.NewPool(shim.PoolConfig{ShimBinary: shimBinary(t), Runtime: berth.bin, RuntimeRoot: root, CgroupParent: parent})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		p.Close()
		waitForPooled(t, root, 0)
		for _, h := range layout.V1 {
			os.Remove(filepath.Join(h.Mountpoint, parent))
		}
		if layout.Unified != nil {
			os.Remove(filepath.Join(layout.Unified.Mountpoint, parent))
		}
	}()
	idle := func(t *testing.T, dir string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, "cpu.idle"))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	spareIdle := func(t *testing.T) {
		t.Helper()
		waitForPooled(t, root, 1)
		deadline := time.Now().Add(10 * time.Second)
		for {
			spares, _ := filepath.Glob(filepath.Join(cpu, parent, runtime.SparePrefix+"*"))
			if len(spares) == 1 {
				if got := idle(t, spares[0]); got != "1" {
					t.Errorf("a waiting spare's cpu.idle is %s, want 1", got)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no spare cgroup under %s: %v", filepath.Join(cpu, parent), spares)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// check starts a fitting container with start, then checks its
	// cgroup's cpu.idle (want), and after a call (0); it runs it to its
	// end.
	check := func(t *testing.T, start func(shim.Config) (*shim.Client, error), want string) {
		t.Helper()
		spareIdle(t)
		c := newContainer(t, berth, "true")
		c.cfg.RuntimeRoot = root
		fitSpare(c, parent, false)
		cl, err := start(c.cfg)
		if err != nil {
			t.Fatalf("pool start: %v", err)
		}
		c.client = cl
		p.Refill()
		dir := filepath.Join(cpu, parent, c.cfg.ID)
		if got := idle(t, dir); got != want {
			t.Errorf("the created container's cpu.idle is %s, want %s", got, want)
		}
		if _, err := cl.State(ctx(t)); err != nil {
			t.Fatal(err)
		}
		if got := idle(t, dir); got != "0" {
			t.Errorf("after a call, the container's cpu.idle is %s, want 0", got)
		}
		if _, err := cl.Start(ctx(t)); err != nil {
			t.Fatal(err)
		}
		if exit, err := cl.Wait(ctx(t)); err != nil || exit.Code != 0 {
			t.Fatalf("wait: %+v %v", exit, err)
		}
	}
	t.Run("start", func(t *testing.T) {
		check(t, func(cfg shim.Config) (*shim.Client, error) { return p.Start(ctx(t), cfg) }, "0")
	})
	t.Run("ahead", func(t *testing.T) {
		check(t, func(cfg shim.Config) (*shim.Client, error) {
			return p.StartAhead(ctx(t), cfg, make(chan struct{}))
		}, "1")
	})
	t.Run("hurried", func(t *testing.T) {
		hurry := make(chan struct{})
		close(hurry)
		check(t, func(cfg shim.Config) (*shim.Client, error) { return p.StartAhead(ctx(t), cfg, hurry) }, "0")
	})
}
