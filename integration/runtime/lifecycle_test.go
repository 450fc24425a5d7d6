package runtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testenv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"golang.org/x/sys/unix"
)

// TestLifecycle walks create → start → kill → delete, checking `state` at
// each step and that the process runs only after start.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBundle(t, "sh", "-c", "touch /started; exec sleep 1000")
	b.spec.Annotations = map[string]string{"org.example.test": "lifecycle"}
	c := e.newContainer(b)
	c.create()

	st := c.state()
	if st.Status != "created" || st.ID != c.id || st.Bundle != b.dir || st.Pid != c.pid {
		t.Errorf("after create: state %+v", st)
	}
	if st.Annotations["org.example.test"] != "lifecycle" {
		t.Errorf("state lost the annotations: %v", st.Annotations)
	}
	if st.OCIVersion != specs.Version {
		t.Errorf("state ociVersion %q, want %q", st.OCIVersion, specs.Version)
	}
	if err := unix.Kill(c.pid, 0); err != nil {
		t.Errorf("the created container's init (pid %d) is not alive: %v", c.pid, err)
	}
	if _, err := os.Stat(b.path("started")); err == nil {
		t.Fatal("the process ran before start: /started exists")
	}

	c.start()
	if st := c.state(); st.Status != "running" || st.Pid != c.pid {
		t.Errorf("after start: state %+v", st)
	}
	eventually(t, waitTimeout, func() (bool, string) {
		_, err := os.Stat(b.path("started"))
		return err == nil, "the process never wrote /started"
	})

	// Delete refuses a running container without --force.
	if r := e.rt("delete", c.id); r.code == 0 || !strings.Contains(r.stderr, "running") {
		t.Errorf("delete of a running container: %v", r)
	}
	e.mustRT("kill", c.id, "KILL")
	if ws := c.wait(); !ws.Signaled() || ws.Signal() != unix.SIGKILL {
		t.Errorf("after kill KILL the init ended with %v", ws)
	}
	if st := c.waitStatus("stopped"); st.Pid != 0 {
		t.Errorf("a stopped container reports pid %d", st.Pid)
	}

	e.mustRT("delete", c.id)
	r := e.rt("state", c.id)
	if r.code == 0 || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("state after delete: %v", r)
	}
	assertNoTraces(t, e, c.id, b)
}

// TestKillSignal: kill delivers the named signal to the init, whose
// handler sees it.
func TestKillSignal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// pid 1 of a namespace only gets signals it handles.
	b := newBundle(t, "sh", "-c", `trap "echo got-usr1; exit 7" USR1; echo ready > /ready; while :; do sleep 0.05; done`)
	c := e.newContainer(b)
	c.run()
	eventually(t, waitTimeout, func() (bool, string) {
		_, err := os.Stat(b.path("ready"))
		return err == nil, "the trap was never set"
	})
	e.mustRT("kill", c.id, "USR1")
	if ws := c.wait(); ws.ExitStatus() != 7 {
		t.Errorf("after kill USR1 the init ended with %v; output:\n%s", ws, c.output())
	}
	if !strings.Contains(c.output(), "got-usr1") {
		t.Errorf("the handler did not run; output:\n%s", c.output())
	}
}

// TestKillCreated: a terminating signal ends a created container's init
// (a pid namespace's init, which the kernel shields from signals it has
// no handler for) with the status the signal would give its process, and
// the process never runs.
func TestKillCreated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBundle(t, "sh", "-c", "touch /started")
	c := e.newContainer(b)
	c.create()
	e.mustRT("kill", c.id, "TERM")
	if ws := c.wait(); ws.ExitStatus() != 128+int(unix.SIGTERM) {
		t.Errorf("after kill TERM the created init ended with %v, want exit status %d", ws, 128+int(unix.SIGTERM))
	}
	c.waitStatus("stopped")
	if _, err := os.Stat(b.path("started")); err == nil {
		t.Error("the process ran: /started exists")
	}
}

// TestHooks: every kind of hook runs once, in the spec's order, with the
// container's state on stdin.
func TestHooks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBundle(t, "sleep", "1000")
	// Hooks in the runtime's namespaces see the host; startContainer runs
	// in the container after pivot_root, where only the rootfs is. Each
	// appends its name to one log and saves its stdin.
	hostHook := func(name string) specs.Hook {
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c",
			fmt.Sprintf("cat > %[1]s/%[2]s.json && echo %[2]s >> %[1]s/hooks.log", b.rootfs, name)},
			Env: []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}}
	}
	b.spec.Hooks = &specs.Hooks{
		//lint:ignore SA1019 deprecated in the spec, but runtimes must still run prestart hooks
		Prestart:        []specs.Hook{hostHook("prestart")},
		CreateRuntime:   []specs.Hook{hostHook("createRuntime")},
		CreateContainer: []specs.Hook{hostHook("createContainer")},
		StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c",
			"cat > /startContainer.json && echo startContainer >> /hooks.log"}, Env: []string{"PATH=/bin"}}},
		Poststart: []specs.Hook{hostHook("poststart")},
		Poststop:  []specs.Hook{hostHook("poststop")},
	}
	c := e.newContainer(b)
	c.create()
	if got := hookLog(t, b); strings.Join(got, " ") != "prestart createRuntime createContainer" {
		t.Errorf("after create the hooks run were %v", got)
	}
	c.start()
	if got := hookLog(t, b); strings.Join(got, " ") != "prestart createRuntime createContainer startContainer poststart" {
		t.Errorf("after start the hooks run were %v", got)
	}
	pid := c.pid
	e.mustRT("kill", c.id, "KILL")
	c.wait()
	e.mustRT("delete", c.id)
	want := []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}
	if got := hookLog(t, b); !slices.Equal(got, want) {
		t.Fatalf("hooks ran as %v, want each once in the order %v", got, want)
	}

	// The spec's lifecycle: the first three see the container being
	// created (runtimes say creating or created), startContainer sees it
	// created, poststart running and poststop stopped.
	wantStatus := map[string][]specs.ContainerState{
		"prestart":        {specs.StateCreating, specs.StateCreated},
		"createRuntime":   {specs.StateCreating, specs.StateCreated},
		"createContainer": {specs.StateCreating, specs.StateCreated},
		"startContainer":  {specs.StateCreated},
		"poststart":       {specs.StateRunning},
		"poststop":        {specs.StateStopped},
	}
	for _, name := range want {
		var st specs.State
		data := readFile(t, b.path(name+".json"))
		if err := json.Unmarshal([]byte(data), &st); err != nil {
			t.Errorf("%s hook: stdin is not state JSON: %v\n%s", name, err, data)
			continue
		}
		if st.ID != c.id || st.Bundle != b.dir || st.Version == "" {
			t.Errorf("%s hook: state %+v, want id %s and bundle %s", name, st, c.id, b.dir)
		}
		if !slices.Contains(wantStatus[name], st.Status) {
			t.Errorf("%s hook: status %q, want one of %v", name, st.Status, wantStatus[name])
		}
		// The init's pid, as the host sees it; poststop may leave it out.
		if name != "poststop" && st.Pid != pid || name == "poststop" && st.Pid != pid && st.Pid != 0 {
			t.Errorf("%s hook: pid %d, want %d", name, st.Pid, pid)
		}
	}
}

func hookLog(t *testing.T, b *bundle) []string {
	t.Helper()
	data, err := os.ReadFile(b.path("hooks.log"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(data))
}

// TestFailingPrestartHook: a prestart hook that fails makes create fail
// with the hook's output, and leaves nothing behind.
func TestFailingPrestartHook(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBundle(t, "true")
	//lint:ignore SA1019 deprecated in the spec, but runtimes must still run prestart hooks
	b.spec.Hooks = &specs.Hooks{Prestart: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo hook-says-no >&2; exit 3"}}}}
	c := e.newContainer(b)
	r := c.createWith(stdio{})
	if r.code == 0 {
		t.Fatal("create succeeded although the prestart hook failed")
	}
	if !strings.Contains(r.stderr, "prestart") || !strings.Contains(r.stderr, "hook-says-no") {
		t.Errorf("create's error does not name the failing hook and its output:\n%s", r.stderr)
	}
	assertNoTraces(t, e, c.id, b)
}

// TestHookTimeout: a hook that outlives its timeout is killed and create
// fails soon after the timeout.
func TestHookTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBundle(t, "true")
	timeout := 1
	b.spec.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sleep", Args: []string{"sleep", "60"}, Timeout: &timeout}}}
	c := e.newContainer(b)
	begin := time.Now()
	r := c.createWith(stdio{})
	took := time.Since(begin)
	if r.code == 0 {
		t.Fatal("create succeeded although its hook timed out")
	}
	if !strings.Contains(r.stderr, "timed out") {
		t.Errorf("create's error does not say the hook timed out:\n%s", r.stderr)
	}
	if took < time.Second || took > 10*time.Second {
		t.Errorf("create took %s with a hook timeout of 1s", took)
	}
	assertNoTraces(t, e, c.id, b)
}

// TestPidFile: --pid-file holds the init's host pid.
func TestPidFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.newContainer(newBundle(t, "sleep", "1000"))
	pidFile := filepath.Join(t.TempDir(), "init.pid")
	c.create("--pid-file", pidFile)
	if got := strings.TrimSpace(readFile(t, pidFile)); got != strconv.Itoa(c.pid) {
		t.Errorf("pid file holds %q, state says %d", got, c.pid)
	}
}

// TestPreserveFDs: --preserve-fds 1 passes the runtime's fd 3 (a pipe) to
// the process, and no fd past it.
func TestPreserveFDs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	other, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	const msg = "through-fd-3"
	if _, err := w.WriteString(msg + "\n"); err != nil {
		t.Fatal(err)
	}
	w.Close() // the process sees EOF after the message

	// ls lists the shell's fds; "exit" keeps sh from exec'ing ls as its
	// last command, which would list ls's own directory fd.
	b := newBundle(t, "sh", "-c", "cat <&3; ls /proc/$$/fd; exit 0")
	c := e.newContainer(b)
	// fd 3 is the pipe, fd 4 /dev/null: only the first is to be passed.
	res := c.runFG(stdio{extra: []*os.File{r, other}}, "--preserve-fds", "1")
	if res.code != 0 {
		t.Fatalf("%v", res)
	}
	if got, want := strings.Fields(res.stdout), []string{msg, "0", "1", "2", "3"}; !slices.Equal(got, want) {
		t.Errorf("the process read and listed %q, want %q", got, want)
	}
}

// TestRunExitCode: run exits with the process's exit code, and with 128+n
// when a signal kills it; the container is gone afterwards.
func TestRunExitCode(t *testing.T) {
	t.Parallel()
	t.Run("exit", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		c := e.newContainer(newBundle(t, "sh", "-c", "echo bye; exit 3"))
		r := c.runFG(stdio{})
		if r.code != 3 || r.stdout != "bye\n" {
			t.Errorf("want exit 3 after bye, got %v", r)
		}
		if r := e.rt("state", c.id); r.code == 0 {
			t.Errorf("run without --keep left the container: %v", r)
		}
	})
	t.Run("killed", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		b := newBundle(t, "sleep", "1000")
		b.write(t)
		// Killed as soon as state says running, which it does from the
		// moment start takes the container out of "created": a few
		// rounds hit the window before the init has exec'd.
		for range 8 {
			c := e.newContainer(b)
			ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
			t.Cleanup(cancel)
			cmd := e.command(ctx, "run", "--bundle", b.dir, c.id)
			cmd.Stdout, cmd.Stderr = tempFile(t, "out"), tempFile(t, "err")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(waitTimeout)
			for {
				r := e.rt("state", c.id)
				if r.code == 0 && strings.Contains(r.stdout, `"running"`) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the container never ran: %v", r)
				}
			}
			e.mustRT("kill", c.id, "KILL")
			res := finish(t, []string{"run"}, cmd.Wait(), "", readFile(t, cmd.Stderr.(*os.File).Name()))
			if res.code != 128+9 {
				t.Errorf("want exit 137 for a container killed with SIGKILL, got %v", res)
			}
			if r := e.rt("state", c.id); r.code == 0 {
				t.Errorf("run without --keep left the container: %v", r)
			}
		}
	})
}

// TestListPsPauseResume: list and ps show a running container; pause
// freezes it (its counter stops) and resume thaws it.
func TestListPsPauseResume(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBundle(t, "sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /counter.tmp; mv /counter.tmp /counter; sleep 0.01; done")
	c := e.newContainer(b)
	c.run()
	counter := func() int {
		data, _ := os.ReadFile(b.path("counter"))
		n, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		return n
	}
	advances := func() {
		t.Helper()
		start := counter()
		eventually(t, waitTimeout, func() (bool, string) {
			return counter() > start+2, fmt.Sprintf("the counter is stuck at %d", counter())
		})
	}
	advances()

	var list []ctrState
	if err := json.Unmarshal([]byte(e.mustRT("list", "--format", "json").stdout), &list); err != nil {
		t.Fatalf("list --format json: %v", err)
	}
	if len(list) != 1 || list[0].ID != c.id || list[0].Status != "running" || list[0].Pid != c.pid {
		t.Errorf("list: %+v, want only %s running as pid %d", list, c.id, c.pid)
	}
	if q := e.mustRT("list", "-q").stdout; q != c.id+"\n" {
		t.Errorf("list -q: %q", q)
	}
	var pids []int
	if err := json.Unmarshal([]byte(e.mustRT("ps", "--format", "json", c.id).stdout), &pids); err != nil {
		t.Fatalf("ps --format json: %v", err)
	}
	if !slices.Contains(pids, c.pid) {
		t.Errorf("ps: %v lacks the init %d", pids, c.pid)
	}

	if table := e.mustRT("ps", c.id).stdout; !strings.Contains(table, "PID") || !strings.Contains(table, " "+strconv.Itoa(c.pid)+" ") {
		t.Errorf("ps (table) lacks the header or the init %d:\n%s", c.pid, table)
	}

	e.mustRT("pause", c.id)
	if st := c.state(); st.Status != "paused" {
		t.Errorf("after pause: %s", st.Status)
	}
	if r := c.exec(stdio{}, nil, "true"); r.code == 0 || !strings.Contains(r.stderr, "paused") {
		t.Errorf("exec into a paused container: %v", r)
	}
	frozen := counter()
	// A frozen process cannot be shown to be stuck by an event; give it
	// time to move (it ticks every 10ms) and see that it did not.
	time.Sleep(300 * time.Millisecond)
	if now := counter(); now != frozen {
		t.Errorf("the paused container's counter went from %d to %d", frozen, now)
	}
	if r := e.rt("pause", c.id); r.code == 0 {
		t.Errorf("pause of a paused container succeeded: %v", r)
	}

	e.mustRT("resume", c.id)
	if st := c.state(); st.Status != "running" {
		t.Errorf("after resume: %s", st.Status)
	}
	advances()
	if r := e.rt("resume", c.id); r.code == 0 {
		t.Errorf("resume of a running container succeeded: %v", r)
	}
}

// TestFeatures: `features` prints JSON a caller can rely on.
func TestFeatures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	out := e.mustRT("features").stdout
	var f features.Features
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("features: %v\n%s", err, out)
	}
	if f.OCIVersionMin == "" || f.OCIVersionMax != specs.Version {
		t.Errorf("features: ociVersionMin %q, ociVersionMax %q (want %s)", f.OCIVersionMin, f.OCIVersionMax, specs.Version)
	}
	for _, h := range []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"} {
		if !slices.Contains(f.Hooks, h) {
			t.Errorf("features: hooks %v lack %s", f.Hooks, h)
		}
	}
	if f.Linux == nil {
		t.Fatal("features: no linux section")
	}
	for _, ns := range []string{"pid", "network", "ipc", "uts", "mount", "user", "cgroup"} {
		if !slices.Contains(f.Linux.Namespaces, ns) {
			t.Errorf("features: namespaces %v lack %s", f.Linux.Namespaces, ns)
		}
	}
	if !slices.Contains(f.Linux.Capabilities, "CAP_CHOWN") || !slices.Contains(f.MountOptions, "ro") {
		t.Errorf("features: capabilities %v / mount options %v look wrong", f.Linux.Capabilities, f.MountOptions)
	}
	if f.Linux.Seccomp == nil || f.Linux.Seccomp.Enabled == nil || !*f.Linux.Seccomp.Enabled ||
		!slices.Contains(f.Linux.Seccomp.Actions, "SCMP_ACT_ERRNO") {
		t.Errorf("features: seccomp %+v", f.Linux.Seccomp)
	}
}

// TestSpec: `spec` writes a valid config.json that runs as it is (once a
// terminal is not needed), and refuses to overwrite one.
func TestSpec(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rootfs := testenv.BusyboxRootfs(t)
	dir := filepath.Dir(rootfs)
	e.mustRT("spec", "--bundle", dir)
	data := readFile(t, filepath.Join(dir, "config.json"))
	var s specs.Spec
	dec := json.NewDecoder(strings.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("spec wrote invalid JSON: %v\n%s", err, data)
	}
	if s.Version != specs.Version || s.Root == nil || s.Root.Path != "rootfs" || s.Process == nil ||
		len(s.Process.Args) == 0 || s.Linux == nil || len(s.Linux.Namespaces) == 0 {
		t.Errorf("spec wrote an incomplete config:\n%s", data)
	}
	if r := e.rt("spec", "--bundle", dir); r.code == 0 || !strings.Contains(r.stderr, "exists") {
		t.Errorf("spec over an existing config.json: %v", r)
	}

	// Run it, changing only what a test cannot give (a terminal) and the
	// command.
	b := &bundle{dir: dir, rootfs: rootfs, spec: &s}
	s.Process.Terminal = false
	s.Process.Args = []string{"sh", "-c", "echo spec-runs; touch / 2>/dev/null || echo root-readonly"}
	c := e.newContainer(b)
	r := c.runFG(stdio{})
	if r.code != 0 || r.stdout != "spec-runs\nroot-readonly\n" {
		t.Errorf("the default config does not run as expected: %v", r)
	}
}

// TestRunDetach: run -d returns once the process runs, leaving the
// container to the caller.
func TestRunDetach(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBundle(t, "sh", "-c", "echo detached-output; exec sleep 1000")
	c := e.newContainer(b)
	out := tempFile(t, "out")
	if r := c.runFG(stdio{stdout: out}, "--detach"); r.code != 0 {
		t.Fatalf("%v", r)
	}
	var st ctrState
	if err := json.Unmarshal([]byte(e.mustRT("state", c.id).stdout), &st); err != nil {
		t.Fatal(err)
	}
	if st.Status != "running" || st.Pid <= 0 {
		t.Fatalf("after run -d: %+v", st)
	}
	eventually(t, waitTimeout, func() (bool, string) {
		return readFile(t, out.Name()) == "detached-output\n", "the detached process's output did not reach run's stdout"
	})
	e.mustRT("kill", c.id, "KILL")
	c.waitStatus("stopped")
	e.mustRT("delete", c.id)
	assertNoTraces(t, e, c.id, b)
}

// TestNoPivot: --no-pivot (MS_MOVE and chroot) gives the same root.
func TestNoPivot(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBundle(t, "sh", "-c", "touch /through-no-pivot && ls /")
	c := e.newContainer(b)
	r := c.runFG(stdio{}, "--no-pivot")
	if r.code != 0 || !strings.Contains(r.stdout, "through-no-pivot") || !strings.Contains(r.stdout, "bin") {
		t.Fatalf("run --no-pivot: %v", r)
	}
	if _, err := os.Stat(b.path("through-no-pivot")); err != nil {
		t.Errorf("the process's / is not the rootfs: %v", err)
	}
}

// TestDeleteForcePaused: delete --force takes a paused container down
// (its frozen processes must be thawed to die) and leaves nothing behind.
func TestDeleteForcePaused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBundle(t, "sh", "-c", "sleep 1000 & sleep 1000 & exec sleep 1000")
	c := e.newContainer(b)
	c.run()
	c.waitStatus("running")
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	if r := c.exec(stdio{}, []string{"-d", "--pid-file", pidFile}, "sleep", "1000"); r.code != 0 {
		t.Fatalf("%v", r)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(readFile(t, pidFile)))
	if err != nil {
		t.Fatal(err)
	}
	c.track(pid)
	e.mustRT("pause", c.id)
	c.waitStatus("paused")
	if r := e.rt("delete", c.id); r.code == 0 {
		t.Fatalf("delete without --force of a paused container succeeded: %v", r)
	}
	e.mustRT("delete", "--force", c.id)
	if ws := c.wait(); !ws.Signaled() || ws.Signal() != unix.SIGKILL {
		t.Errorf("the init ended with %v, want killed", ws)
	}
	assertNoTraces(t, e, c.id, b)
}
