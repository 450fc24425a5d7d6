package shim

import (
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/berth-project/berth/internal/logs"
	"golang.org/x/sys/unix"
)

// process is the init or an exec'd process: its stdio on the shim's side,
// the clients attached to it, and how it ended.
type process struct {
	s        *shim
	id       string // "" for the init
	terminal bool
	// openStdin gives the process a stdin pipe (else /dev/null).
	openStdin bool
	// stdinOnce: the first attached stdin's end closes the process's stdin
	// (Config.StdinOnce, the init only).
	stdinOnce bool
	spec      []byte // exec: the runtime-spec process, as JSON

	stdinMu     sync.Mutex
	stdin       *os.File // pipe writer, or the pty master
	stdinClosed bool
	// stdinReady is closed once stdin is set up (or never will be): input
	// an attached client sends before an exec starts waits for it.
	stdinReady chan struct{}
	readyOnce  sync.Once

	console *os.File // pty master
	log     logs.Writer
	partial [2][]byte // log: the unfinished line of stdout and stderr

	mu        sync.Mutex
	clients   []*attachment // replaced, never changed in place: readers copy the slice header
	streams   int           // output streams not at EOF yet
	outEnded  bool
	outputEnd chan struct{} // closed when every output stream ended
	closeOut  []*os.File    // the read ends, for closing them when output must stop
	open      [2]bool       // stdout, stderr: still copied (a pty is stdout)
	pid       int
	status    string
	exit      ExitStatus
	exited    chan struct{} // closed once exit is set and the output delivered
	starting  bool          // exec: StartExec in progress
	startErr  error         // exec: why it could not start
}

// failStart records that an exec could not start: its waiters get err,
// its attached clients the end of the output.
func (p *process) failStart(err error) {
	p.mu.Lock()
	p.startErr, p.status = err, StatusStopped
	clients := p.clients
	p.clients, p.outEnded = nil, true
	p.mu.Unlock()
	p.setStdin(nil)
	for _, a := range clients {
		a.end()
	}
	close(p.outputEnd)
	close(p.exited)
}

func newProcess(s *shim, id string, terminal, openStdin bool) *process {
	return &process{
		s: s, id: id, terminal: terminal, openStdin: openStdin,
		status: StatusCreated, outputEnd: make(chan struct{}), exited: make(chan struct{}),
		stdinReady: make(chan struct{}),
	}
}

// stdio holds the ends of a process's stdio while its runtime command
// runs: the container's ends go to the runtime, the shim keeps the others.
type stdio struct {
	runIO
	consoleSock *consoleSocket
	theirs      []*os.File // closed once the runtime command returned
	ours        []*os.File // closed if the command failed
	outR        [2]*os.File
	stdinW      *os.File
}

// prepareIO makes the pipes (or the console socket) for a process's
// runtime command; name distinguishes console sockets.
func (p *process) prepareIO(name string) (*stdio, error) {
	io := &stdio{}
	if p.terminal {
		cs, err := newConsoleSocket(p.s, name)
		if err != nil {
			return nil, err
		}
		io.consoleSock = cs
		return io, nil
	}
	ok := false
	defer func() {
		if !ok {
			io.abort()
		}
	}()
	if p.openStdin {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		io.stdin, io.stdinW = r, w
		io.theirs, io.ours = append(io.theirs, r), append(io.ours, w)
	}
	for i := range io.outR {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		io.outR[i] = r
		io.theirs, io.ours = append(io.theirs, w), append(io.ours, r)
	}
	io.stdout, io.stderr = io.theirs[len(io.theirs)-2], io.theirs[len(io.theirs)-1]
	ok = true
	return io, nil
}

// consoleArgs are the runtime flags the stdio needs.
func (io *stdio) consoleArgs() []string {
	if io.consoleSock == nil {
		return nil
	}
	return []string{"--console-socket", io.consoleSock.addr.path}
}

// abort closes everything: the runtime command failed.
func (io *stdio) abort() {
	for _, f := range append(io.theirs, io.ours...) {
		f.Close()
	}
	if io.consoleSock != nil {
		io.consoleSock.close()
	}
}

// attachIO takes over the shim's ends once the runtime command succeeded,
// and starts copying the output.
func (p *process) attachIO(io *stdio) error {
	for _, f := range io.theirs {
		f.Close()
	}
	if io.consoleSock != nil {
		master, err := io.consoleSock.receive()
		io.consoleSock.close()
		if err != nil {
			return err
		}
		p.console = master
		p.setStdin(master)
		p.closeOut = []*os.File{master}
		p.streams = 1
		p.open[0] = true
		go p.copyOut(master, 0)
		return nil
	}
	p.setStdin(io.stdinW)
	p.closeOut = io.outR[:]
	p.streams = 2
	p.open = [2]bool{true, true}
	go p.copyOut(io.outR[0], 0)
	go p.copyOut(io.outR[1], 1)
	return nil
}

// readSize is how much output is read at once; docker's log lines split at
// 16 KiB too.
const readSize = 16 << 10

// The read buffers are shared: a copier holds one only while it reads and
// delivers, so an idle shim holds at most a few.
var buffers struct {
	mu   sync.Mutex
	free [][]byte
}

func getBuf() []byte {
	buffers.mu.Lock()
	defer buffers.mu.Unlock()
	if n := len(buffers.free); n > 0 {
		b := buffers.free[n-1]
		buffers.free = buffers.free[:n-1]
		return b
	}
	return make([]byte, readSize)
}

func putBuf(b []byte) {
	buffers.mu.Lock()
	if len(buffers.free) < 4 {
		buffers.free = append(buffers.free, b)
	}
	buffers.mu.Unlock()
}

var streamNames = [2]string{"stdout", "stderr"}

// copyOut copies one output stream (0 stdout, 1 stderr; a pty is stdout)
// to the log and the attached clients until EOF. It waits in the poller
// without a buffer, so a quiet container costs a parked goroutine.
func (p *process) copyOut(f *os.File, stream int) {
	defer p.streamEnded(stream)
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	var buf []byte
	var n int
	var rerr error
	held := false
	// One closure for the copier's life: the output path allocates
	// nothing, so a chatty container makes no garbage for a shim that does
	// not collect by itself. The gate is held from the read to the end
	// of the delivery: a hibernation never drops output read but not
	// delivered.
	read := func(fd uintptr) bool {
		p.s.gate.RLock()
		buf = getBuf()
		n, rerr = unix.Read(int(fd), buf)
		if rerr == unix.EAGAIN || rerr == unix.EINTR {
			putBuf(buf)
			buf = nil
			p.s.gate.RUnlock()
			return false
		}
		held = true
		return true
	}
	for {
		buf, n, rerr, held = nil, 0, nil, false
		err := rc.Read(read)
		if n > 0 {
			p.output(stream, buf[:n])
		}
		if buf != nil {
			putBuf(buf)
		}
		if held {
			p.s.touch()
			p.s.gate.RUnlock()
		}
		// EOF, or EIO from a pty whose other side is closed.
		if err != nil || rerr != nil || n <= 0 {
			return
		}
	}
}

// output delivers a chunk to the log and the clients.
func (p *process) output(stream int, data []byte) {
	if p.log != nil {
		p.logOutput(stream, data, time.Now().UTC())
	}
	p.mu.Lock()
	clients := p.clients
	p.mu.Unlock()
	kind := byte(frameStdout + stream)
	for _, a := range clients {
		if (stream == 0 && !a.stdout) || (stream == 1 && !a.stderr) {
			continue
		}
		if err := a.send(kind, data); err != nil {
			p.detach(a)
		}
	}
}

// maxLogLine is where docker splits a long line into partial messages.
const maxLogLine = 16 << 10

// logOutput splits output into log messages at newlines, as docker's
// copier does: a line without a newline waits for the rest unless it has
// reached 16 KiB, which is logged as a partial message. As with docker's
// 16 KiB buffer, 16 KiB of a line fill it before its newline is seen: a
// line of exactly 16 KiB is a partial message and a "\n" of its own.
func (p *process) logOutput(stream int, data []byte, now time.Time) {
	pend := p.partial[stream]
	for len(data) > 0 {
		var chunk []byte
		complete := false
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			chunk, data, complete = data[:i+1], data[i+1:], true
		} else {
			chunk, data = data, nil
		}
		if len(pend) == 0 && complete && len(chunk) <= maxLogLine {
			p.logMessage(stream, chunk, false, now)
			continue
		}
		pend = append(pend, chunk...)
		for {
			body := len(pend)
			if complete {
				body--
			}
			if body < maxLogLine {
				break
			}
			p.logMessage(stream, pend[:maxLogLine], true, now)
			pend = pend[:copy(pend, pend[maxLogLine:])]
		}
		if complete {
			p.logMessage(stream, pend, false, now)
			pend = pend[:0]
		}
	}
	p.partial[stream] = pend
}

func (p *process) logMessage(stream int, line []byte, partial bool, now time.Time) {
	err := p.log.WriteMessage(logs.Message{Stream: streamNames[stream], Line: line, Time: now, Partial: partial})
	if err != nil && !p.s.logFailed {
		p.s.logFailed = true // once: a full disk would flood the shim's own log
		slog.Error("writing the container log", "err", err)
	}
}

// streamEnded counts an output stream down; the last one ends the
// attaches.
func (p *process) streamEnded(stream int) {
	p.mu.Lock()
	p.open[stream] = false
	p.streams--
	if p.streams > 0 {
		p.mu.Unlock()
		return
	}
	clients := p.clients
	p.clients, p.outEnded = nil, true
	p.mu.Unlock()
	if p.log != nil {
		for i, pend := range p.partial {
			if len(pend) > 0 {
				p.logMessage(i, pend, true, time.Now().UTC())
			}
			p.partial[i] = nil
		}
	}
	for _, a := range clients {
		a.end()
	}
	close(p.outputEnd)
}

// stopOutput closes the read ends, ending copies that wait for an EOF
// that will not come (a background process holding the pipe).
func (p *process) stopOutput() {
	for _, f := range p.closeOut {
		f.Close()
	}
}

// release closes the process's stdio once it exited and its output was
// delivered: a long-lived container must not collect a pty or two pipes
// for every exec it ran.
func (p *process) release() {
	p.stdinMu.Lock()
	if p.stdin != nil && !p.stdinClosed && !p.terminal {
		p.stdin.Close()
	}
	p.stdinClosed = true
	p.stdinMu.Unlock()
	p.stopOutput()
}

// addClient registers a; it reports false when the output has already
// ended.
func (p *process) addClient(a *attachment) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.outEnded {
		return false
	}
	p.clients = append(p.clients[:len(p.clients):len(p.clients)], a)
	return true
}

// detach removes a and closes its connection.
func (p *process) detach(a *attachment) {
	p.remove(a)
	a.close()
}

// remove takes a out of the clients.
func (p *process) remove(a *attachment) {
	p.mu.Lock()
	for i, c := range p.clients {
		if c == a {
			clients := make([]*attachment, 0, len(p.clients)-1)
			clients = append(clients, p.clients[:i]...)
			p.clients = append(clients, p.clients[i+1:]...)
			break
		}
	}
	p.mu.Unlock()
}

// setStdin installs the process's stdin (nil: it has none), applying a
// close requested before it existed.
func (p *process) setStdin(f *os.File) {
	p.stdinMu.Lock()
	p.stdin = f
	if f != nil && p.stdinClosed && !p.terminal {
		f.Close()
	}
	p.stdinMu.Unlock()
	p.readyOnce.Do(func() { close(p.stdinReady) })
}

// writeStdin forwards a client's input, once the process has a stdin.
func (p *process) writeStdin(data []byte) {
	<-p.stdinReady
	p.stdinMu.Lock()
	defer p.stdinMu.Unlock()
	if p.stdin == nil || p.stdinClosed {
		return
	}
	if _, err := p.stdin.Write(data); err != nil && !p.terminal {
		// The process closed its stdin: nothing more will be read.
		p.stdin.Close()
		p.stdinClosed = true
	}
}

// closeStdin closes the process's stdin; with a terminal it only stops
// forwarding input, since closing the master would hang up the terminal.
func (p *process) closeStdin() {
	p.stdinMu.Lock()
	defer p.stdinMu.Unlock()
	if p.stdinClosed {
		return
	}
	p.stdinClosed = true
	if p.stdin != nil && !p.terminal {
		p.stdin.Close()
	}
}

// resize sets the terminal's size.
func (p *process) resize(width, height uint16) error {
	if p.console == nil {
		return errNoTerminal
	}
	rc, err := p.console.SyscallConn()
	if err != nil {
		return err
	}
	var ioerr error
	err = rc.Control(func(fd uintptr) {
		ioerr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: height, Col: width})
	})
	if err == nil {
		err = ioerr
	}
	return err
}

var errNoTerminal = errors.New("process has no terminal")

// attachment is one attached client connection.
type attachment struct {
	conn                  *net.UnixConn
	stdin, stdout, stderr bool
	closeStdin            bool

	wmu   sync.Mutex // one frame at a time: stdout and stderr copiers share the connection
	frame []byte
	done  bool
}

var errDetached = errors.New("client detached")

func (a *attachment) send(kind byte, data []byte) error {
	a.wmu.Lock()
	defer a.wmu.Unlock()
	if a.done {
		return errDetached
	}
	a.frame = append(a.frame[:0], kind, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(a.frame[1:], uint32(len(data)))
	a.frame = append(a.frame, data...)
	_, err := a.conn.Write(a.frame)
	return err
}

// end tells the client the output ended and closes the connection.
func (a *attachment) end() {
	a.wmu.Lock()
	if !a.done {
		a.conn.Write([]byte{frameEnd, 0, 0, 0, 0})
	}
	a.wmu.Unlock()
	a.close()
}

func (a *attachment) close() {
	a.wmu.Lock()
	a.done = true
	a.frame = nil
	a.wmu.Unlock()
	a.conn.Close()
}
