package shim

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// berth-runtime's start handshake, as internal/runtime (directstart.go)
// publishes it; the shim does not link the runtime, and a test keeps the
// copies equal.
const (
	directStartFile = "start.direct" // runtime.DirectStartFile
	startSocket     = "start.sock"   // runtime.StartSocket
	runtimeLock     = "lock"         // runtime.LockFile
)

// startFrame is runtime.StartFrame.
var startFrame = []byte("\x10\x00\x00\x00" + `{"type":"start"}`)

// errUseRuntime sends the caller to the runtime's own command: the
// runtime did not offer the shortcut, or it could not be taken.
var errUseRuntime = errors.New("left to the runtime's command")

// directStart starts a container created by berth-runtime without a
// `runtime start` process: when the runtime left DirectStartFile in the
// container's state directory, start is a handshake with the waiting
// init, which the shim does itself, under the runtime's lock, as start
// would. That saves a process start of the runtime (a few milliseconds
// of the container's start). errUseRuntime means the runtime did not
// offer it (another runtime, a start that needs the runtime) or the
// handshake could not begin (the init is gone): `runtime start` then
// does the work, or reports the runtime's own error.
func (s *shim) directStart() error {
	dir, ok := s.runtimeStateDir()
	if !ok {
		return errUseRuntime
	}
	if _, err := os.Lstat(filepath.Join(dir, directStartFile)); err != nil {
		return errUseRuntime
	}
	lock, err := lockRuntimeState(dir)
	if err != nil {
		return errUseRuntime
	}
	defer unlock(lock)
	conn, err := dialStart(dir)
	if err != nil {
		// Not waiting any more (started, or dead): start tells which.
		return errUseRuntime
	}
	defer conn.Close()
	// From here on the container is no longer created, whatever happens.
	os.Remove(filepath.Join(dir, startSocket))
	if _, err := conn.Write(startFrame); err != nil {
		if errors.Is(err, unix.EPIPE) || errors.Is(err, unix.ECONNRESET) {
			// Killed since it accepted: its exit status is the answer.
			return nil
		}
		return fmt.Errorf("runtime start: %w", err)
	}
	return awaitStarted(conn)
}

// runtimeStateDir is the runtime's directory for the container, when the
// shim knows it: the runtime's --root is RuntimeRoot.
func (s *shim) runtimeStateDir() (string, bool) {
	if s.cfg.RuntimeRoot == "" || hasRootArg(s.cfg.RuntimeArgs) {
		return "", false
	}
	return filepath.Join(s.cfg.RuntimeRoot, s.cfg.ID), true
}

// lockRuntimeState takes the container's lock in the runtime's state
// directory, as the runtime's commands do.
func lockRuntimeState(dir string) (*os.File, error) {
	lock, err := os.OpenFile(filepath.Join(dir, runtimeLock), os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(lock.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		lock.Close()
		return nil, os.NewSyscallError("flock", err)
	}
	return lock, nil
}

// hasRootArg reports whether the runtime's extra arguments name another
// state root than RuntimeRoot.
func hasRootArg(args []string) bool {
	for _, a := range args {
		if a == "--root" || strings.HasPrefix(a, "--root=") {
			return true
		}
	}
	return false
}

// dialStart connects to the init's start socket; the connection reads
// through the poller, so waiting for the exec holds no thread.
func dialStart(dir string) (*os.File, error) {
	addr, err := newSockAddr(dir, startSocket)
	if err != nil {
		return nil, err
	}
	defer addr.close()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	for {
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: addr.path})
		if err != unix.EINTR {
			break
		}
	}
	if err == nil {
		err = unix.SetNonblock(fd, true)
	}
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), "start"), nil
}

// awaitStarted reads the init's answer: EOF once it exec'd the process
// (or died: its exit status tells), or an error frame.
func awaitStarted(conn io.Reader) error {
	var hdr [4]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, unix.ECONNRESET) {
			return nil
		}
		return fmt.Errorf("runtime start: %w", err)
	}
	n := binary.LittleEndian.Uint32(hdr[:])
	if n > maxMessage {
		return fmt.Errorf("runtime start: reply of %d bytes", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(conn, body); err != nil {
		return fmt.Errorf("runtime start: %w", err)
	}
	var m struct {
		Type  string `json:"type"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return fmt.Errorf("runtime start: bad reply %q", body)
	}
	if m.Type == "error" {
		return &runtimeError{cmd: "start", msg: m.Error}
	}
	return fmt.Errorf("runtime start: unexpected %q from the container's init", m.Type)
}
