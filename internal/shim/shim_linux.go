package shim

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/logs"
	"golang.org/x/sys/unix"
)

// shim is the supervisor of one container, in the berth-shim process.
type shim struct {
	cfg        *Config
	devnull    *os.File
	reaper     *reaper
	runtimeEnv []string
	warm       *warmRuntime // a pooled shim's runtime, until create uses or drops it
	// createdHere: the create ran in this process (warm_linux.go), whose
	// garbage the shim collects once it has been idle (collectOnce).
	createdHere bool
	collected   sync.Once
	lock        *os.File
	ln          *net.UnixListener
	lnFile      *os.File // the listener's socket, as serve waits on it
	addr        *sockAddr
	init        *process
	// initOwnsPidNS: the init is pid 1 of its own pid namespace, so that
	// SIGKILL to it ends every process of the container.
	initOwnsPidNS bool
	// held is the init's executable, kept until its start is answered,
	// and its mount namespace, until its exit is (held_linux.go); empty
	// once released, and after a hibernation.
	held      initHold
	oom       *oomCounter
	logFailed bool
	// behind: the shim still has the pool's background priority
	// (priority_linux.go).
	behind atomic.Bool
	// initReaped is set as soon as the init is reaped, before its exit
	// is recorded and long before p.exited (the output may take time):
	// a runtime command failing after it raced the exit.
	initReaped atomic.Bool

	mu       sync.Mutex
	execs    map[string]*process
	deleting bool
	frozen   bool          // paused through the shim: a direct start would wait for the thaw
	removal  *removal      // the container's `runtime delete`, once begun
	inflight int           // calls being answered, Delete aside
	idle     chan struct{} // closed when inflight drops to 0, if set
	done     chan struct{} // closed when the shim should exit: the container was deleted
	// initWaits are the connections of the clients waiting for the
	// init's exit: the only calls a hibernating shim hands over.
	initWaits map[*net.UnixConn]struct{}

	// gate is read-held by each accept and each output delivery in
	// progress, and held by hibernate (hibernate_linux.go).
	gate        sync.RWMutex
	lastActive  atomic.Int64 // unix nanoseconds of the last connection or output
	watchingIdl sync.Once
}

func (s *shim) path(name string) string { return filepath.Join(s.cfg.StateDir, name) }

// newShim takes over dir, creates the container and starts copying its
// output; it returns once the socket listens.
//
// A pooled shim passes the reaper it already runs, /dev/null and its
// warm runtime (nil for none); others pass nils.
func newShim(dir string, r *reaper, devnull *os.File, warm *warmRuntime, background bool) (*shim, error) {
	if r == nil {
		r = newReaper()
	}
	cfg, err := readConfig(dir)
	if err != nil {
		if background {
			leaveBackground()
		}
		warm.abort()
		return nil, err
	}
	s := &shim{cfg: cfg, reaper: r, runtimeEnv: runtimeEnv(), warm: warm, devnull: devnull, execs: map[string]*process{}, done: make(chan struct{}), initWaits: map[*net.UnixConn]struct{}{}}
	if background {
		s.behind.Store(true)
		if cfg.Ahead {
			defer s.watchHurry()()
		} else {
			s.foreground()
		}
	}
	// Whatever happens below, a warm runtime create did not use is gone
	// when newShim returns.
	defer func() {
		s.warm.abort()
		s.warm = nil
	}()
	if s.devnull == nil {
		if s.devnull, err = os.OpenFile(os.DevNull, os.O_RDWR, 0); err != nil {
			return nil, err
		}
	}
	if s.lock, err = lockState(dir, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, errdefs.Errorf(errdefs.ErrConflict, "a shim already runs in %s", dir)
		}
		return nil, err
	}
	// Container processes are re-parented to the shim when the runtime
	// command that started them exits: the shim reaps them and learns
	// their exit status.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, os.NewSyscallError("prctl(PR_SET_CHILD_SUBREAPER)", err)
	}
	for _, f := range []string{exitFile, initPidFile} {
		os.Remove(s.path(f))
	}
	if err := s.create(); err != nil {
		if s.ln != nil {
			s.ln.Close()
		}
		return nil, err
	}
	return s, nil
}

// setup does the shim's own part of the start, while `runtime create`
// runs: the socket, the pid file and the container's log.
func (s *shim) setup(p *process) error {
	if err := s.listen(); err != nil {
		return err
	}
	// A symlink to the pid, as /proc/self: its target lives in the
	// inode, where a file's five bytes would take a page of the tmpfs.
	os.Remove(s.path(shimPidFile))
	if err := os.Symlink(strconv.Itoa(os.Getpid()), s.path(shimPidFile)); err != nil {
		return err
	}
	if s.cfg.LogDriver != logs.None {
		w, err := logs.NewWriterAttrs(s.cfg.LogDriver, s.cfg.LogPath, s.cfg.LogOpts, s.cfg.LogAttrs)
		if err != nil {
			return err
		}
		p.log = w
	}
	return nil
}

func (s *shim) listen() error {
	os.Remove(s.path(socketFile))
	addr, err := newSockAddr(s.cfg.StateDir, socketFile)
	if err != nil {
		return err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: addr.path, Net: "unix"})
	if err != nil {
		addr.close()
		return err
	}
	ln.SetUnlinkOnClose(false)
	s.ln, s.addr = ln, addr
	return nil
}

// create runs `runtime create` for the init, and sets the shim up
// meanwhile.
func (s *shim) create() error {
	p := newProcess(s, "", s.cfg.Terminal, s.cfg.OpenStdin)
	p.stdinOnce = s.cfg.StdinOnce
	sio, err := p.prepareIO("init")
	if err != nil {
		return err
	}
	var cmd *runtimeCmd
	if w := s.takeWarm(); w != nil {
		cmd = s.createInProcess(w, sio)
	} else {
		args := append([]string{"create", "--bundle", s.cfg.Bundle, "--pid-file", s.path(initPidFile)}, sio.consoleArgs()...)
		if cmd, err = s.startRuntime(sio.runIO, append(args, s.cfg.ID)...); err != nil {
			sio.abort()
			return err
		}
	}
	err = s.setup(p)
	if _, werr := cmd.wait(); err == nil {
		err = werr
	}
	if err != nil {
		if p.log != nil {
			p.log.Close()
		}
		sio.abort()
		s.cleanupRuntime()
		return err
	}
	// Read once: the pid lives on in the shim (and its hibernated state), and a
	// file kept for it would hold a page of the tmpfs for nothing.
	pid, err := readPid(s.path(initPidFile))
	os.Remove(s.path(initPidFile))
	if err != nil {
		sio.abort()
		s.cleanupRuntime()
		return err
	}
	p.pid = pid
	s.initOwnsPidNS = isPidNamespaceInit(pid)
	s.held = holdInit(pid)
	ch := s.reaper.adopt(pid)
	s.oom = newOOMCounter(pid)
	if err := p.attachIO(sio); err != nil {
		sio.abort()
		s.cleanupRuntime()
		return err
	}
	s.init = p
	go func() {
		// Until the runtime process is gone the init is its child, not
		// ours: an exit then could not be reaped here.
		<-cmd.gone
		s.watchInit(p, ch)
	}()
	return nil
}

// takeWarm returns the shim's warm runtime if it serves the container's
// config, and drops it otherwise. Only create, in newShim before any call
// is served, uses it.
func (s *shim) takeWarm() *warmRuntime {
	w := s.warm
	s.warm = nil
	if w != nil && !w.serves(s.cfg) {
		w.abort()
		w = nil
	}
	return w
}

// createInProcess runs the container's create in the shim's warm
// runtime, in the background as a runtime command would run.
func (s *shim) createInProcess(w *warmRuntime, sio *stdio) *runtimeCmd {
	c := &runtimeCmd{s: s, cmd: "create", gone: make(chan struct{}), done: make(chan error, 1)}
	orNull := func(f *os.File) *os.File {
		if f == nil {
			return s.devnull
		}
		return f
	}
	o := CreateOptions{PidFile: s.path(initPidFile),
		Stdin: orNull(sio.stdin), Stdout: orNull(sio.stdout), Stderr: orNull(sio.stderr)}
	if sio.consoleSock != nil {
		o.ConsoleSocket = sio.consoleSock.addr.path
	}
	s.createdHere = true
	go func() {
		c.done <- w.impl.Create(s.cfg.ID, s.cfg.Bundle, o)
		close(c.gone)
	}()
	return c
}

// cleanupRuntime removes what a failed create may have left.
func (s *shim) cleanupRuntime() {
	s.run(runIO{}, "delete", "--force", s.cfg.ID)
}

// ioGrace is how long, after a process exited, its output may take to
// reach EOF. Only processes outside the container's pid namespace (a
// container sharing the host's) can hold the pipes longer; their output
// is cut then, so that Wait cannot hang on them.
const ioGrace = 2 * time.Second

// watchInit waits for the init to exit and records it: exit.json first,
// then the output is flushed, then waiters are answered.
func (s *shim) watchInit(p *process, ch <-chan unix.WaitStatus) {
	ws, ok := s.reaper.wait(p.pid, ch)
	s.initReaped.Store(true)
	st := exitStatus(ws, ok)
	st.OOMKilled = s.oom.killed()
	if err := writeExitFile(s.cfg.StateDir, st); err != nil {
		slog.Error("recording the exit status", "err", err)
	}
	s.finishOutput(p)
	p.release()
	if p.log != nil {
		p.log.Close()
	}
	p.mu.Lock()
	p.status, p.exit = StatusStopped, st
	p.mu.Unlock()
	s.failUnstartedExecs()
	close(p.exited)
	s.releaseInit()
	// The runtime's record goes once the answers to waits have left: on
	// the shim's one thread, its removal (a dozen directories) otherwise
	// ran before them, on the path of every `run --rm`.
	runtime.Gosched()
	s.removeEarly()
}

// failUnstartedExecs ends the execs that can no longer start, so that
// their attached clients and waiters are not left hanging.
func (s *shim) failUnstartedExecs() {
	s.mu.Lock()
	var dead []*process
	for _, e := range s.execs {
		e.mu.Lock()
		if e.status == StatusCreated && !e.starting {
			e.starting = true
			dead = append(dead, e)
		}
		e.mu.Unlock()
	}
	s.mu.Unlock()
	for _, e := range dead {
		e.failStart(errdefs.Errorf(errdefs.ErrConflict, "container %s is not running", s.cfg.ID))
	}
}

func (s *shim) finishOutput(p *process) {
	select {
	case <-p.outputEnd:
		return
	default:
	}
	t := time.NewTimer(ioGrace)
	defer t.Stop()
	select {
	case <-p.outputEnd:
	case <-t.C:
		p.stopOutput()
		<-p.outputEnd
	}
}

// exitStatus turns a wait status into docker's terms.
func exitStatus(ws unix.WaitStatus, known bool) ExitStatus {
	st := ExitStatus{ExitedAt: time.Now().UTC()}
	switch {
	case !known:
		st.Code = 255
	case ws.Signaled():
		st.Code = 128 + int(ws.Signal())
		st.Signal = unix.SignalName(ws.Signal())
	default:
		st.Code = ws.ExitStatus()
	}
	return st
}

// serve answers connections until the container is deleted.
func (s *shim) serve() {
	// A listener's RawConn cannot wait for readiness; a file on the same
	// socket can.
	fd, err := unix.FcntlInt(uintptr(rawFD(s.ln)), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		slog.Error("listener", "err", err)
		return
	}
	s.lnFile = os.NewFile(uintptr(fd), "listener")
	rc, err := s.lnFile.SyscallConn()
	if err != nil {
		slog.Error("listener", "err", err)
		return
	}
	for {
		conn, err := s.accept(rc)
		if err != nil {
			select {
			case <-s.done:
				// Deleted: the handler exits the process once it answered.
				select {}
			default:
			}
			// Out of descriptors, most likely: let some close.
			slog.Error("accept", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		go s.handle(conn)
	}
}

// acceptQueued takes the connections waiting on the socket and answers
// them, without waiting for more.
func (s *shim) acceptQueued() {
	if s.lnFile == nil {
		return
	}
	rc, err := s.lnFile.SyscallConn()
	if err != nil {
		return
	}
	for {
		nfd := -1
		rc.Control(func(fd uintptr) {
			r, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, fd, 0, 0, unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0, 0)
			if errno == 0 {
				nfd = int(r)
			}
		})
		if nfd < 0 {
			return
		}
		callStarted()
		f := os.NewFile(uintptr(nfd), "conn")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			callDone()
			continue
		}
		// Counted now, so that the deleted shim waits for its answer
		// (awaitCalls) before it exits.
		s.callBegins()
		go func() {
			defer s.callEnds()
			s.handle(c.(*net.UnixConn))
		}()
	}
}

// accept takes one connection, counted as a call (callStarted) before the
// gate opens again: a hibernation never overlaps a connection taken from
// the socket but not yet counted.
func (s *shim) accept(rc syscall.RawConn) (*net.UnixConn, error) {
	nfd := -1
	var aerr error
	err := rc.Read(func(fd uintptr) bool {
		s.gate.RLock()
		// The raw call: the peer's address (unnamed) is of no use, and
		// x/sys's conversion of it fails.
		r, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, fd, 0, 0, unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0, 0)
		nfd, aerr = int(r), nil
		if errno != 0 {
			aerr = errno
		}
		if aerr == unix.EAGAIN || aerr == unix.EINTR || aerr == unix.ECONNABORTED {
			s.gate.RUnlock()
			return false
		}
		if aerr != nil {
			s.gate.RUnlock()
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if aerr != nil {
		return nil, os.NewSyscallError("accept4", aerr)
	}
	callStarted()
	s.touch()
	s.gate.RUnlock()
	f := os.NewFile(uintptr(nfd), "conn")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		callDone()
		return nil, err
	}
	return c.(*net.UnixConn), nil
}

// exit removes the runtime bits of the state directory; exit.json,
// config.json and shim.log stay for the daemon.
func (s *shim) exit() {
	s.ln.Close()
	if s.lnFile != nil {
		s.lnFile.Close()
	}
	s.addr.close()
	for _, f := range []string{socketFile, shimPidFile, initPidFile, runtimeLogFile} {
		os.Remove(s.path(f))
	}
	// The directory is free for a new shim (a restart) from now on, even
	// while this process finishes exiting.
	unlock(s.lock)
}

// handle answers one connection, counted by accept.
func (s *shim) handle(conn *net.UnixConn) {
	defer callDone()
	s.foreground()
	var req request
	if err := readMsg(conn, &req); err != nil {
		conn.Close()
		return
	}
	if req.Op == opAttach {
		s.attach(conn, &req)
		return
	}
	if req.Op != opDelete {
		s.callBegins()
		defer s.callEnds()
	}
	resp := s.dispatch(conn, &req)
	deleted := req.Op == opDelete && resp.Error == ""
	if deleted {
		// Gone from the directory before the caller hears of it.
		close(s.done)
		// Calls already queued on the socket (a Wait sent just before
		// the Delete) are answered, not reset with it.
		s.acceptQueued()
		s.exit()
	}
	writeMsg(conn, resp)
	conn.Close()
	if req.Op == opStart {
		s.releaseInitExe()
	}
	if deleted {
		// Waiters released by the exit may still be writing their
		// answers: let them finish.
		s.awaitCalls(2 * time.Second)
		os.Exit(0)
	}
}

func (s *shim) callBegins() {
	s.mu.Lock()
	s.inflight++
	s.mu.Unlock()
}

func (s *shim) callEnds() {
	s.mu.Lock()
	s.inflight--
	if s.inflight == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
	s.mu.Unlock()
}

// awaitCalls waits, up to limit, for the calls in progress to end.
func (s *shim) awaitCalls(limit time.Duration) {
	s.mu.Lock()
	if s.inflight == 0 {
		s.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	s.idle = ch
	s.mu.Unlock()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	}
}

func (s *shim) dispatch(conn *net.UnixConn, req *request) response {
	r, err := s.do(conn, req)
	if err != nil {
		return errorResponse(err)
	}
	return r
}

func (s *shim) do(conn *net.UnixConn, req *request) (response, error) {
	switch req.Op {
	case opPing:
		return response{}, nil
	case opStart:
		pid, err := s.start()
		return response{Pid: pid}, err
	case opState:
		st := s.state()
		return response{State: &st}, nil
	case opWait:
		return s.wait(conn, s.init)
	case opKill:
		return response{}, s.kill(unix.Signal(req.Signal), req.All)
	case opKillExec:
		return response{}, s.killExec(req.Exec, unix.Signal(req.Signal))
	case opPause:
		return response{}, s.pause()
	case opResume:
		return response{}, s.resume()
	case opUpdate:
		return response{}, s.update(req.Resources)
	case opStats:
		out, err := s.run(runIO{}, "events", "--stats", s.cfg.ID)
		return response{Raw: firstLine(out)}, err
	case opPids:
		out, err := s.run(runIO{}, "ps", "--format", "json", s.cfg.ID)
		return response{Raw: firstLine(out)}, err
	case opResize:
		p, err := s.process(req.Exec)
		if err != nil {
			return response{}, err
		}
		if err := p.resize(req.Width, req.Height); err != nil {
			return response{}, errdefs.Errorf(errdefs.ErrConflict, "resize: %v", err)
		}
		return response{}, nil
	case opCloseStdin:
		p, err := s.process(req.Exec)
		if err != nil {
			return response{}, err
		}
		p.closeStdin()
		return response{}, nil
	case opExec:
		return response{}, s.exec(req)
	case opStartExec:
		pid, err := s.startExec(req.Exec)
		return response{Pid: pid}, err
	case opWaitExec:
		p, err := s.process(req.Exec)
		if err != nil {
			return response{}, err
		}
		return s.wait(conn, p)
	case opDelete:
		return response{}, s.delete()
	default:
		return response{}, errdefs.Errorf(errdefs.ErrNotImplemented, "shim: unknown operation %q", req.Op)
	}
}

// firstLine trims a runtime's output to its first line: events prints one
// JSON object a line.
func firstLine(out []byte) []byte {
	for i, b := range out {
		if b == '\n' {
			return out[:i]
		}
	}
	return out
}

// process finds the init ("") or an exec.
func (s *shim) process(id string) (*process, error) {
	if id == "" {
		return s.init, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.execs[id]
	if !ok {
		return nil, errdefs.Errorf(errdefs.ErrNotFound, "no such exec: %s", id)
	}
	return p, nil
}

func (s *shim) start() (int, error) {
	p := s.init
	p.mu.Lock()
	status := p.status
	p.mu.Unlock()
	if status != StatusCreated {
		return 0, errdefs.Errorf(errdefs.ErrConflict, "container %s is %s, not created", s.cfg.ID, status)
	}
	s.mu.Lock()
	frozen := s.frozen
	s.mu.Unlock()
	err := errUseRuntime
	if !frozen {
		err = s.directStart()
	}
	if errors.Is(err, errUseRuntime) {
		_, err = s.run(runIO{}, "start", s.cfg.ID)
	}
	if err != nil {
		return 0, err
	}
	p.mu.Lock()
	if p.status == StatusCreated {
		p.status = StatusRunning
	}
	p.mu.Unlock()
	if s.cfg.HibernateAfter > 0 {
		s.watchingIdl.Do(func() {
			s.touch()
			go s.watchIdle()
		})
	} else if s.createdHere {
		time.AfterFunc(idleCollectAfter, s.collectOnce)
	}
	return p.pid, nil
}

func (s *shim) state() State {
	p := s.init
	p.mu.Lock()
	st := State{Pid: p.pid, Status: p.status}
	if p.status == StatusStopped {
		exit := p.exit
		st.Exit = &exit
	}
	p.mu.Unlock()
	s.mu.Lock()
	for id, e := range s.execs {
		e.mu.Lock()
		es := ExecState{ID: id, Pid: e.pid, Status: e.status}
		if e.status == StatusStopped {
			exit := e.exit
			es.Exit = &exit
		}
		e.mu.Unlock()
		st.Execs = append(st.Execs, es)
	}
	s.mu.Unlock()
	return st
}

// wait answers once p has exited and its output was delivered, or drops
// the call when the client goes away.
func (s *shim) wait(conn *net.UnixConn, p *process) (response, error) {
	if p == s.init {
		s.mu.Lock()
		s.initWaits[conn] = struct{}{}
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			delete(s.initWaits, conn)
			s.mu.Unlock()
		}()
	}
	select {
	case <-p.exited:
	case <-hangup(conn):
		return response{}, errors.New("client gone")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.startErr != nil {
		return response{}, p.startErr
	}
	exit := p.exit
	return response{Exit: &exit}, nil
}

// hangup is closed when the client closes its connection: a client that
// waits sends nothing more, so any read's end is its departure.
func hangup(conn *net.UnixConn) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		var b [1]byte
		conn.Read(b[:])
		close(ch)
	}()
	return ch
}

func (s *shim) kill(sig unix.Signal, all bool) error {
	p := s.init
	p.mu.Lock()
	status := p.status
	p.mu.Unlock()
	s.mu.Lock()
	frozen := s.frozen
	s.mu.Unlock()
	if all && sig == unix.SIGKILL && s.initOwnsPidNS && status != StatusPaused && !frozen {
		// The kernel kills every process of a pid namespace with its
		// init: SIGKILL to the init is what `runtime kill --all` would
		// do, without a process start of the runtime (every docker rm -f
		// and kill).
		all = false
	}
	if all {
		if _, err := s.run(runIO{}, "kill", "--all", s.cfg.ID, strconv.Itoa(int(sig))); err != nil {
			return err
		}
	} else if err := s.reaper.signal(p.pid, sig); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return errdefs.Errorf(errdefs.ErrNotFound, "process already finished")
		}
		return err
	}
	if status == StatusPaused && sig == unix.SIGKILL {
		// A frozen process dies only once thawed. The runtime may have
		// thawed it already (kill --all does): then resume has nothing to
		// do and fails, harmlessly.
		s.resume()
	}
	return nil
}

// killExec signals an exec's process, not the init (a health check
// past its timeout).
func (s *shim) killExec(id string, sig unix.Signal) error {
	if id == "" {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "shim: killExec needs an exec")
	}
	p, err := s.process(id)
	if err != nil {
		return err
	}
	p.mu.Lock()
	pid := p.pid
	p.mu.Unlock()
	if pid == 0 {
		return errdefs.Errorf(errdefs.ErrConflict, "exec %s has not started", id)
	}
	// The reaper signals only a child it has not reaped: never a reused pid.
	if err := s.reaper.signal(pid, sig); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return errdefs.Errorf(errdefs.ErrNotFound, "process already finished")
		}
		return err
	}
	return nil
}

func (s *shim) pause() error {
	if _, err := s.run(runIO{}, "pause", s.cfg.ID); err != nil {
		return s.raced(err, "running")
	}
	s.mu.Lock()
	s.frozen = true
	s.mu.Unlock()
	s.setStatus(StatusRunning, StatusPaused)
	return nil
}

func (s *shim) resume() error {
	if _, err := s.run(runIO{}, "resume", s.cfg.ID); err != nil {
		return s.raced(err, "paused")
	}
	s.mu.Lock()
	s.frozen = false
	s.mu.Unlock()
	s.setStatus(StatusPaused, StatusRunning)
	return nil
}

func (s *shim) setStatus(from, to string) {
	p := s.init
	p.mu.Lock()
	if p.status == from {
		p.status = to
	}
	p.mu.Unlock()
}

func (s *shim) update(resources json.RawMessage) error {
	f, err := os.CreateTemp(s.cfg.StateDir, "resources-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(resources)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if _, err = s.run(runIO{}, "update", "-r", f.Name(), s.cfg.ID); err != nil {
		return s.raced(err, "")
	}
	return nil
}

// raced classifies the failure of a runtime command that needs the
// container in state want ("" for running or paused). A caller that raced
// a change of state (the exit, which the daemon's record shows only once
// it has handled it, or a thaw by kill --all for a SIGKILL) gets docker's
// conflict, not a server error: the init has been reaped, or the runtime
// says the container is in another state now.
func (s *shim) raced(err error, want string) error {
	exited := func() bool { return s.initReaped.Load() }
	if exited() {
		return errdefs.Errorf(errdefs.ErrConflict, "container %s is not running: %v", s.cfg.ID, err)
	}
	if want == "" {
		return err
	}
	// The failure path only: one more runtime command.
	out, serr := s.run(runIO{}, "state", s.cfg.ID)
	if exited() {
		// Thawed and gone while we asked (a stop of a paused
		// container): the runtime may not know it any more.
		return errdefs.Errorf(errdefs.ErrConflict, "container %s is not running: %v", s.cfg.ID, err)
	}
	var st struct {
		Status string `json:"status"`
	}
	if serr != nil || json.Unmarshal(out, &st) != nil || st.Status == want {
		return err
	}
	return errdefs.Errorf(errdefs.ErrConflict, "container %s is %s, not %s: %v", s.cfg.ID, st.Status, want, err)
}

func (s *shim) exec(req *request) error {
	var proc struct {
		Terminal bool `json:"terminal"`
	}
	if err := json.Unmarshal(req.Process, &proc); err != nil {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "exec %s: bad process: %v", req.Exec, err)
	}
	select {
	case <-s.init.exited:
		return errdefs.Errorf(errdefs.ErrConflict, "container %s is not running", s.cfg.ID)
	default:
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.deleting {
		return errdefs.Errorf(errdefs.ErrConflict, "container %s is being deleted", s.cfg.ID)
	}
	if _, ok := s.execs[req.Exec]; ok {
		return errdefs.Errorf(errdefs.ErrConflict, "exec %s already exists", req.Exec)
	}
	s.pruneExecsLocked()
	p := newProcess(s, req.Exec, proc.Terminal, req.OpenStdin)
	p.spec = req.Process
	s.execs[req.Exec] = p
	return nil
}

// keptExecs is how many finished execs the shim remembers: health checks
// exec every few seconds for the container's whole life, and the daemon
// keeps its own records.
const keptExecs = 16

// pruneExecsLocked forgets the oldest finished execs beyond keptExecs.
func (s *shim) pruneExecsLocked() {
	type done struct {
		id string
		at time.Time
	}
	var finished []done
	for id, e := range s.execs {
		e.mu.Lock()
		if e.status == StatusStopped {
			finished = append(finished, done{id, e.exit.ExitedAt})
		}
		e.mu.Unlock()
	}
	if len(finished) <= keptExecs {
		return
	}
	slices.SortFunc(finished, func(a, b done) int { return a.at.Compare(b.at) })
	for _, d := range finished[:len(finished)-keptExecs] {
		delete(s.execs, d.id)
	}
}

func (s *shim) startExec(id string) (int, error) {
	p, err := s.process(id)
	if err != nil {
		return 0, err
	}
	p.mu.Lock()
	if p.status != StatusCreated || p.starting {
		p.mu.Unlock()
		return 0, errdefs.Errorf(errdefs.ErrConflict, "exec %s already started", id)
	}
	p.starting = true
	p.mu.Unlock()
	pid, err := s.runExec(p)
	if err != nil {
		p.failStart(err)
		return 0, err
	}
	return pid, nil
}

func (s *shim) runExec(p *process) (int, error) {
	specFile, pidFile := s.path("exec-"+p.id+".json"), s.path("exec-"+p.id+".pid")
	if err := os.WriteFile(specFile, p.spec, 0o600); err != nil {
		return 0, err
	}
	p.spec = nil
	defer os.Remove(specFile)
	sio, err := p.prepareIO("exec-" + p.id)
	if err != nil {
		return 0, err
	}
	args := append([]string{"exec", "--detach", "--process", specFile, "--pid-file", pidFile}, sio.consoleArgs()...)
	if _, err := s.run(sio.runIO, append(args, s.cfg.ID)...); err != nil {
		sio.abort()
		return 0, err
	}
	pid, err := readPid(pidFile)
	os.Remove(pidFile)
	if err != nil {
		sio.abort()
		return 0, err
	}
	ch := s.reaper.adopt(pid)
	p.mu.Lock()
	p.pid = pid
	p.mu.Unlock()
	if err := p.attachIO(sio); err != nil {
		// No stdio: the process must not run unseen. failStart answers
		// its waiters; the reaper collects it.
		sio.abort()
		s.reaper.signal(pid, unix.SIGKILL)
		go s.reaper.wait(pid, ch)
		return 0, err
	}
	p.mu.Lock()
	if p.status == StatusCreated {
		p.status = StatusRunning
	}
	p.mu.Unlock()
	go s.watchExec(p, ch)
	return pid, nil
}

func (s *shim) watchExec(p *process, ch <-chan unix.WaitStatus) {
	ws, ok := s.reaper.wait(p.pid, ch)
	st := exitStatus(ws, ok)
	s.finishOutput(p)
	p.release()
	p.mu.Lock()
	p.status, p.exit = StatusStopped, st
	p.mu.Unlock()
	close(p.exited)
}

// removal is one `runtime delete` of the container: the shim's own once
// the init has exited (removeEarly), or Delete's.
type removal struct {
	done chan struct{} // closed once err is set
	err  error
}

// removeEarly deletes the container from the runtime as soon as its init
// has exited and the exit is announced: the daemon's Delete, which
// always follows, then only waits for it (where the runtime's delete
// command is needed, it costs a process start, a few milliseconds of
// every `run --rm`). Nothing needs
// the runtime's record of a stopped container; the shim's exit record is
// written before. A failure is Delete's to retry and report.
func (s *shim) removeEarly() {
	s.mu.Lock()
	if s.removal != nil {
		s.mu.Unlock()
		return
	}
	r := &removal{done: make(chan struct{})}
	s.removal = r
	s.mu.Unlock()
	r.err = s.removeStopped()
	close(r.done)
}

// removeStopped deletes the container, whose init has exited, from the
// runtime: directly when berth-runtime offers it, else with `runtime
// delete`.
func (s *shim) removeStopped() error {
	err := s.directDelete()
	if errors.Is(err, errUseRuntime) {
		_, err = s.run(runIO{}, "delete", s.cfg.ID)
	}
	return err
}

// delete removes the container from the runtime, killing it first if it
// still runs, and waits for its exit to be recorded.
func (s *shim) delete() error {
	s.mu.Lock()
	if s.deleting {
		s.mu.Unlock()
		return errdefs.Errorf(errdefs.ErrConflict, "container %s is already being deleted", s.cfg.ID)
	}
	s.deleting = true
	early := s.removal
	r := &removal{done: make(chan struct{})}
	if early == nil {
		s.removal = r
	}
	s.mu.Unlock()
	p := s.init
	if early != nil {
		<-early.done
		if early.err == nil {
			<-p.exited
			return nil
		}
		// Try again, and report this one.
		s.mu.Lock()
		s.removal = r
		s.mu.Unlock()
	}
	select {
	case <-p.exited:
		r.err = s.removeStopped()
	default:
		_, r.err = s.run(runIO{}, "delete", "--force", s.cfg.ID)
	}
	close(r.done)
	if r.err != nil {
		s.mu.Lock()
		s.deleting = false
		s.removal = nil
		s.mu.Unlock()
		return fmt.Errorf("delete %s: %w", s.cfg.ID, r.err)
	}
	<-p.exited
	return nil
}
