package shim

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/berth-project/berth/internal/logs"
	"golang.org/x/sys/unix"
)

// Hibernation. An idle Go shim costs its host about 0.9 MiB (its heap,
// three threads, their stacks and page tables), which is most of what an
// idle container costs. A shim with nothing to do for Config.HibernateAfter
// (no call but the daemon's Wait, no attached client, no exec running, no
// output) hands its descriptors to berth-shim-keeper (keeper/keeper.c), a
// small C program, by exec: same process, same pid, still the container's
// parent and subreaper, still holding the state lock. The keeper waits for
// any of the descriptors to stir (a connection on the socket, output, a
// waiting client hanging up) or a child to exit, and execs the shim again
// (`berth-shim resume DIR`), which takes over from the state it left in
// the environment (hibernatedEnv). A call
// to a hibernated shim waits a few milliseconds more, for the shim's
// start.
//
// Nothing in flight is lost across the exec: the gate below keeps accepts
// and output deliveries from overlapping it (a read that took data from a
// pipe completes its delivery first), and the waiting clients' connections
// are handed over and answered by the resumed shim.

// keeperBinary is the keeper's name, beside the shim's binary.
const keeperBinary = "berth-shim-keeper"

// maxKeeperWatched is keeper.c's MAX_WATCHED: the socket, two output
// streams and the waiting clients must fit.
const maxKeeperWatched = 64

// hibernatedEnv carries the shim's state (hibernated, as JSON) across
// the keeper, in the environment the keeper keeps and hands back: the
// strings go to the page of the keeper's that holds its environment
// anyway, where a file would take a page of the tmpfs for each
// hibernated shim.
const hibernatedEnv = "BERTH_SHIM_HIBERNATED"

// hibernateFile held the state before hibernatedEnv; a resumed shim
// still reads one it finds.
const hibernateFile = "hibernate.json"

// hibernated is the state a resumed shim needs. Descriptors are numbers
// in the process, open without close-on-exec across the two execs.
type hibernated struct {
	Lock        int
	Listener    int
	InitPid     int
	Status      string
	Frozen      bool
	OwnsPidNS   bool
	LogFailed   bool
	Terminal    bool
	OpenStdin   bool
	StdinOnce   bool
	StdinClosed bool
	Stdin       int    // the pipe's write end, -1 for none (a terminal's is Out[0])
	Out         [2]int // the output streams still open (pipes, or the pty master as stdout), -1 for ended
	Partial     [2][]byte
	OOMFile     string
	OOMBase     uint64
	Waits       []int // connections of clients waiting for the init's exit
	Execs       []hibernatedExec
}

// hibernatedExec is a finished exec the shim still reports.
type hibernatedExec struct {
	ID   string
	Pid  int
	Exit ExitStatus
}

// touch records activity: the idle clock starts again.
func (s *shim) touch() { s.lastActive.Store(time.Now().UnixNano()) }

// watchIdle hibernates the shim once it has been idle long enough; it
// returns when the init has exited.
func (s *shim) watchIdle() {
	after := s.cfg.HibernateAfter
	for {
		wait := time.Duration(s.lastActive.Load()+int64(after)) - time.Duration(time.Now().UnixNano())
		if wait > 0 {
			time.Sleep(wait)
			continue
		}
		select {
		case <-s.init.exited:
			return
		default:
		}
		if err := s.hibernate(); err != nil && !errors.Is(err, errBusy) {
			slog.Warn("hibernate", "err", err)
			return
		}
		// Busy: look again a period from now. A shim that stays awake
		// (a client attached) gives back what its create left.
		s.collectOnce()
		s.touch()
	}
}

var errBusy = errors.New("shim busy")

// hibernate execs the keeper when the shim is idle; it returns only when
// it did not (errBusy: not idle now).
func (s *shim) hibernate() error {
	keeper, err := keeperPath()
	if err != nil {
		return err
	}
	// Blocks accepts and output deliveries; one in progress means busy.
	if !s.gate.TryLock() {
		return errBusy
	}
	defer s.gate.Unlock()
	h, waits, err := s.snapshot()
	if err != nil {
		return err
	}
	if len(waits) > maxKeeperWatched-3 {
		// More descriptors than the keeper watches (keeper.c).
		return errBusy
	}
	// No child is reaped from here to the exec: a status the reaper took
	// would go with this process. The init must not have been reaped
	// already either (its status may still be on its way to watchInit).
	s.reaper.mu.Lock()
	defer s.reaper.mu.Unlock()
	if _, ok := s.reaper.waiters[h.InitPid]; !ok {
		return errBusy
	}
	var kept []int
	defer func() {
		for _, fd := range kept {
			unix.Close(fd)
		}
	}()
	// Descriptors cross the exec as close-on-exec-free duplicates: the
	// originals, and everything else Go opened, close with it.
	dup := func(fd int) int {
		if fd < 0 || err != nil {
			return -1
		}
		var nfd int
		nfd, err = unix.Dup(fd)
		if err == nil {
			kept = append(kept, nfd)
		}
		return nfd
	}
	h.Lock = dup(int(s.lock.Fd()))
	h.Listener = dup(rawFD(s.ln))
	if h.Stdin >= 0 {
		h.Stdin = dup(h.Stdin)
	}
	for i := range h.Out {
		h.Out[i] = dup(h.Out[i])
	}
	for _, c := range waits {
		h.Waits = append(h.Waits, dup(rawFD(c)))
	}
	exe := -1
	if err == nil {
		exe, err = unix.Open("/proc/self/exe", unix.O_PATH, 0)
		if err == nil {
			kept = append(kept, exe)
		}
	}
	if err != nil {
		return fmt.Errorf("hand descriptors over: %w", err)
	}
	data, err := json.Marshal(h)
	if err != nil {
		return err
	}
	args := []string{keeperBinary, strconv.Itoa(exe), s.cfg.StateDir, strconv.Itoa(h.Listener)}
	for _, fd := range h.Out {
		if fd >= 0 {
			args = append(args, strconv.Itoa(fd))
		}
	}
	for _, fd := range h.Waits {
		args = append(args, strconv.Itoa(fd))
	}
	err = execSmallTable(keeper, args, append(os.Environ(), hibernatedEnv+"="+string(data)))
	return fmt.Errorf("exec %s: %w", keeper, err)
}

// rawFD is a connection's or listener's descriptor, left as it is (File
// would make it blocking).
func rawFD(c syscall.Conn) int {
	fd := -1
	if rc, err := c.SyscallConn(); err == nil {
		rc.Control(func(u uintptr) { fd = int(u) })
	}
	return fd
}

// fileFD is a file's descriptor, left as it is.
func fileFD(f *os.File) int {
	if f == nil {
		return -1
	}
	return rawFD(f)
}

// snapshot checks that the shim is idle and describes it, with the
// connections of the clients waiting for the init; errBusy if it is not.
// The caller holds the gate: no accept or delivery is in progress.
func (s *shim) snapshot() (*hibernated, []*net.UnixConn, error) {
	if s.cfg.LogDriver != logs.JSONFile && s.cfg.LogDriver != "" && s.cfg.LogDriver != logs.None {
		// The local driver compresses rotated files in the background.
		return nil, nil, errBusy
	}
	p := s.init
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.deleting || s.removal != nil || s.initReaped.Load() {
		return nil, nil, errBusy
	}
	// Every connection in progress is a client waiting for the init.
	if activeCalls() != len(s.initWaits) || s.inflight != len(s.initWaits) {
		return nil, nil, errBusy
	}
	h := &hibernated{
		InitPid: p.pid, Frozen: s.frozen, OwnsPidNS: s.initOwnsPidNS, LogFailed: s.logFailed,
		Terminal: p.terminal, OpenStdin: p.openStdin, StdinOnce: p.stdinOnce,
		Stdin: -1, Out: [2]int{-1, -1}, OOMFile: s.oom.file, OOMBase: s.oom.base,
	}
	for id, e := range s.execs {
		e.mu.Lock()
		stopped, exit, pid, startErr := e.status == StatusStopped, e.exit, e.pid, e.startErr
		e.mu.Unlock()
		if !stopped {
			return nil, nil, errBusy
		}
		if startErr == nil {
			h.Execs = append(h.Execs, hibernatedExec{ID: id, Pid: pid, Exit: exit})
		}
	}
	p.mu.Lock()
	h.Status = p.status
	busy := len(p.clients) > 0 || (p.status != StatusRunning && p.status != StatusPaused)
	for i, open := range p.open {
		if open && i < len(p.closeOut) {
			h.Out[i] = fileFD(p.closeOut[i])
		}
	}
	p.mu.Unlock()
	if busy {
		return nil, nil, errBusy
	}
	p.stdinMu.Lock()
	h.StdinClosed = p.stdinClosed
	if !p.terminal && !p.stdinClosed {
		h.Stdin = fileFD(p.stdin)
	}
	p.stdinMu.Unlock()
	h.Partial = p.partial
	waits := make([]*net.UnixConn, 0, len(s.initWaits))
	for c := range s.initWaits {
		waits = append(waits, c)
	}
	return h, waits, nil
}

// keeperPath finds the keeper beside the shim's binary.
func keeperPath() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	path := filepath.Join(filepath.Dir(self), keeperBinary)
	if _, err := os.Stat(path); err != nil {
		return "", err
	}
	return path, nil
}

// resume is `berth-shim resume DIR`: the keeper woke, and the shim takes
// its container back from the state hibernate left it.
func resume(dir string) int {
	if err := initProcess(); err != nil {
		slog.Error("resume", "err", err)
		return 1
	}
	s, err := resumeShim(dir)
	if err != nil {
		// The container is orphaned: the state lock goes with this
		// process, and the daemon settles the container (see package
		// shim).
		slog.Error("resume", "dir", dir, "err", err)
		return 1
	}
	s.serve()
	return 0
}

func resumeShim(dir string) (*shim, error) {
	data := []byte(os.Getenv(hibernatedEnv))
	// Nothing the shim starts may inherit it.
	os.Unsetenv(hibernatedEnv)
	if len(data) == 0 {
		var err error
		if data, err = os.ReadFile(filepath.Join(dir, hibernateFile)); err != nil {
			return nil, err
		}
		os.Remove(filepath.Join(dir, hibernateFile))
	}
	var h hibernated
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, err
	}
	fds := append([]int{h.Lock, h.Listener, h.Stdin, h.Out[0], h.Out[1]}, h.Waits...)
	for _, fd := range fds {
		if fd >= 0 {
			unix.CloseOnExec(fd)
		}
	}
	cfg, err := readConfig(dir)
	if err != nil {
		return nil, err
	}
	s := &shim{
		cfg: cfg, reaper: newReaper(), runtimeEnv: runtimeEnv(), execs: map[string]*process{},
		done: make(chan struct{}), initWaits: map[*net.UnixConn]struct{}{},
		frozen: h.Frozen, initOwnsPidNS: h.OwnsPidNS, logFailed: h.LogFailed,
		oom: &oomCounter{file: h.OOMFile, base: h.OOMBase},
	}
	s.lock = os.NewFile(uintptr(h.Lock), filepath.Join(dir, lockFile))
	if s.devnull, err = os.OpenFile(os.DevNull, os.O_RDWR, 0); err != nil {
		return nil, err
	}
	lf := os.NewFile(uintptr(h.Listener), "listener")
	ln, err := net.FileListener(lf)
	lf.Close()
	if err != nil {
		return nil, err
	}
	s.ln = ln.(*net.UnixListener)
	s.ln.SetUnlinkOnClose(false)
	if s.addr, err = newSockAddr(dir, socketFile); err != nil {
		return nil, err
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, os.NewSyscallError("prctl(PR_SET_CHILD_SUBREAPER)", err)
	}

	p := newProcess(s, "", h.Terminal, h.OpenStdin)
	p.stdinOnce, p.pid, p.status, p.partial = h.StdinOnce, h.InitPid, h.Status, h.Partial
	if cfg.LogDriver != logs.None {
		if p.log, err = logs.NewWriterAttrs(cfg.LogDriver, cfg.LogPath, cfg.LogOpts, cfg.LogAttrs); err != nil {
			return nil, err
		}
	}
	var out [2]*os.File
	for i, fd := range h.Out {
		if fd >= 0 {
			out[i] = os.NewFile(uintptr(fd), streamNames[i])
		}
	}
	p.stdinClosed = h.StdinClosed
	if h.Terminal {
		p.console = out[0]
		if p.console == nil {
			// The terminal hung up: keep none for input either.
			p.stdinClosed = true
		}
		p.setStdin(p.console)
	} else {
		var stdin *os.File
		if h.Stdin >= 0 {
			stdin = os.NewFile(uintptr(h.Stdin), "stdin")
		}
		p.setStdin(stdin)
	}
	for c := range h.Execs {
		e := h.Execs[c]
		x := newProcess(s, e.ID, false, false)
		x.pid, x.status, x.exit, x.outEnded, x.stdinClosed = e.Pid, StatusStopped, e.Exit, true, true
		x.setStdin(nil)
		close(x.outputEnd)
		close(x.exited)
		s.execs[e.ID] = x
	}
	s.init = p
	ch := s.reaper.adopt(p.pid)
	// closeOut keeps its places (nil for a stream that ended): the next
	// hibernation finds stream i at index i.
	p.closeOut = out[:1]
	if !h.Terminal {
		p.closeOut = out[:]
	}
	for i, f := range out {
		if f != nil {
			p.open[i] = true
			p.streams++
		}
	}
	if p.streams == 0 {
		p.outEnded = true
		close(p.outputEnd)
	}
	for i, f := range out {
		if f != nil {
			go p.copyOut(f, i)
		}
	}
	go s.watchInit(p, ch)
	for _, fd := range h.Waits {
		f := os.NewFile(uintptr(fd), "wait")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			continue
		}
		callStarted()
		go s.resumeWait(c.(*net.UnixConn))
	}
	s.touch()
	go s.watchIdle()
	return s, nil
}

// resumeWait answers a Wait call the hibernated shim received.
func (s *shim) resumeWait(conn *net.UnixConn) {
	defer callDone()
	s.callBegins()
	defer s.callEnds()
	writeMsg(conn, s.dispatch(conn, &request{Op: opWait}))
	conn.Close()
}
