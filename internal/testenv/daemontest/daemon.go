// Package daemontest starts an engine per test: bin/berthd, or dockerd for
// parity runs, each with its own temporary data root, exec root, unix
// socket, pid file and host-global name prefix, so that tests run in
// parallel and never touch the host's own daemons.
//
// Start returns once the daemon answers GET /_ping on its socket. When the
// test ends the daemon gets SIGTERM (SIGKILL after a timeout), and then
// everything it may have left behind is removed by pid and by path: any
// process whose command line names the test's root (shims, runtimes,
// containerd), any process in a cgroup under the test's prefix (the
// containers), every mount under the root, the cgroups under the prefix,
// and the root itself. Berth's daemon leaves its containers running when it
// stops (live restore), so this is the normal way they end in tests.
//
// The target is chosen with -test.target=docker or
// BERTH_TEST_TARGET=dockerd (see CurrentTarget), or per call with
// WithTarget. dockerd runs with --iptables=false --ip6tables=false
// --bridge=none: it never changes the host's network.
package daemontest

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testenv"
)

// DockerdBinary is where Debian's docker.io installs dockerd.
const DockerdBinary = "/usr/sbin/dockerd"

const (
	// defaultStartTimeout bounds the wait for /_ping. berthd answers in
	// milliseconds; dockerd starts containerd first and takes seconds on
	// a loaded 2-core machine.
	defaultStartTimeout = 60 * time.Second
	// defaultStopTimeout is how long SIGTERM gets before SIGKILL.
	defaultStopTimeout = 15 * time.Second
	logTailLines       = 60
)

// Daemon is one engine process started by Start, with its roots. The roots
// and the prefix stay the same across Restart, so a restarted daemon finds
// what the previous one left (live restore).
type Daemon struct {
	target   Target
	binary   string
	args     []string // from WithArgs
	env      []string
	startTO  time.Duration
	stopTO   time.Duration
	root     string // the test's temp dir: everything below is ours
	dataRoot string
	execRoot string
	socket   string
	pidfile  string
	logPath  string
	prefix   string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd exits
}

// Option configures Start.
type Option func(*options)

type options struct {
	target    Target
	targetSet bool
	binary    string
	args      []string
	env       []string
	startTO   time.Duration
	stopTO    time.Duration
	prefix    string
}

// WithTarget picks the engine regardless of -test.target, for tests that
// only make sense against one of them.
func WithTarget(t Target) Option {
	return func(o *options) { o.target, o.targetSet = t, true }
}

// WithBinary runs this daemon binary instead of bin/berthd or dockerd.
func WithBinary(path string) Option { return func(o *options) { o.binary = path } }

// WithArgs appends daemon flags after the ones Start sets.
func WithArgs(args ...string) Option {
	return func(o *options) { o.args = append(o.args, args...) }
}

// WithEnv adds KEY=VALUE pairs to the daemon's environment.
func WithEnv(kv ...string) Option {
	return func(o *options) { o.env = append(o.env, kv...) }
}

// WithStartTimeout bounds the wait for /_ping (default 60s).
func WithStartTimeout(d time.Duration) Option { return func(o *options) { o.startTO = d } }

// WithStopTimeout is how long the daemon gets between SIGTERM and SIGKILL
// (default 15s).
func WithStopTimeout(d time.Duration) Option { return func(o *options) { o.stopTO = d } }

// WithPrefix sets the resource prefix instead of a unique one derived from
// the test's name. Two daemons must never share one.
func WithPrefix(p string) Option { return func(o *options) { o.prefix = p } }

// makeOptions applies opts, fills the defaults and rejects contradictions.
func makeOptions(opts []Option) (options, error) {
	o := options{startTO: defaultStartTimeout, stopTO: defaultStopTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if !o.targetSet {
		o.target = CurrentTarget()
	}
	if o.target != Berth && o.target != Docker {
		return o, fmt.Errorf("unknown target %q", o.target)
	}
	if o.startTO <= 0 || o.stopTO <= 0 {
		return o, errors.New("timeouts must be positive")
	}
	if o.prefix != "" && strings.Trim(o.prefix, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return o, fmt.Errorf("prefix %q: only [a-z0-9-] (it names cgroups, bridges and nft tables)", o.prefix)
	}
	return o, nil
}

// Start starts a daemon for t and returns once it answers /_ping. It is
// stopped, and everything it left is removed, when t ends. It fails t with
// the daemon's log tail when the daemon does not come up.
func Start(t testing.TB, opts ...Option) *Daemon {
	t.Helper()
	testenv.RequireRoot(t)
	o, err := makeOptions(opts)
	if err != nil {
		t.Fatalf("daemontest: Start: %v", err)
	}
	binary := o.binary
	if binary == "" {
		switch o.target {
		case Berth:
			binary = filepath.Join(testenv.BinDir(t), "berthd")
		case Docker:
			binary = DockerdBinary
		}
	}
	if fi, err := os.Stat(binary); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		fix := "run make (it builds cmd/berthd into bin/)"
		if o.target == Docker {
			fix = "apt-get install docker.io (with a policy-rc.d that exits 101, so no service starts)"
		}
		t.Fatalf("daemontest: no daemon binary %s for target %s: %s", binary, o.target, fix)
	}

	// A short root of our own rather than t.TempDir: unix socket paths
	// are limited to 108 bytes, and shims put sockets under the exec root
	// in directories named by 64-character ids.
	root, err := os.MkdirTemp("", "bt-")
	if err != nil {
		t.Fatalf("daemontest: %v", err)
	}
	d := &Daemon{
		target:   o.target,
		binary:   binary,
		args:     o.args,
		env:      o.env,
		startTO:  o.startTO,
		stopTO:   o.stopTO,
		root:     root,
		dataRoot: filepath.Join(root, "data"),
		execRoot: filepath.Join(root, "x"),
		socket:   filepath.Join(root, "d.sock"),
		pidfile:  filepath.Join(root, "d.pid"),
		logPath:  filepath.Join(root, "daemon.log"),
		prefix:   o.prefix,
	}
	if d.prefix == "" {
		d.prefix = randomPrefix()
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemontest: %s log (last lines of %s):\n%s", d.target, d.logPath, d.LogTail())
		}
		if err := d.cleanup(); err != nil {
			t.Errorf("daemontest: cleanup of %s: %v", d.root, err)
		}
	})
	for _, dir := range []string{d.dataRoot, d.execRoot} {
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatalf("daemontest: %v", err)
		}
	}
	start := time.Now()
	if err := d.start(); err != nil {
		t.Fatalf("daemontest: start %s: %v\n%s log (last lines):\n%s", d.target, err, d.target, d.LogTail())
	}
	t.Logf("daemontest: %s ready on %s in %v (root %s, prefix %s)", d.target, d.Host(), time.Since(start).Round(time.Millisecond), d.root, d.prefix)
	return d
}

// Target is the engine this daemon runs.
func (d *Daemon) Target() Target { return d.target }

// Host is the daemon's address for -H and DOCKER_HOST: "unix:///...".
func (d *Daemon) Host() string { return "unix://" + d.socket }

// Socket is the path of the daemon's unix socket.
func (d *Daemon) Socket() string { return d.socket }

// Root is the test's directory that holds every root, socket and log.
func (d *Daemon) Root() string { return d.root }

// DataRoot is the daemon's --data-root.
func (d *Daemon) DataRoot() string { return d.dataRoot }

// ExecRoot is the daemon's --exec-root.
func (d *Daemon) ExecRoot() string { return d.execRoot }

// Prefix is the resource prefix: berthd's --resource-prefix, and the
// cgroup parent of both engines' containers.
func (d *Daemon) Prefix() string { return d.prefix }

// LogPath is the file the daemon's stdout and stderr go to.
func (d *Daemon) LogPath() string { return d.logPath }

// Pid is the running daemon's pid, or 0 when it is not running.
func (d *Daemon) Pid() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd == nil || d.exited() {
		return 0
	}
	return d.cmd.Process.Pid
}

// Kill sends SIGKILL to the daemon alone (not its shims or containers)
// and waits until it is gone, as a crash would leave things. Restart
// starts it again.
func (d *Daemon) Kill(t testing.TB) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd == nil || d.exited() {
		t.Fatalf("daemontest: Kill: the daemon is not running")
	}
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
}

// Stop stops the daemon as an admin would: SIGTERM, then SIGKILL after the
// stop timeout. It fails t when SIGKILL was needed.
func (d *Daemon) Stop(t testing.TB) {
	t.Helper()
	if err := d.stop(); err != nil {
		t.Fatalf("daemontest: Stop: %v", err)
	}
}

// Restart stops the daemon if it runs (SIGTERM, SIGKILL after the
// timeout), then starts it again on the same roots, socket and prefix, and
// waits for /_ping.
func (d *Daemon) Restart(t testing.TB) {
	t.Helper()
	if err := d.stop(); err != nil {
		t.Fatalf("daemontest: Restart: %v", err)
	}
	start := time.Now()
	if err := d.start(); err != nil {
		t.Fatalf("daemontest: Restart: %v\nlog (last lines):\n%s", err, d.LogTail())
	}
	t.Logf("daemontest: %s restarted in %v", d.target, time.Since(start).Round(time.Millisecond))
}

// LogTail returns the last lines of the daemon's log, across restarts.
func (d *Daemon) LogTail() string {
	data, err := os.ReadFile(d.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > logTailLines {
		lines = lines[len(lines)-logTailLines:]
	}
	return strings.Join(lines, "\n")
}

// LogMatching returns the last max lines of the daemon's log that hold
// any of words, or that are warnings or errors: what a failed test's
// requests left there, which LogTail of a busy shared daemon may have
// scrolled past. GET requests are left out.
func (d *Daemon) LogMatching(max int, words ...string) string {
	data, err := os.ReadFile(d.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	var picked []string
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		// A poll (inspect until...) repeats one GET many times and
		// would push the lines that explain a failure out of the excerpt.
		if strings.Contains(line, `msg="api request" method=GET`) {
			continue
		}
		keep := strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR")
		for _, w := range words {
			if w != "" && strings.Contains(line, w) {
				keep = true
				break
			}
		}
		if keep {
			picked = append(picked, line)
		}
	}
	if len(picked) > max {
		picked = picked[len(picked)-max:]
	}
	return strings.Join(picked, "\n")
}

// daemonArgs is the command line for the target, roots first, then the
// caller's extra flags (which may override them: the last flag wins in
// both daemons).
func (d *Daemon) daemonArgs() []string {
	// An empty config file of our own: the host's daemon.json must not
	// change what the tests run.
	cfg := filepath.Join(d.root, "daemon.json")
	_ = os.WriteFile(cfg, []byte("{}\n"), 0o600)
	var args []string
	switch d.target {
	case Berth:
		args = []string{
			"--config-file", cfg,
			"--data-root", d.dataRoot,
			"--exec-root", d.execRoot,
			"-H", d.Host(),
			"--pidfile", d.pidfile,
			"--resource-prefix", d.prefix,
			"--log-level", "debug",
		}
		if !hasBridgeFlag(d.args) {
			// No default bridge unless the test asks for one (nettest
			// gives --bip on a subnet of its own): daemons of tests
			// running at once would compete for one subnet, and
			// containers default to network mode none, as dockerd's
			// with --bridge=none.
			args = append(args, "--bridge", "none")
		}
	case Docker:
		args = []string{
			"--config-file", cfg,
			"--data-root", d.dataRoot,
			"--exec-root", d.execRoot,
			"-H", d.Host(),
			"--pidfile", d.pidfile,
			"--iptables=false", "--ip6tables=false", "--bridge=none",
			"--ip-forward=false", "--ip-masq=false",
			"--cgroup-parent", "/" + d.prefix,
			"--storage-driver", "overlay2",
			"--shutdown-timeout", "5",
		}
	}
	return append(args, d.args...)
}

// start launches the daemon and waits for /_ping.
func (d *Daemon) start() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd != nil && !d.exited() {
		return errors.New("already running")
	}
	logFile, err := os.OpenFile(d.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close() // the daemon has its own descriptor
	if d.target == Docker {
		forgetDeadContainerd(d.execRoot)
	}
	fmt.Fprintf(logFile, "=== daemontest: %s %s\n", d.binary, strings.Join(d.daemonArgs(), " "))
	cmd := exec.Command(d.binary, d.daemonArgs()...)
	cmd.Env = append(daemonEnv(), d.env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Dir = d.root
	// Its own process group, so a ^C in the developer's terminal reaches
	// the test binary, whose cleanup stops the daemon in order. Should the
	// test binary die without cleanups, the daemon dies with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	d.cmd, d.done = cmd, done
	if err := waitPing(d.socket, d.startTO, done); err != nil {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return fmt.Errorf("%s: %w", d.binary, err)
	}
	return nil
}

// exited reports whether the current process has exited; d.mu is held.
func (d *Daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits, then SIGKILL. An error means SIGKILL was
// needed.
func (d *Daemon) stop() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd == nil || d.exited() {
		return nil
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		return nil
	case <-time.After(d.stopTO):
	}
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
	return fmt.Errorf("%s did not exit within %v of SIGTERM; killed", d.target, d.stopTO)
}

// daemonEnv is the test's environment without the variables that would
// point the daemon somewhere else than its roots.
func daemonEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "DOCKER_"), strings.HasPrefix(k, "BERTH_"),
			k == "CONTAINERD_ADDRESS", k == "CONTAINERD_NAMESPACE", k == "NOTIFY_SOCKET":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// forgetDeadContainerd removes the pid file of a containerd that a killed
// dockerd left as a zombie. dockerd reuses a containerd it finds running
// by that file, and a zombie passes its kill(pid, 0) check; on hosts whose
// pid 1 does not reap orphans (this CI's VMs) the zombie stays for good and
// the restarted dockerd waits for it until it gives up.
func forgetDeadContainerd(execRoot string) {
	pidfile := filepath.Join(execRoot, "containerd", "containerd.pid")
	data, err := os.ReadFile(pidfile)
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		_ = os.Remove(pidfile)
		return
	}
	// A containerd whose dockerd was just killed dies a moment later (its
	// parent-death signal): give it that moment. One that outlives it is
	// really running, and dockerd may reuse it.
	deadline := time.Now().Add(2 * time.Second)
	for testenv.Alive(pid) {
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	_ = os.Remove(pidfile)
}

// randomPrefix is a resource prefix of 6 characters, berthd's limit (it
// starts bridge names, which have 15 bytes): "t" and 5 random characters.
func randomPrefix() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [5]byte
	_, _ = rand.Read(b[:])
	p := []byte{'t'}
	for _, c := range b {
		p = append(p, alphabet[int(c)%len(alphabet)])
	}
	return string(p)
}

// hasBridgeFlag reports whether args configure the default bridge.
func hasBridgeFlag(args []string) bool {
	for _, a := range args {
		for _, f := range []string{"--bip", "--bridge", "-b"} {
			if a == f || strings.HasPrefix(a, f+"=") {
				return true
			}
		}
	}
	return false
}
