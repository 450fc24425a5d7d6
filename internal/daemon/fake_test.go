package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/shim"
)

// fakeLauncher stands in for the shim: each "process" is a goroutine-free
// state machine that interprets the container's command (read from the
// bundle's config.json, as the runtime would):
//
//	echo ARGS...   prints ARGS and exits 0
//	sh -c "exit N" exits N at once
//	true / false   exit 0 / 1
//	anything else  runs until killed (exit 128+signal)
//
// Processes outlive their clients (Close), like shims outlive the daemon;
// killShim makes one vanish, with or without its exit file.
type fakeLauncher struct {
	mu     sync.Mutex
	procs  map[string]*fakeProc // by state dir
	nextID int
	// startErr, when set, fails the runtime's create.
	startErr error
	// startGate, when set, holds every task's Start until it is closed;
	// startHeld then gets a value for each Start held.
	startGate, startHeld chan struct{}
	// execHook, when set, runs at the start of every task's Exec;
	// startExecHook at the start of every StartExec.
	execHook, startExecHook func(*fakeTask)
}

func newFakeLauncher() *fakeLauncher {
	return &fakeLauncher{procs: map[string]*fakeProc{}}
}

type fakeProc struct {
	mu       sync.Mutex
	cfg      taskConfig
	argv     []string
	state    string // created running paused stopped deleted
	pid      int
	exit     *container.ExitStatus
	done     chan struct{}
	attaches []*fakeAttach
	execs    map[string]*fakeExec
	shimDead bool
	// exitFile: the shim recorded the exit before dying.
	exitFile bool
	started  time.Time
	// spec is the bundle's config.json as the create read it (the daemon
	// removes it once the task is made).
	spec []byte
}

type fakeAttach struct {
	opts container.AttachOptions
	done chan struct{}
}

type fakeExec struct {
	argv  []string
	exit  *container.ExitStatus
	done  chan struct{}
	atts  []container.AttachOptions
	start bool
}

type fakeTask struct {
	l      *fakeLauncher
	p      *fakeProc
	mu     sync.Mutex
	closed chan struct{}
}

func (l *fakeLauncher) Start(ctx context.Context, cfg taskConfig) (container.Task, error) {
	if l.startErr != nil {
		return nil, l.startErr
	}
	b, err := os.ReadFile(filepath.Join(cfg.Bundle, "config.json"))
	if err != nil {
		return nil, err
	}
	var sp specs.Spec
	if err := json.Unmarshal(b, &sp); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.nextID++
	p := &fakeProc{cfg: cfg, argv: sp.Process.Args, state: "created", pid: 10000 + l.nextID,
		done: make(chan struct{}), execs: map[string]*fakeExec{}, spec: b}
	l.procs[cfg.StateDir] = p
	return l.client(p), nil
}

func (l *fakeLauncher) client(p *fakeProc) *fakeTask {
	return &fakeTask{l: l, p: p, closed: make(chan struct{})}
}

func (l *fakeLauncher) Connect(ctx context.Context, stateDir string) (container.Task, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.procs[stateDir]
	if !ok || p.shimDead {
		return nil, errdefs.Errorf(errdefs.ErrNotFound, "no shim in %s", stateDir)
	}
	return l.client(p), nil
}

func (l *fakeLauncher) ReadProcess(stateDir string) ([]byte, error) {
	p := l.proc(stateDir)
	if p == nil || len(p.cfg.Process) == 0 {
		return nil, fs.ErrNotExist
	}
	return p.cfg.Process, nil
}

func (l *fakeLauncher) ReadExit(stateDir string) (container.ExitStatus, bool, error) {
	l.mu.Lock()
	p, ok := l.procs[stateDir]
	l.mu.Unlock()
	if !ok {
		return container.ExitStatus{}, false, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exit != nil && p.exitFile {
		return *p.exit, true, nil
	}
	return container.ExitStatus{}, false, nil
}

// proc finds the process of a container.
func (l *fakeLauncher) proc(stateDir string) *fakeProc {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.procs[stateDir]
}

// killShim makes the shim of stateDir vanish; the container ends with code
// (recorded in the exit file when exitFile).
func (l *fakeLauncher) killShim(stateDir string, code int, exitFile bool) {
	p := l.proc(stateDir)
	p.mu.Lock()
	p.shimDead = true
	p.exitFile = exitFile
	p.mu.Unlock()
	p.finish(code, false)
}

func (p *fakeProc) finish(code int, oom bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exit != nil {
		return
	}
	p.exit = &container.ExitStatus{Code: code, ExitedAt: time.Now().UTC(), OOMKilled: oom}
	p.state = "stopped"
	close(p.done)
	for _, a := range p.attaches {
		close(a.done)
	}
	p.attaches = nil
}

// run interprets argv: output and exit code; forever means until killed.
func interpret(argv []string) (out string, code int, forever bool) {
	if len(argv) == 0 {
		return "", 127, false
	}
	switch filepath.Base(argv[0]) {
	case "echo":
		return strings.Join(argv[1:], " ") + "\n", 0, false
	case "true":
		return "", 0, false
	case "false":
		return "", 1, false
	case "sh":
		if len(argv) == 3 && argv[1] == "-c" {
			if rest, ok := strings.CutPrefix(argv[2], "exit "); ok {
				n, _ := strconv.Atoi(rest)
				return "", n, false
			}
		}
	}
	return "", 0, true
}

func (t *fakeTask) conn() error {
	select {
	case <-t.closed:
		return errdefs.Errorf(errdefs.ErrUnavailable, "connection closed")
	default:
	}
	t.p.mu.Lock()
	dead := t.p.shimDead
	t.p.mu.Unlock()
	if dead {
		return errdefs.Errorf(errdefs.ErrUnavailable, "shim gone")
	}
	return nil
}

func (t *fakeTask) Start(ctx context.Context) (int, error) {
	if err := t.conn(); err != nil {
		return 0, err
	}
	t.l.mu.Lock()
	gate, held := t.l.startGate, t.l.startHeld
	t.l.mu.Unlock()
	if gate != nil {
		held <- struct{}{}
		<-gate
	}
	p := t.p
	out, code, forever := interpret(p.argv)
	p.mu.Lock()
	if p.state != "created" {
		p.mu.Unlock()
		return 0, errdefs.Errorf(errdefs.ErrConflict, "not created")
	}
	p.state = "running"
	p.started = time.Now()
	for _, a := range p.attaches {
		if a.opts.Stdout != nil && out != "" {
			_, _ = io.WriteString(a.opts.Stdout, out)
		}
	}
	pid := p.pid
	p.mu.Unlock()
	if !forever {
		p.finish(code, false)
	}
	return pid, nil
}

func (t *fakeTask) Attach(ctx context.Context, opts container.AttachOptions) error {
	if err := t.conn(); err != nil {
		return err
	}
	p := t.p
	if opts.ExecID != "" {
		p.mu.Lock()
		e, ok := p.execs[opts.ExecID]
		if ok {
			e.atts = append(e.atts, opts)
		}
		p.mu.Unlock()
		if ok && opts.Attached != nil {
			opts.Attached()
		}
		if !ok {
			return errdefs.Errorf(errdefs.ErrNotFound, "no exec %s", opts.ExecID)
		}
		select {
		case <-e.done:
		case <-ctx.Done():
		}
		return nil
	}
	a := &fakeAttach{opts: opts, done: make(chan struct{})}
	p.mu.Lock()
	if p.exit != nil {
		p.mu.Unlock()
		return nil
	}
	p.attaches = append(p.attaches, a)
	p.mu.Unlock()
	if opts.Attached != nil {
		opts.Attached()
	}
	select {
	case <-a.done:
	case <-ctx.Done():
	}
	return nil
}

func (t *fakeTask) Wait(ctx context.Context) (container.ExitStatus, error) {
	select {
	case <-t.p.done:
		t.p.mu.Lock()
		defer t.p.mu.Unlock()
		if t.p.shimDead {
			return container.ExitStatus{}, errdefs.Errorf(errdefs.ErrUnavailable, "shim gone")
		}
		return *t.p.exit, nil
	case <-t.closed:
		return container.ExitStatus{}, errdefs.Errorf(errdefs.ErrUnavailable, "connection closed")
	case <-ctx.Done():
		return container.ExitStatus{}, ctx.Err()
	}
}

func (t *fakeTask) State(ctx context.Context) (container.TaskState, error) {
	if err := t.conn(); err != nil {
		return container.TaskState{}, err
	}
	t.p.mu.Lock()
	defer t.p.mu.Unlock()
	return container.TaskState{Pid: t.p.pid, Status: t.p.state, Exit: t.p.exit}, nil
}

func (t *fakeTask) Kill(ctx context.Context, sig syscall.Signal, all bool) error {
	if err := t.conn(); err != nil {
		return err
	}
	t.p.mu.Lock()
	state := t.p.state
	t.p.mu.Unlock()
	if state == "stopped" {
		return errdefs.Errorf(errdefs.ErrNotFound, "process already finished")
	}
	// The fake's processes die of every signal but SIGWINCH and, while
	// "ignoring" SIGTERM (argv[0] "ignoreterm"), SIGTERM.
	if sig == syscall.SIGWINCH || (sig == syscall.SIGTERM && filepath.Base(t.p.argv[0]) == "ignoreterm") {
		return nil
	}
	if state == "paused" && sig != syscall.SIGKILL {
		// Delivered once resumed: the fake delivers it now.
	}
	t.p.finish(128+int(sig), false)
	return nil
}

func (t *fakeTask) Pause(ctx context.Context) error  { return t.setState("running", "paused") }
func (t *fakeTask) Resume(ctx context.Context) error { return t.setState("paused", "running") }

func (t *fakeTask) setState(from, to string) error {
	if err := t.conn(); err != nil {
		return err
	}
	t.p.mu.Lock()
	defer t.p.mu.Unlock()
	if t.p.state != from {
		return errdefs.Errorf(errdefs.ErrConflict, "state %s", t.p.state)
	}
	t.p.state = to
	return nil
}

func (t *fakeTask) Update(ctx context.Context, res *specs.LinuxResources) error { return t.conn() }

func (t *fakeTask) Stats(ctx context.Context) (*container.Stats, error) {
	if err := t.conn(); err != nil {
		return nil, err
	}
	st := &container.Stats{}
	st.CPU.Usage = shim.CPUUsage{Total: 1000, User: 600, Kernel: 400}
	st.Memory.Usage = shim.MemoryEntry{Usage: 4 << 20, Limit: 64 << 20}
	st.Memory.Raw = map[string]uint64{"inactive_file": 1024}
	st.Pids.Current = 1
	st.Blkio.IoServiceBytesRecursive = []shim.BlkioEntry{{Major: 8, Minor: 0, Op: "Read", Value: 4096}}
	return st, nil
}

func (t *fakeTask) Pids(ctx context.Context) ([]int, error) {
	if err := t.conn(); err != nil {
		return nil, err
	}
	return []int{os.Getpid()}, nil
}

func (t *fakeTask) Resize(ctx context.Context, execID string, w, h uint16) error { return t.conn() }
func (t *fakeTask) CloseStdin(ctx context.Context, execID string) error          { return t.conn() }

func (t *fakeTask) Exec(ctx context.Context, cfg container.ExecConfig) error {
	t.l.mu.Lock()
	hook := t.l.execHook
	t.l.mu.Unlock()
	if hook != nil {
		hook(t)
	}
	if err := t.conn(); err != nil {
		return err
	}
	t.p.mu.Lock()
	defer t.p.mu.Unlock()
	if t.p.state != "running" {
		return errdefs.Errorf(errdefs.ErrConflict, "not running")
	}
	t.p.execs[cfg.ID] = &fakeExec{argv: cfg.Process.Args, done: make(chan struct{})}
	return nil
}

func (t *fakeTask) StartExec(ctx context.Context, id string) (int, error) {
	t.l.mu.Lock()
	hook := t.l.startExecHook
	t.l.mu.Unlock()
	if hook != nil {
		hook(t)
	}
	if err := t.conn(); err != nil {
		return 0, err
	}
	t.p.mu.Lock()
	e, ok := t.p.execs[id]
	t.p.mu.Unlock()
	if !ok {
		return 0, errdefs.Errorf(errdefs.ErrNotFound, "no exec %s", id)
	}
	out, code, forever := interpret(e.argv)
	t.p.mu.Lock()
	for _, a := range e.atts {
		if a.Stdout != nil && out != "" {
			_, _ = io.WriteString(a.Stdout, out)
		}
	}
	e.start = true
	if !forever {
		e.exit = &container.ExitStatus{Code: code, ExitedAt: time.Now()}
		close(e.done)
	}
	t.p.mu.Unlock()
	return 20000, nil
}

func (t *fakeTask) KillExec(ctx context.Context, id string, sig syscall.Signal) error {
	if err := t.conn(); err != nil {
		return err
	}
	t.p.mu.Lock()
	defer t.p.mu.Unlock()
	e, ok := t.p.execs[id]
	if !ok || e.exit != nil {
		return errdefs.Errorf(errdefs.ErrNotFound, "no running exec %s", id)
	}
	e.exit = &container.ExitStatus{Code: 128 + int(sig), ExitedAt: time.Now()}
	close(e.done)
	return nil
}

func (t *fakeTask) WaitExec(ctx context.Context, id string) (container.ExitStatus, error) {
	t.p.mu.Lock()
	e, ok := t.p.execs[id]
	t.p.mu.Unlock()
	if !ok {
		return container.ExitStatus{}, errdefs.Errorf(errdefs.ErrNotFound, "no exec %s", id)
	}
	// An exec that ended has its own status, even if the container's
	// end came after (a select would pick either at random).
	select {
	case <-e.done:
		return *e.exit, nil
	default:
	}
	select {
	case <-e.done:
		return *e.exit, nil
	case <-t.p.done:
		return container.ExitStatus{Code: 137}, nil
	case <-ctx.Done():
		return container.ExitStatus{}, ctx.Err()
	}
}

func (t *fakeTask) Delete(ctx context.Context) error {
	if err := t.conn(); err != nil {
		return err
	}
	t.p.mu.Lock()
	defer t.p.mu.Unlock()
	if t.p.state != "stopped" && t.p.state != "created" {
		return errdefs.Errorf(errdefs.ErrConflict, "cannot delete a %s container", t.p.state)
	}
	t.p.state = "deleted"
	t.l.mu.Lock()
	delete(t.l.procs, t.p.cfg.StateDir)
	t.l.mu.Unlock()
	return nil
}

func (t *fakeTask) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	select {
	case <-t.closed:
	default:
		close(t.closed)
	}
	return nil
}

var _ container.Task = (*fakeTask)(nil)
var _ taskLauncher = (*fakeLauncher)(nil)

func (p *fakeProc) String() string { return fmt.Sprintf("%v %s", p.argv, p.state) }
