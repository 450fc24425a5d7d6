package runtime

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/runtime/cgroups"
)

// Idle CPU priority for what no client waits for yet. A warm runtime
// waits at background priority (its pooled shim's autogroup, see the
// shim's priority_linux.go), but the autogroup does not reach the spare
// init: the kernel applies autogroups only to tasks in the root cpu
// cgroup, and the spare runs in a cgroup of its own. So the spare's
// cgroup is made idle (cpu.idle) while the warm runtime is in the
// background: the spare's start (a Go program's, some milliseconds of
// CPU) and, for a container made ahead of need, its init's setup then
// give way to every other task at once. Traced back to back, the docker
// CLI's start-up otherwise waited 0.5 ms a run behind the next
// container's init.
//
// The cgroup returns to normal priority as soon as a client waits: when
// the warm runtime's command comes at normal priority (HurrySpare), when
// the shim is hurried during an ahead create (watchHurry, which sees the
// autogroup change), and after the create, through IdleFile, which the
// shim's own hurry reads. The create writes IdleFile before it looks at
// the autogroup, and the shim changes the autogroup before it reads the
// file, so one of the two always resets the cgroup.

// IdleFile, in a container's state directory, names the cpu.idle file of
// a container created at idle priority.
const IdleFile = "cpu-idle"

var idleState struct {
	mu      sync.Mutex
	cg      cgroups.Manager // the idle cgroup, if any
	hurried bool
}

// makeIdle sets cg idle unless a hurry came first, and reports whether
// it did.
func makeIdle(cg cgroups.Manager) bool {
	idleState.mu.Lock()
	defer idleState.mu.Unlock()
	if idleState.hurried || !inBackgroundGroup() || setCPUIdle(cg, true) != nil {
		return false
	}
	idleState.cg = cg
	return true
}

// moveIdle says the idle cgroup is now cg (the spare's, adopted); it
// reports whether cg is idle.
func moveIdle(cg cgroups.Manager) bool {
	idleState.mu.Lock()
	defer idleState.mu.Unlock()
	if idleState.cg == nil {
		return false
	}
	idleState.cg = cg
	return true
}

func hurried() bool {
	idleState.mu.Lock()
	defer idleState.mu.Unlock()
	return idleState.hurried
}

// HurrySpare returns the idle cgroup, if any, to normal priority, now and
// for good in this process.
func HurrySpare() {
	idleState.mu.Lock()
	defer idleState.mu.Unlock()
	idleState.hurried = true
	if idleState.cg != nil && setCPUIdle(idleState.cg, false) == nil {
		idleState.cg = nil
	}
}

// WatchHurry hurries (HurrySpare) once this process's autogroup leaves
// the background, checking every millisecond until stop.
func WatchHurry() (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if !inBackgroundGroup() {
					HurrySpare()
					return
				}
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done) }) }
}

// InBackground reports whether this process's autogroup has a nice value
// above 0 (/proc/self/autogroup: "/autogroup-N nice V").
func InBackground() bool { return inBackgroundGroup() }

func inBackgroundGroup() bool {
	b, err := os.ReadFile("/proc/self/autogroup")
	if err != nil {
		return false
	}
	_, v, ok := strings.Cut(strings.TrimSpace(string(b)), " nice ")
	if !ok {
		return false
	}
	n, err := strconv.Atoi(v)
	return err == nil && n > 0
}

// setCPUIdle sets the cgroup's cpu.idle.
func setCPUIdle(cg cgroups.Manager, idle bool) error {
	v := int64(0)
	if idle {
		v = 1
	}
	return cg.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: &v}})
}

// keepIdle says whether a container created from spec may stay idle
// until hurried: an idle cgroup refuses cpu.shares, and a spec that sets
// cpu.idle itself has the last word.
func keepIdle(spec *specs.Spec) bool {
	if spec.Linux == nil || spec.Linux.Resources == nil || spec.Linux.Resources.CPU == nil {
		return true
	}
	c := spec.Linux.Resources.CPU
	return c.Idle == nil && (c.Shares == nil || *c.Shares == 0)
}

// adoptIdle keeps the adopted cgroup cg idle for a container made ahead
// of need, recording its cpu.idle file in dir (IdleFile) for the shim,
// or returns it to normal priority.
func adoptIdle(cg cgroups.Manager, spec *specs.Spec, dir string) error {
	if !moveIdle(cg) {
		return nil
	}
	if keepIdle(spec) {
		if cpu := cg.Paths()["cpu"]; cpu != "" {
			if err := os.WriteFile(filepath.Join(dir, IdleFile), []byte(filepath.Join(cpu, "cpu.idle")), 0o600); err == nil {
				if inBackgroundGroup() && !hurried() {
					return nil
				}
			}
		}
	}
	HurrySpare()
	idleState.mu.Lock()
	defer idleState.mu.Unlock()
	if idleState.cg != nil {
		return setCPUIdle(cg, false)
	}
	return nil
}
