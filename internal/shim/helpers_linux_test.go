package shim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/shim"
	"github.com/berth-project/berth/internal/testenv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	// The test binary plays init for what it leaves behind: shims are
	// re-parented to it once their launcher exits, and a container whose
	// shim a test kills is re-parented to it too. This host's pid 1 does
	// not reap, and a container init left a zombie keeps the runtime's
	// delete waiting.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "PR_SET_CHILD_SUBREAPER:", err)
		os.Exit(1)
	}
	go reapOrphans()
	os.Exit(m.Run())
}

// reapOrphans reaps zombie shims and container processes on SIGCHLD; it
// leaves alone the commands os/exec runs and waits for itself.
func reapOrphans() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, unix.SIGCHLD)
	for range ch {
		for _, pid := range children(os.Getpid()) {
			if !testenv.IsZombie(pid) {
				continue
			}
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			if strings.TrimSpace(string(comm)) != "berth-shim" && !inChildPidNamespace(pid) {
				continue
			}
			var ws unix.WaitStatus
			unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		}
	}
}

func children(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, f := range tasks {
		data, _ := os.ReadFile(f)
		for _, s := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(s); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

func inChildPidNamespace(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "NSpid:"); ok {
			return len(strings.Fields(rest)) > 1
		}
	}
	return false
}

// rt is one OCI runtime under test.
type rt struct {
	name string
	bin  string
}

// runtimes are the runtimes every lifecycle test runs against: Berth's
// own and runc.
func runtimes(t *testing.T) []rt {
	t.Helper()
	testenv.RequireRoot(t)
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Fatalf("runc not found (apt-get install runc): %v", err)
	}
	return []rt{{"berth", testenv.RuntimeBinary(t)}, {"runc", runc}}
}

func shimBinary(t *testing.T) string {
	t.Helper()
	p := filepath.Join(testenv.BinDir(t), "berth-shim")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no %s: run make first", p)
	}
	return p
}

var specCache sync.Map // runtime binary -> []byte

// defaultSpec is the runtime's own `spec` output.
func defaultSpec(t *testing.T, bin string) *specs.Spec {
	t.Helper()
	data, ok := specCache.Load(bin)
	if !ok {
		dir := t.TempDir()
		if out, err := exec.Command(bin, "spec", "--bundle", dir).CombinedOutput(); err != nil {
			t.Fatalf("%s spec: %v: %s", bin, err, out)
		}
		b, err := os.ReadFile(filepath.Join(dir, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		specCache.Store(bin, b)
		data = b
	}
	var s specs.Spec
	if err := json.Unmarshal(data.([]byte), &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

// container is one test container: bundle, state dir and shim config.
type container struct {
	t      *testing.T
	r      rt
	cfg    shim.Config
	spec   *specs.Spec
	rootfs string
	client *shim.Client
}

// newContainer prepares a busybox bundle running args and a config with
// a json-file log; adjust c.spec and c.cfg before c.start.
func newContainer(t *testing.T, r rt, args ...string) *container {
	t.Helper()
	rootfs := testenv.BusyboxRootfs(t)
	bundle := filepath.Dir(rootfs)
	s := defaultSpec(t, r.bin)
	s.Process.Terminal = false
	s.Process.Args = args
	s.Root.Readonly = false
	s.Root.Path = "rootfs"
	id := testenv.UniqueName(t, r.name)
	if s.Linux != nil {
		// runc's default spec has no cgroupsPath; give each its own,
		// at the top so that no parent cgroup is left behind.
		s.Linux.CgroupsPath = "/berth-shim-test-" + id
	}
	state := t.TempDir()
	root := t.TempDir()
	c := &container{
		t: t, r: r, spec: s, rootfs: rootfs,
		cfg: shim.Config{
			ID: id, Bundle: bundle, StateDir: filepath.Join(state, "shim"), Runtime: r.bin, RuntimeRoot: root,
			LogDriver: "json-file", LogPath: filepath.Join(state, id+"-json.log"), ShimBinary: shimBinary(t),
		},
	}
	t.Cleanup(c.cleanup)
	return c
}

func (c *container) writeSpec() {
	c.t.Helper()
	data, err := json.MarshalIndent(c.spec, "", "\t")
	if err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.cfg.Bundle, "config.json"), data, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// create starts the shim: the container is created, not started.
func (c *container) create() *shim.Client {
	c.t.Helper()
	c.spec.Process.Terminal = c.cfg.Terminal
	c.writeSpec()
	cl, err := shim.Start(ctx(c.t), c.cfg)
	if err != nil {
		c.t.Fatalf("shim.Start: %v", err)
	}
	c.client = cl
	return cl
}

// cleanup deletes what the test left: the shim's container, and the
// runtime's state if the shim is gone.
func (c *container) cleanup() {
	if c.client != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c.client.Delete(ctx)
		c.client.Close()
	}
	exec.Command(c.r.bin, "--root", c.cfg.RuntimeRoot, "delete", "--force", c.cfg.ID).Run()
}

func ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// syncBuffer is a bytes.Buffer safe for the attach goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond (tests only) until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// attach runs Attach in the background and returns once it registered;
// the returned channel yields Attach's result.
func attach(t *testing.T, cl *shim.Client, opts shim.AttachOptions) <-chan error {
	t.Helper()
	registered := make(chan struct{})
	opts.Attached = func() { close(registered) }
	res := make(chan error, 1)
	go func() { res <- cl.Attach(ctx(t), opts) }()
	select {
	case <-registered:
	case err := <-res:
		t.Fatalf("attach: %v", err)
	}
	return res
}

func commandOutput(name string, args ...string) ([]byte, error) {
	return exec.Command(name, args...).CombinedOutput()
}

func testenvRoot(t *testing.T) { testenv.RequireRoot(t) }

// readShimPid reads the shim's pid from its state directory: the target
// of the symlink shim.pid.
func readShimPid(stateDir string) ([]byte, error) {
	target, err := os.Readlink(filepath.Join(stateDir, "shim.pid"))
	return []byte(target), err
}
