// Package runtime_test runs bin/berth-runtime against real containers: the
// runtime's integration tests. They need root (CI is root) and a static
// busybox (testenv.BusyboxRootfs).
//
// Every test has its own --root, its own container ids and its own bundle,
// and its cleanup deletes its containers, kills their processes by pidfd and
// fails the test if a cgroup, a mount or a state directory is left behind.
package runtime_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testenv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// cmdTimeout bounds one runtime command: a hung runtime fails its test in
// seconds instead of eating go test's whole timeout.
const cmdTimeout = 30 * time.Second

// waitTimeout bounds waiting for a container to reach a state.
const waitTimeout = 15 * time.Second

func TestMain(m *testing.M) {
	// The test binary doubles as a small static program run inside
	// containers (runHelper, security_test.go), for what busybox cannot do.
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode, os.Args[1:]))
	}
	// A created container's init outlives the create command and is
	// reparented to the nearest subreaper. Being that subreaper lets tests
	// wait for a container's exit status and reap its init, instead of
	// leaving zombies on hosts whose pid 1 does not reap.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "PR_SET_CHILD_SUBREAPER: %v\n", err)
		os.Exit(1)
	}
	go reapOrphans()
	cleanup, err := fastTempDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// fastTempDir points TMPDIR at a private directory on /dev/shm when the
// caller has not chosen a TMPDIR and /tmp is not a tmpfs. Every test copies
// a busybox rootfs (a few hundred symlinks) and removes it again; on a disk
// file system (ext4 mounted with discard, for one) that metadata work is
// most of the run time. The directory is world-searchable, so a
// user-namespace root can reach its rootfs as it could under /tmp.
func fastTempDir() (func(), error) {
	noop := func() {}
	if os.Getenv("TMPDIR") != "" || isTmpfs("/tmp") || !isTmpfs("/dev/shm") {
		return noop, nil
	}
	dir, err := os.MkdirTemp("/dev/shm", "berth-itest-")
	if err != nil {
		return noop, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return noop, err
	}
	os.Setenv("TMPDIR", dir)
	return func() { os.RemoveAll(dir) }, nil
}

func isTmpfs(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.TMPFS_MAGIC
}

// claimed holds the pids of adopted container processes that a test waits
// for itself (container.wait, killAndReap); reapOrphans leaves them alone.
var claimed sync.Map

// reapOrphans reaps the container processes the test binary adopts as a
// subreaper and no test waits for (processes exec'd with -d, orphans of a
// failed test). It must: a dying pid namespace init waits for every
// process of its namespace to be reaped, so an unreaped exec'd zombie would
// keep a container from ever stopping. Processes of the test's own pid
// namespace (the runtime commands os/exec waits for) are never touched, so
// no exit status is stolen from exec.Cmd.Wait.
func reapOrphans() {
	self := os.Getpid()
	for range time.Tick(20 * time.Millisecond) {
		for _, pid := range children(self) {
			if _, ok := claimed.Load(pid); ok || !testenv.IsZombie(pid) || !inChildPidNamespace(pid) {
				continue
			}
			var ws unix.WaitStatus
			unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		}
	}
}

// children lists the children of every thread of process pid.
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

// inChildPidNamespace reports whether pid has more than one pid, that is,
// lives in a pid namespace below ours.
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

// env is one test's runtime: the binary and a private state root.
type env struct {
	t    *testing.T
	bin  string
	root string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	testenv.RequireRoot(t)
	return &env{t: t, bin: testenv.RuntimeBinary(t), root: t.TempDir()}
}

// result is how a runtime command ended.
type result struct {
	args   []string
	stdout string
	stderr string
	code   int // exit status; 128+n when killed by signal n
}

func (r result) String() string {
	return fmt.Sprintf("berth-runtime %s: exit %d\nstdout: %s\nstderr: %s",
		strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

func (e *env) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, e.bin, append([]string{"--root", e.root}, args...)...)
	// Files, not pipes, carry the stdio of commands that start container
	// processes; this only bounds a stuck Wait should a pipe slip in.
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// rt runs a command that starts no container process (state, kill, delete,
// start, list, ...), with its output in memory.
func (e *env) rt(args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := e.command(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return finish(e.t, args, err, stdout.String(), stderr.String())
}

// mustRT is rt that fails the test unless the command exits 0.
func (e *env) mustRT(args ...string) result {
	e.t.Helper()
	r := e.rt(args...)
	if r.code != 0 {
		e.t.Fatalf("%v", r)
	}
	return r
}

// stdio is where a command that starts a container process connects the
// process: files, since a pipe's reader would wait for every process holding
// it. Zero values mean /dev/null and fresh files under the test's temp dir.
type stdio struct {
	stdin  *os.File
	stdout *os.File
	stderr *os.File
	extra  []*os.File // fds 3, 4, ... of the runtime command
}

// rtio runs a command (create, run, exec) whose stdio (sio) container processes
// inherit. stdout and stderr are read back from their files when the
// command exits.
func (e *env) rtio(sio stdio, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := e.command(ctx, args...)
	out, errf := sio.stdout, sio.stderr
	if out == nil {
		out = tempFile(e.t, "stdout")
	}
	if errf == nil {
		errf = tempFile(e.t, "stderr")
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = sio.stdin, out, errf, sio.extra
	err := cmd.Run()
	return finish(e.t, args, err, readBack(e.t, out), readBack(e.t, errf))
}

// readBack returns what a command wrote to f, if f is a regular file (a
// pipe is the caller's to read).
func readBack(t *testing.T, f *os.File) string {
	t.Helper()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return ""
	}
	return readFile(t, f.Name())
}

func finish(t *testing.T, args []string, err error, stdout, stderr string) result {
	t.Helper()
	r := result{args: args, stdout: stdout, stderr: stderr}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		ws := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			r.code = 128 + int(ws.Signal())
		} else {
			r.code = ws.ExitStatus()
		}
	default:
		t.Fatalf("berth-runtime %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// tempFile creates an empty file in the test's temp dir, closed with the test.
func tempFile(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// defaultSpecJSON is what `berth-runtime spec` writes, made once per run.
var defaultSpecJSON struct {
	once sync.Once
	data []byte
	err  error
}

func defaultSpec(t *testing.T) *specs.Spec {
	t.Helper()
	bin := testenv.RuntimeBinary(t)
	defaultSpecJSON.once.Do(func() {
		dir, err := os.MkdirTemp("", "berth-spec-")
		if err != nil {
			defaultSpecJSON.err = err
			return
		}
		defer os.RemoveAll(dir)
		if out, err := exec.Command(bin, "spec", "--bundle", dir).CombinedOutput(); err != nil {
			defaultSpecJSON.err = fmt.Errorf("berth-runtime spec: %v: %s", err, out)
			return
		}
		defaultSpecJSON.data, defaultSpecJSON.err = os.ReadFile(filepath.Join(dir, "config.json"))
	})
	if defaultSpecJSON.err != nil {
		t.Fatal(defaultSpecJSON.err)
	}
	var s specs.Spec
	if err := json.Unmarshal(defaultSpecJSON.data, &s); err != nil {
		t.Fatalf("berth-runtime spec wrote an invalid config.json: %v", err)
	}
	return &s
}

// bundle is an OCI bundle: a busybox rootfs and the spec to write beside it.
type bundle struct {
	dir    string
	rootfs string
	spec   *specs.Spec
}

// newBundle makes a bundle running args with the default spec, adjusted for
// tests: no terminal (most tests read plain stdout) and a writable root (so
// the container can leave marker files the test reads from the host).
func newBundle(t *testing.T, args ...string) *bundle {
	t.Helper()
	rootfs := testenv.BusyboxRootfs(t)
	s := defaultSpec(t)
	s.Process.Terminal = false
	s.Root.Readonly = false
	s.Process.Args = args
	return &bundle{dir: filepath.Dir(rootfs), rootfs: rootfs, spec: s}
}

func (b *bundle) write(t *testing.T) {
	t.Helper()
	data, err := json.MarshalIndent(b.spec, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// path is a path inside the rootfs, as the host sees it.
func (b *bundle) path(p string) string { return filepath.Join(b.rootfs, p) }

// container is one container id in an env, with what the test learnt of it.
type container struct {
	e  *env
	id string
	b  *bundle
	// pid is the init's host pid once created; pidfd refers to it for as
	// long as the test runs, so cleanup never signals a recycled pid.
	pid   int
	pidfd int
	// out and errOut hold the stdio of create, which the container's
	// process inherits.
	out, errOut *os.File
	// others are pidfds of further processes (exec -d) to kill at cleanup.
	others []int
}

// newContainer picks a fresh id for b and registers the cleanup that
// deletes the container and checks that nothing of it remains.
func (e *env) newContainer(b *bundle) *container {
	e.t.Helper()
	c := &container{e: e, id: testenv.UniqueName(e.t, "c"), b: b, pidfd: -1}
	e.t.Cleanup(func() { c.cleanup() })
	return c
}

func (c *container) cleanup() {
	t := c.e.t
	t.Helper()
	// Exec'd processes first: the init, once killed, waits for them.
	for _, fd := range c.others {
		killAndReap(fd)
		unix.Close(fd)
	}
	c.others = nil
	if _, err := os.Stat(filepath.Join(c.e.root, c.id)); err == nil {
		if r := c.e.rt("delete", "--force", c.id); r.code != 0 {
			t.Errorf("cleanup: %v", r)
		}
	}
	if c.pidfd >= 0 {
		killAndReap(c.pidfd)
		unix.Close(c.pidfd)
		claimed.Delete(c.pid)
		c.pidfd = -1
	}
	assertNoTraces(t, c.e, c.id, c.b)
}

// killAndReap kills the process behind pidfd, waits until it has exited
// and reaps it if it is our child (the subreaper adopts orphaned inits).
func killAndReap(pidfd int) error {
	unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	deadline := time.Now().Add(waitTimeout)
	for {
		n, err := unix.Poll(fds, int(time.Until(deadline).Milliseconds()))
		if n > 0 {
			break
		}
		if err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("poll pidfd: %w", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the process did not die within %s of SIGKILL", waitTimeout)
		}
	}
	// ECHILD: not ours, or reapOrphans was first. Both are fine.
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PIDFD, pidfd, &info, unix.WEXITED|unix.WNOHANG, nil)
		if !errors.Is(err, unix.EINTR) {
			return nil
		}
	}
}

// assertNoTraces fails t if anything of container id remains: its state
// directory, a cgroup named after it in any hierarchy, or a mount under the
// env's root or the bundle. It removes what it finds, so one leak does not
// break the next test.
func assertNoTraces(t *testing.T, e *env, id string, b *bundle) {
	t.Helper()
	if _, err := os.Lstat(filepath.Join(e.root, id)); err == nil {
		t.Errorf("container %s: state directory %s remains", id, filepath.Join(e.root, id))
	}
	for _, dir := range cgroupDirsNamed(id) {
		t.Errorf("container %s: cgroup %s remains", id, dir)
		removeCgroup(dir)
	}
	prefixes := []string{e.root}
	if b != nil {
		prefixes = append(prefixes, b.dir)
	}
	for _, m := range mountsUnder(t, prefixes...) {
		t.Errorf("container %s: mount %s remains", id, m)
		unix.Unmount(m, unix.MNT_DETACH)
	}
}

// cgroupDirsNamed lists every directory called name in every cgroup
// hierarchy under /sys/fs/cgroup.
func cgroupDirsNamed(name string) []string {
	var found []string
	hier, _ := os.ReadDir("/sys/fs/cgroup")
	for _, h := range hier {
		if !h.IsDir() {
			continue
		}
		filepath.WalkDir(filepath.Join("/sys/fs/cgroup", h.Name()), func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil // other tests' cgroups come and go under us
			}
			if d.Name() == name {
				found = append(found, p)
				return filepath.SkipDir
			}
			return nil
		})
	}
	// A pure cgroup v2 host has its cgroups directly under /sys/fs/cgroup.
	return found
}

// removeCgroup kills what is left in a leaked cgroup and removes it,
// children first.
func removeCgroup(dir string) {
	var dirs []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if data, err := os.ReadFile(filepath.Join(dirs[i], "cgroup.procs")); err == nil {
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil {
					unix.Kill(pid, unix.SIGKILL)
				}
			}
		}
		for range 100 {
			if err := unix.Rmdir(dirs[i]); err == nil || errors.Is(err, unix.ENOENT) {
				break
			}
			time.Sleep(10 * time.Millisecond) // killed processes take a moment to leave
		}
	}
}

// mountsUnder lists the host's mount points at or under any of dirs.
func mountsUnder(t *testing.T, dirs ...string) []string {
	t.Helper()
	var out []string
	for _, m := range readMountinfo(t, "/proc/self/mountinfo") {
		for _, d := range dirs {
			if m.point == d || strings.HasPrefix(m.point, d+"/") {
				out = append(out, m.point)
				break
			}
		}
	}
	return out
}

// mountEntry is one line of a mountinfo file.
type mountEntry struct {
	dev    string // the filesystem's major:minor
	root   string // the mounted directory within its filesystem
	point  string // where it is mounted, relative to the reader's root
	fstype string
	source string
}

func readMountinfo(t *testing.T, path string) []mountEntry {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	var out []mountEntry
	for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		sep := slices.Index(f, "-")
		if len(f) < 7 || sep < 0 || sep+2 >= len(f) {
			continue
		}
		out = append(out, mountEntry{
			dev: f[2], root: unescapeOctal(f[3]), point: unescapeOctal(f[4]),
			fstype: f[sep+1], source: unescapeOctal(f[sep+2]),
		})
	}
	return out
}

// unescapeOctal undoes mountinfo's \ooo escapes (\040 for a space).
func unescapeOctal(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// create writes the bundle's config.json and creates the container,
// failing the test on error; the container's stdio are fresh files.
func (c *container) create(flags ...string) {
	c.e.t.Helper()
	if r := c.createWith(stdio{}, flags...); r.code != 0 {
		c.e.t.Fatalf("%v", r)
	}
}

// createWith writes config.json and runs create with sio as the stdio the
// container inherits. On success it records the init's pid.
func (c *container) createWith(sio stdio, flags ...string) result {
	t := c.e.t
	t.Helper()
	c.b.write(t)
	if sio.stdout == nil {
		sio.stdout = tempFile(t, "out")
	}
	if sio.stderr == nil {
		sio.stderr = tempFile(t, "err")
	}
	c.out, c.errOut = sio.stdout, sio.stderr
	args := append([]string{"create", "--bundle", c.b.dir}, flags...)
	r := c.e.rtio(sio, append(args, c.id)...)
	if r.code != 0 {
		return r
	}
	st := c.state()
	if st.Status != "created" || st.Pid <= 0 {
		t.Fatalf("after create: state %+v, want created with a pid", st)
	}
	// Claimed before anything can end it: the test may want its exit
	// status (wait), which reapOrphans would otherwise take.
	claimed.Store(st.Pid, struct{}{})
	fd, err := unix.PidfdOpen(st.Pid, 0)
	if err != nil {
		t.Fatalf("pidfd_open %d: %v", st.Pid, err)
	}
	c.pid, c.pidfd = st.Pid, fd
	return r
}

func (c *container) start() {
	c.e.t.Helper()
	c.e.mustRT("start", c.id)
}

// run creates and starts the container.
func (c *container) run(flags ...string) {
	c.e.t.Helper()
	c.create(flags...)
	c.start()
}

// ctrState is the part of `state` output the tests read.
type ctrState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Status      string            `json:"status"`
	Pid         int               `json:"pid"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations"`
}

func (c *container) state() ctrState {
	c.e.t.Helper()
	r := c.e.mustRT("state", c.id)
	var st ctrState
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		c.e.t.Fatalf("state %s: %v\n%s", c.id, err, r.stdout)
	}
	return st
}

// waitStatus polls `state` until the container reaches want.
func (c *container) waitStatus(want string) ctrState {
	c.e.t.Helper()
	var st ctrState
	eventually(c.e.t, waitTimeout, func() (bool, string) {
		st = c.state()
		msg := fmt.Sprintf("container %s is %s, want %s", c.id, st.Status, want)
		if st.Status == "stopped" && c.out != nil {
			msg += "; its output:\n" + c.output()
		}
		return st.Status == want, msg
	})
	return st
}

// wait waits for the init to exit and reaps it. The test binary is a
// subreaper, so the init of a container whose create command has exited is
// its child.
func (c *container) wait() unix.WaitStatus {
	c.e.t.Helper()
	if c.pidfd < 0 {
		c.e.t.Fatal("wait: container was not created")
	}
	fds := []unix.PollFd{{Fd: int32(c.pidfd), Events: unix.POLLIN}}
	deadline := time.Now().Add(waitTimeout)
	for {
		n, err := unix.Poll(fds, int(time.Until(deadline).Milliseconds()))
		if err != nil && !errors.Is(err, unix.EINTR) {
			c.e.t.Fatalf("poll pidfd: %v", err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			c.e.t.Fatalf("container %s (pid %d) still runs after %s; output:\n%s", c.id, c.pid, waitTimeout, c.output())
		}
	}
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(c.pid, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			c.e.t.Fatalf("wait4 %d: %v", c.pid, err)
		}
		return ws
	}
}

// output is what the container's process wrote to stdout and stderr.
func (c *container) output() string {
	c.e.t.Helper()
	return readFile(c.e.t, c.out.Name()) + readFile(c.e.t, c.errOut.Name())
}

// stdout is what the container's process wrote to stdout only.
func (c *container) stdout() string {
	c.e.t.Helper()
	return readFile(c.e.t, c.out.Name())
}

// exec runs `exec` (with flags, then the id and args) in the foreground with
// its output in files.
func (c *container) exec(sio stdio, flags []string, args ...string) result {
	c.e.t.Helper()
	return c.e.rtio(sio, append(append(append([]string{"exec"}, flags...), c.id), args...)...)
}

// track makes cleanup kill pid (an exec'd process) too.
func (c *container) track(pid int) {
	c.e.t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		c.e.t.Fatalf("pidfd_open %d: %v", pid, err)
	}
	c.others = append(c.others, fd)
}

// runFG runs the bundle with `run` in the foreground and returns how it
// ended; stdout and stderr are the container's and the runtime's.
func (c *container) runFG(sio stdio, flags ...string) result {
	c.e.t.Helper()
	c.b.write(c.e.t)
	args := append([]string{"run", "--bundle", c.b.dir}, flags...)
	return c.e.rtio(sio, append(args, c.id)...)
}

// eventually polls cond every 10ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fdTargets lists a process's open fds and what each refers to, as the
// host sees them.
func fdTargets(t *testing.T, pid int) map[int]string {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("list fds of %d: %v", pid, err)
	}
	out := map[int]string{}
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		target, _ := os.Readlink(filepath.Join(dir, e.Name()))
		out[n] = target
	}
	return out
}

// nsPid is the pid of host pid as its own pid namespace sees it (the last
// NSpid field).
func nsPid(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "NSpid:"); ok {
			f := strings.Fields(rest)
			n, err := strconv.Atoi(f[len(f)-1])
			if err != nil {
				t.Fatalf("NSpid %q: %v", rest, err)
			}
			return n
		}
	}
	t.Fatalf("/proc/%d/status has no NSpid", pid)
	return 0
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// copyExecutable copies an executable to dst with mode 0755.
func copyExecutable(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// installHelper copies the test binary into the rootfs as /helper. It must
// be static, as nothing else of Go's world is in a busybox rootfs.
func installHelper(t *testing.T, b *bundle) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatalf("the test binary %s is dynamically linked (a dependency pulled in cgo): it cannot run as a helper inside a busybox rootfs", self)
		}
	}
	copyExecutable(t, self, b.path("helper"))
}

// cgroupFile is a controller's file for container id: v1 under the
// controller's hierarchy, v2 in the unified hierarchy. Paths are relative
// to the test binary's own cgroup, where the runtime puts a container whose
// cgroupsPath is empty. It skips the test, with the reason, when the host
// has the controller nowhere.
func cgroupFile(t *testing.T, controller, id, v1name, v2name string) string {
	t.Helper()
	own := ownCgroups(t)
	if p, ok := own[controller]; ok {
		return filepath.Join("/sys/fs/cgroup", controller, p, id, v1name)
	}
	for _, mnt := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		data, err := os.ReadFile(filepath.Join(mnt, "cgroup.controllers"))
		if err == nil && slices.Contains(strings.Fields(string(data)), controller) {
			return filepath.Join(mnt, own[""], id, v2name)
		}
	}
	t.Skipf("this host has no %s cgroup controller, in v1 or v2", controller)
	return ""
}

// ownCgroups maps each v1 controller (and "" for v2) to this process's
// cgroup path, from /proc/self/cgroup.
func ownCgroups(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for c := range strings.SplitSeq(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out
}

// keyedValue reads "key value" from a flat-keyed cgroup file.
func keyedValue(t *testing.T, path, key string) int64 {
	t.Helper()
	for line := range strings.SplitSeq(readFile(t, path), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == key {
			v, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatalf("%s: %s: %v", path, line, err)
			}
			return v
		}
	}
	t.Fatalf("%s has no %q", path, key)
	return 0
}

func writeScript(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}

func int64p(v int64) *int64 { return &v }
