// Package cgroupstest is the conformance suite of cgroups.Manager: the
// lifecycle every implementation (v1, v2, hybrid) must honour, run against
// a real cgroupfs. It needs root; it starts sleep(1) processes, and kills
// them by pid and removes its cgroups when a test ends, failed or not.
package cgroupstest

import (
	"errors"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"syscall"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/runtime/cgroups"
)

// Factory makes the managers under test.
type Factory struct {
	// New returns a manager for a new cgroup with a name unique to the test.
	New func(t *testing.T, name string) (cgroups.Manager, error)
	// Load reopens a manager from its Paths.
	Load func(paths map[string]string) (cgroups.Manager, error)
}

// Suite runs every conformance test against f.
func Suite(t *testing.T, f Factory) {
	if os.Geteuid() != 0 {
		t.Fatal("the cgroups conformance suite needs root; CI runs as root")
	}
	t.Run("Lifecycle", func(t *testing.T) { testLifecycle(t, f) })
	t.Run("ApplyIsIdempotent", func(t *testing.T) { testApplyTwice(t, f) })
	t.Run("LoadFromPaths", func(t *testing.T) { testLoad(t, f) })
	t.Run("DestroyIsIdempotent", func(t *testing.T) { testDestroyTwice(t, f) })
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// newManager creates the cgroup and removes it at the end of the test.
func newManager(t *testing.T, f Factory) cgroups.Manager {
	t.Helper()
	name := "berth-conf-" + unsafeName.ReplaceAllString(t.Name(), "_") + "-" + strconv.Itoa(os.Getpid())
	m, err := f.New(t, name)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if fr, err := m.Frozen(); err == nil && fr {
			_ = m.Thaw()
		}
		if pids, err := m.Pids(); err == nil {
			for _, p := range pids {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
		}
		if err := m.Destroy(); err != nil {
			t.Errorf("cleanup: Destroy: %v", err)
		}
	})
	if err := m.Apply(-1); err != nil {
		t.Fatalf("Apply(-1): %v", err)
	}
	return m
}

// sleeper starts a process that is killed and reaped when the test ends.
func sleeper(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sleep: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

func testLifecycle(t *testing.T, f Factory) {
	m := newManager(t, f)
	paths := m.Paths()
	if len(paths) == 0 {
		t.Fatal("Paths() is empty")
	}
	for k, dir := range paths {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("Paths()[%q] = %s after Apply: %v", k, dir, err)
		}
	}
	cmd := sleeper(t)
	pid := cmd.Process.Pid
	if err := m.Apply(pid); err != nil {
		t.Fatalf("Apply(%d): %v", pid, err)
	}
	pids, err := m.Pids()
	if err != nil || !slices.Contains(pids, pid) {
		t.Fatalf("Pids = %v, %v; want %d among them", pids, err, pid)
	}

	if err := m.Freeze(); err != nil {
		t.Fatalf("Freeze: %v", err)
	}
	if fr, err := m.Frozen(); err != nil || !fr {
		t.Errorf("Frozen after Freeze = %v, %v", fr, err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatalf("Thaw: %v", err)
	}
	if fr, err := m.Frozen(); err != nil || fr {
		t.Errorf("Frozen after Thaw = %v, %v", fr, err)
	}

	s, err := m.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if s.CPU == nil && s.Memory == nil && s.Pids == nil {
		t.Errorf("Stats has no section at all: %+v", s)
	}

	if err := m.Destroy(); !errdefs.IsConflict(err) {
		t.Errorf("Destroy with a process inside: %v, want Conflict", err)
	}
	if k, ok := m.(cgroups.Killer); ok {
		if err := k.Kill(); err != nil && !errdefs.IsNotImplemented(err) {
			t.Fatalf("Kill: %v", err)
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if err := m.Destroy(); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	for k, dir := range paths {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Paths()[%q] = %s still there after Destroy (%v)", k, dir, err)
		}
	}
}

func testApplyTwice(t *testing.T, f Factory) {
	m := newManager(t, f)
	cmd := sleeper(t)
	for range 2 {
		if err := m.Apply(cmd.Process.Pid); err != nil {
			t.Fatalf("Apply: %v", err)
		}
	}
	if err := m.Apply(-1); err != nil {
		t.Fatalf("Apply(-1) after Apply(pid): %v", err)
	}
}

func testLoad(t *testing.T, f Factory) {
	m := newManager(t, f)
	cmd := sleeper(t)
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	again, err := f.Load(m.Paths())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got, want := again.Paths(), m.Paths(); len(got) != len(want) {
		t.Errorf("Load(Paths()).Paths() = %v, want %v", got, want)
	} else {
		for k, v := range want {
			if got[k] != v {
				t.Errorf("Load(Paths()).Paths()[%q] = %q, want %q", k, got[k], v)
			}
		}
	}
	pids, err := again.Pids()
	if err != nil || !slices.Contains(pids, cmd.Process.Pid) {
		t.Errorf("loaded manager: Pids = %v, %v", pids, err)
	}
}

func testDestroyTwice(t *testing.T, f Factory) {
	m := newManager(t, f)
	for range 2 {
		if err := m.Destroy(); err != nil {
			t.Fatalf("Destroy: %v", err)
		}
	}
	if _, err := m.Pids(); !errdefs.IsNotFound(err) {
		t.Errorf("Pids of a destroyed cgroup: %v, want NotFound", err)
	}
}
