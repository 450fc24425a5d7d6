package runtime_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestMemoryLimitOOMKill: a process that allocates past
// linux.resources.memory.limit is killed by the kernel's OOM killer in the
// container's cgroup, and one that stays below the limit is not.
func TestMemoryLimitOOMKill(t *testing.T) {
	t.Parallel()
	const limit = 32 << 20
	for _, tc := range []struct {
		name string
		bs   string // dd's buffer: dd allocates it and fills it from /dev/zero
		oom  bool
	}{
		{"over", "100M", true},
		{"under", "8M", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			b := newBundle(t, "dd", "if=/dev/zero", "of=/dev/null", "bs="+tc.bs, "count=1")
			c := e.newContainer(b)
			oomControl := cgroupFile(t, "memory", c.id, "memory.oom_control", "memory.events")
			mem := &specs.LinuxMemory{Limit: int64p(limit)}
			// With swap the process would page out instead of dying:
			// memory+swap gets the same limit where the host accounts
			// swap.
			if swapAccounted(filepath.Dir(filepath.Dir(oomControl))) {
				mem.Swap = int64p(limit)
			}
			b.spec.Linux.Resources.Memory = mem

			r := c.runFG(stdio{}, "--keep")
			if !tc.oom {
				if r.code != 0 {
					t.Fatalf("below the limit: %v", r)
				}
				if n := keyedValue(t, oomControl, "oom_kill"); n != 0 {
					t.Errorf("below the limit: oom_kill is %d", n)
				}
				return
			}
			if r.code != 128+9 {
				t.Errorf("over the limit: want exit 137 (SIGKILL), got %v", r)
			}
			if n := keyedValue(t, oomControl, "oom_kill"); n < 1 {
				t.Errorf("over the limit: %s says oom_kill %d, want at least 1", oomControl, n)
			}
		})
	}
}

// swapAccounted reports whether a cgroup directory can limit swap.
func swapAccounted(dir string) bool {
	for _, f := range []string{"memory.memsw.limit_in_bytes", "memory.swap.max"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return true
		}
	}
	return false
}

// TestPidsLimit: linux.resources.pids.limit stops a fork loop at the limit.
func TestPidsLimit(t *testing.T) {
	t.Parallel()
	const limit = 10
	e := newEnv(t)
	// The loop runs in a subshell: busybox sh exits when fork fails, and
	// the outer shell must live on to report. Nothing after the loop
	// forks, since the sleeps hold every pid the cgroup allows.
	b := newBundle(t, "sh", "-c", `(for i in $(seq 100); do sleep 1000 & done); echo loop-ended; exec sleep 1000`)
	b.spec.Linux.Resources.Pids = &specs.LinuxPids{Limit: int64p(limit)}
	c := e.newContainer(b)
	c.run()
	eventually(t, waitTimeout, func() (bool, string) {
		return strings.Contains(c.output(), "loop-ended"), "the fork loop did not end; output:\n" + c.output()
	})
	out := c.output()
	if !strings.Contains(out, "can't fork") && !strings.Contains(out, "Resource temporarily unavailable") {
		t.Errorf("no fork failed at pids.max %d; output:\n%s", limit, out)
	}
	pidsMax := cgroupFile(t, "pids", c.id, "pids.max", "pids.max")
	if got := strings.TrimSpace(readFile(t, pidsMax)); got != strconv.Itoa(limit) {
		t.Errorf("%s = %s, want %d", pidsMax, got, limit)
	}
	current := filepath.Join(filepath.Dir(pidsMax), "pids.current")
	if n, err := strconv.Atoi(strings.TrimSpace(readFile(t, current))); err != nil || n > limit || n < 2 {
		t.Errorf("%s = %d (%v), want between 2 and %d", current, n, err, limit)
	}
	events := filepath.Join(filepath.Dir(pidsMax), "pids.events")
	if n := keyedValue(t, events, "max"); n < 1 {
		t.Errorf("%s: max %d, want the limit to have been hit", events, n)
	}
}

// TestUpdate: `update` changes the limits of a running container in its
// cgroup.
func TestUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBundle(t, "sleep", "1000")
	c := e.newContainer(b)
	c.run()
	c.waitStatus("running")
	pidsMax := cgroupFile(t, "pids", c.id, "pids.max", "pids.max")
	if got := strings.TrimSpace(readFile(t, pidsMax)); got != "max" {
		t.Fatalf("before update: pids.max = %s, want max", got)
	}

	// Lowered below what the init needed: only the container's process
	// counts now.
	e.mustRT("update", "--pids-limit", "5", c.id)
	if got := strings.TrimSpace(readFile(t, pidsMax)); got != "5" {
		t.Errorf("after update --pids-limit 5: pids.max = %s", got)
	}
	e.mustRT("update", "--pids-limit", "25", c.id)
	if got := strings.TrimSpace(readFile(t, pidsMax)); got != "25" {
		t.Errorf("after update --pids-limit 25: pids.max = %s", got)
	}

	// The JSON form, as runc's --resources takes it.
	resources := filepath.Join(t.TempDir(), "resources.json")
	if err := os.WriteFile(resources, []byte(`{"pids":{"limit":40},"memory":{"limit":67108864}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	e.mustRT("update", "--resources", resources, c.id)
	if got := strings.TrimSpace(readFile(t, pidsMax)); got != "40" {
		t.Errorf("after update --resources: pids.max = %s, want 40", got)
	}
	memLimit := cgroupFile(t, "memory", c.id, "memory.limit_in_bytes", "memory.max")
	if got := strings.TrimSpace(readFile(t, memLimit)); got != "67108864" {
		t.Errorf("after update --resources: %s = %s, want 67108864", memLimit, got)
	}
	if st := c.state(); st.Status != "running" {
		t.Errorf("after update the container is %s", st.Status)
	}
}

// TestPidsLimitBelowInitThreads: a pids limit smaller than the runtime's Go
// init has threads still lets the container start, ten times in a row: the
// init's threads must not count against it (pids_linux.go).
func TestPidsLimitBelowInitThreads(t *testing.T) {
	t.Parallel()
	for _, limit := range []int64{2, 4, 8, 10} {
		t.Run(strconv.FormatInt(limit, 10), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			for range 10 {
				b := newBundle(t, "sh", "-c", "echo ran")
				b.spec.Linux.Resources.Pids = &specs.LinuxPids{Limit: int64p(limit)}
				r := e.newContainer(b).runFG(stdio{})
				if r.code != 0 || r.stdout != "ran\n" {
					firstLine, _, _ := strings.Cut(r.stderr, "\n")
					t.Fatalf("pids.max %d: exit %d: %s", limit, r.code, firstLine)
				}
			}
		})
	}
}
