package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

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
// the create comes at normal priority (the shim's warm runtime calls
// LeaveIdle), when the shim is hurried during an ahead create (its hurry
// calls LeaveIdle), and after the create, through IdleFile, which the
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

// makeIdle sets cg idle, unless a hurry came first or this process is not
// in the background.
func makeIdle(cg cgroups.Manager) {
	idleState.mu.Lock()
	defer idleState.mu.Unlock()
	if !idleState.hurried && InBackground() && setCPUIdle(cg, true) == nil {
		idleState.cg = cg
	}
}

// LeaveIdle returns the idle cgroup, if any, to normal priority, now and
// for good in this process.
func LeaveIdle() error {
	idleState.mu.Lock()
	defer idleState.mu.Unlock()
	idleState.hurried = true
	if idleState.cg == nil {
		return nil
	}
	if err := setCPUIdle(idleState.cg, false); err != nil {
		return err
	}
	idleState.cg = nil
	return nil
}

// InBackground reports whether this process's autogroup has a nice value
// above 0 (/proc/self/autogroup: "/autogroup-N nice V").
func InBackground() bool {
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

// adoptIdle keeps the adopted cgroup cg, the idle spare's, idle for a
// container made ahead of need, recording its cpu.idle file in dir
// (IdleFile) for the shim before it looks for a hurry; otherwise it
// returns cg to normal priority.
func adoptIdle(cg cgroups.Manager, spec *specs.Spec, dir string) error {
	idleState.mu.Lock()
	idle := idleState.cg != nil
	if idle {
		idleState.cg = cg
	}
	idleState.mu.Unlock()
	if !idle {
		return nil
	}
	if keepIdle(spec) && recordIdle(cg, dir) == nil && InBackground() {
		idleState.mu.Lock()
		hurried := idleState.hurried
		idleState.mu.Unlock()
		if !hurried {
			return nil
		}
	}
	return LeaveIdle()
}

// recordIdle writes IdleFile: the path of cg's cpu.idle.
func recordIdle(cg cgroups.Manager, dir string) error {
	cpu := cg.Paths()["cpu"]
	if cpu == "" {
		return errors.New("no cpu cgroup")
	}
	return os.WriteFile(filepath.Join(dir, IdleFile), []byte(filepath.Join(cpu, "cpu.idle")), 0o600)
}
