package guest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/testenv"
)

// The environment scripts/vmtest.sh sets for this binary.
const (
	guestEnv   = "BERTH_VM_GUEST"
	runtimeEnv = "BERTH_RUNTIME"
)

// cgroupRoot is where the VM's /init mounts the unified hierarchy.
const cgroupRoot = "/sys/fs/cgroup"

// cmdTimeout bounds one runtime command. The VM may be emulated (TCG), where
// a container start takes a second rather than tens of milliseconds.
const cmdTimeout = 2 * time.Minute

func TestMain(m *testing.M) {
	if os.Getenv(guestEnv) != "1" {
		fmt.Println("integration/vm/guest: these tests run inside the test VM only (scripts/vmtest.sh, run by integration/vm TestCgroupV2InVM)")
		os.Exit(0)
	}
	if err := checkPureV2(); err != nil {
		fmt.Fprintf(os.Stderr, "integration/vm/guest: not the pure cgroup v2 machine these tests need: %v\n", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// checkPureV2 makes sure the VM booted as intended: one cgroup2 hierarchy,
// at cgroupRoot, and no v1 hierarchy at all.
func checkPureV2() error {
	if _, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers")); err != nil {
		return err
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return err
	}
	if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "0::") {
		return fmt.Errorf("/proc/self/cgroup has v1 entries: %q", b)
	}
	return nil
}

// ownCgroup is the test process's cgroup, relative to cgroupRoot.
func ownCgroup(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(strings.TrimSpace(string(b)), "0::")
}

// container is one container made from a fresh busybox bundle.
type container struct {
	t      *testing.T
	rt     string
	id     string
	bundle string
	rootfs string
	// cgroup is the container's cgroup directory, when the spec names an
	// absolute cgroupsPath (the tests that leave it empty find it from the
	// container's pid).
	cgroup string
	// out collects a detached container's stdout and stderr.
	out string
}

// newContainer writes a bundle whose process runs script with sh, from the
// runtime's own default spec (`berth-runtime spec`) with no terminal, a
// writable rootfs and the cgroup /berth-vm/<id>; edit may change the spec
// further before it is written.
func newContainer(t *testing.T, script string, edit func(*specs.Spec)) *container {
	t.Helper()
	rt := os.Getenv(runtimeEnv)
	if rt == "" {
		t.Fatalf("%s is not set: scripts/vmtest.sh sets it to the runtime it ships", runtimeEnv)
	}
	c := &container{t: t, rt: rt, id: testenv.UniqueName(t, "vm")}
	c.rootfs = testenv.BusyboxRootfs(t)
	c.bundle = filepath.Dir(c.rootfs)
	c.out = filepath.Join(c.bundle, "output")
	c.runtime("spec", "--bundle", c.bundle)
	config := filepath.Join(c.bundle, "config.json")
	b, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("berth-runtime spec wrote bad JSON: %v", err)
	}
	s.Process.Terminal = false
	s.Process.Args = []string{"sh", "-c", script}
	s.Root.Readonly = false
	s.Linux.CgroupsPath = "/berth-vm/" + c.id
	if s.Linux.Resources == nil {
		s.Linux.Resources = &specs.LinuxResources{}
	}
	if edit != nil {
		edit(&s)
	}
	if filepath.IsAbs(s.Linux.CgroupsPath) {
		c.cgroup = filepath.Join(cgroupRoot, s.Linux.CgroupsPath)
	}
	if b, err = json.MarshalIndent(&s, "", "\t"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(config, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Whatever state the test left it in; a container already deleted
		// makes this fail, which is fine.
		_ = c.command(context.Background(), "delete", "--force", c.id).Run()
	})
	return c
}

func (c *container) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.rt, args...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// runtime runs a runtime command that must succeed and returns its stdout.
func (c *container) runtime(args ...string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := c.command(ctx, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		c.t.Fatalf("berth-runtime %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// run runs the container in the foreground and keeps it (and its cgroup)
// after it exits, for the test to inspect; it returns the exit status and
// everything the container and the runtime printed.
func (c *container) run() (int, string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := c.command(ctx, "run", "--keep", "--bundle", c.bundle, c.id)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode(), string(out)
	}
	c.t.Fatalf("berth-runtime run: %v\n%s", err, out)
	return 0, ""
}

// start runs the container detached; its output goes to c.out.
func (c *container) start() {
	c.t.Helper()
	f, err := os.OpenFile(c.out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	// The container inherits f itself (an *os.File is passed as is), so
	// nothing here waits for the container to close a pipe.
	cmd := c.command(ctx, "run", "--detach", "--bundle", c.bundle, c.id)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		b, _ := os.ReadFile(c.out)
		c.t.Fatalf("berth-runtime run --detach: %v\n%s", err, b)
	}
}

func (c *container) output() string {
	b, _ := os.ReadFile(c.out)
	return string(b)
}

type state struct {
	Status string `json:"status"`
	Pid    int    `json:"pid"`
}

func (c *container) state() state {
	c.t.Helper()
	var s state
	if err := json.Unmarshal([]byte(c.runtime("state", c.id)), &s); err != nil {
		c.t.Fatalf("state: %v", err)
	}
	return s
}

// delete deletes the container and checks that its cgroup went with it.
func (c *container) delete() {
	c.t.Helper()
	c.runtime("delete", "--force", c.id)
	if c.cgroup == "" {
		return
	}
	if _, err := os.Stat(c.cgroup); !errors.Is(err, os.ErrNotExist) {
		c.t.Errorf("cgroup %s still there after delete (stat: %v)", c.cgroup, err)
	}
}

// file reads one of the container's cgroup files.
func (c *container) file(name string) string {
	c.t.Helper()
	return readTrim(c.t, filepath.Join(c.cgroup, name))
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// keyed parses a flat-keyed cgroup file ("key value" lines).
func keyed(t *testing.T, content string) map[string]uint64 {
	t.Helper()
	m := map[string]uint64{}
	s := bufio.NewScanner(strings.NewReader(content))
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			t.Fatalf("bad line %q: %v", s.Text(), err)
		}
		m[k] = n
	}
	return m
}

// cpuTicks is a process's user+system time in clock ticks.
func cpuTicks(t *testing.T, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the command name, which may hold spaces, start at
	// the last ")": state is field 3, utime 14 and stime 15.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("bad /proc/%d/stat: %s", pid, b)
	}
	return utime + stime
}

// waitStatus polls the runtime's state until the container reaches want.
func (c *container) waitStatus(want string) state {
	c.t.Helper()
	deadline := time.Now().Add(cmdTimeout)
	for {
		s := c.state()
		if s.Status == want {
			return s
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("container %s is %s, not %s, after %v", c.id, s.Status, want, cmdTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ptr[T any](v T) *T { return &v }
