package shim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// runIO is the stdio of a runtime command. A nil file is /dev/null for
// stdin; stdout and stderr left nil go to anonymous memory files the
// shim reads once the command has exited. Files, not pipes: a pipe's
// reader waits for every holder of its write end, and a container process
// or a hook can inherit the runtime's.
type runIO struct {
	stdin, stdout, stderr *os.File
}

// runtimeError is a runtime command that failed, with the runtime's own
// message.
type runtimeError struct {
	cmd string
	msg string
}

func (e *runtimeError) Error() string { return fmt.Sprintf("runtime %s: %s", e.cmd, e.msg) }

// run runs the runtime with args and returns what it printed on stdout
// (when sio.stdout is nil).
func (s *shim) run(sio runIO, args ...string) ([]byte, error) {
	c, err := s.startRuntime(sio, args...)
	if err != nil {
		return nil, err
	}
	return c.wait()
}

// runtimeCmd is a runtime command started by startRuntime; wait ends it.
type runtimeCmd struct {
	s              *shim
	cmd            string
	pid            int
	ch             <-chan unix.WaitStatus
	outMem, errMem *os.File
	logStart       int64
	// done, for a create run in the shim's warm runtime, delivers its
	// result; there is no process then.
	done chan error
	// gone is closed once the process is reaped (the in-process create
	// returned).
	gone chan struct{}
}

// startRuntime starts the runtime with args, for the caller to do other
// work while it runs.
func (s *shim) startRuntime(sio runIO, args ...string) (*runtimeCmd, error) {
	argv := append([]string{filepath.Base(s.cfg.Runtime)}, s.cfg.globalArgs()...)
	argv = append(argv, "--log", s.path(runtimeLogFile), "--log-format", "json")
	argv = append(argv, args...)
	c := &runtimeCmd{s: s, cmd: args[0], gone: make(chan struct{})}
	var files [3]*os.File
	var err error
	files[0] = sio.stdin
	if files[0] == nil {
		files[0] = s.devnull
	}
	if files[1] = sio.stdout; files[1] == nil {
		if c.outMem, err = memFile("stdout"); err != nil {
			return nil, err
		}
		files[1] = c.outMem
	}
	if files[2] = sio.stderr; files[2] == nil {
		if c.errMem, err = memFile("stderr"); err != nil {
			c.close()
			return nil, err
		}
		files[2] = c.errMem
	}
	c.logStart = fileSize(s.path(runtimeLogFile))
	c.pid, c.ch, err = s.reaper.spawn(s.cfg.Runtime, argv, &syscall.ProcAttr{
		Env:   s.runtimeEnv,
		Files: []uintptr{files[0].Fd(), files[1].Fd(), files[2].Fd()},
	})
	if err != nil {
		c.close()
		return nil, fmt.Errorf("runtime %s: %w", args[0], err)
	}
	return c, nil
}

// wait waits for the command to end and returns its stdout, or the
// runtime's own error message.
func (c *runtimeCmd) wait() ([]byte, error) {
	defer c.close()
	if c.done != nil {
		if err := <-c.done; err != nil {
			return nil, &runtimeError{cmd: c.cmd, msg: err.Error()}
		}
		return nil, nil
	}
	ws, _ := c.s.reaper.wait(c.pid, c.ch)
	close(c.gone)
	var out []byte
	if c.outMem != nil {
		out, _ = readFrom(c.outMem)
	}
	if ws.Exited() && ws.ExitStatus() == 0 {
		return out, nil
	}
	msg := lastLoggedError(c.s.path(runtimeLogFile), c.logStart)
	if msg == "" && c.errMem != nil {
		stderr, _ := readFrom(c.errMem)
		msg = strings.TrimSpace(string(stderr))
	}
	if msg == "" {
		msg = describeStatus(ws)
	}
	return out, &runtimeError{cmd: c.cmd, msg: msg}
}

func (c *runtimeCmd) close() {
	for _, f := range []*os.File{c.outMem, c.errMem} {
		if f != nil {
			f.Close()
		}
	}
}

func memFile(name string) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("memfd_create", err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

func readFrom(f *os.File) ([]byte, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(f)
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// lastLoggedError is the message of the last error the runtime logged
// (runc's JSON log: {"level":"error","msg":...}) after offset start.
func lastLoggedError(path string, start int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return ""
	}
	var last string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal(sc.Bytes(), &e) == nil && (e.Level == "error" || e.Level == "fatal") && e.Msg != "" {
			last = e.Msg
		}
	}
	return last
}

func describeStatus(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + unix.SignalName(ws.Signal())
	}
	return fmt.Sprintf("exit status %d", ws.ExitStatus())
}

// runtimeEnv is the environment of runtime commands: the shim's, without
// the scheduler setting meant for the shim alone.
func runtimeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GOMAXPROCS=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// readPid reads a runtime's --pid-file.
func readPid(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var pid int
	if _, err := fmt.Sscan(string(bytes.TrimSpace(data)), &pid); err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s: bad pid %q", path, data)
	}
	return pid, nil
}
