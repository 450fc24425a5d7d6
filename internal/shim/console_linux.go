package shim

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// consoleSocket receives a pty master from the runtime (--console-socket):
// the runtime connects and sends the descriptor with SCM_RIGHTS, as runc
// defines it.
type consoleSocket struct {
	addr *sockAddr
	ln   *net.UnixListener
	file string
}

func newConsoleSocket(s *shim, name string) (*consoleSocket, error) {
	file := "console-" + name + ".sock"
	os.Remove(s.path(file))
	addr, err := newSockAddrFor(s.cfg.StateDir, file, strconv.Itoa(os.Getpid()))
	if err != nil {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: addr.path, Net: "unix"})
	if err != nil {
		addr.close()
		return nil, err
	}
	ln.SetUnlinkOnClose(true)
	return &consoleSocket{addr: addr, ln: ln, file: s.path(file)}, nil
}

// consoleTimeout bounds the wait for the master once the runtime command
// succeeded: the runtime sends it before it returns, so this only catches
// a runtime that broke the protocol.
const consoleTimeout = 10 * time.Second

// receive accepts the runtime's connection and returns the pty master,
// non-blocking so the shim's reads of it wait in the poller.
func (cs *consoleSocket) receive() (*os.File, error) {
	cs.ln.SetDeadline(time.Now().Add(consoleTimeout))
	conn, err := cs.ln.AcceptUnix()
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	defer conn.Close()
	buf := make([]byte, 64)
	oob := make([]byte, unix.CmsgSpace(4))
	conn.SetDeadline(time.Now().Add(consoleTimeout))
	_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("console socket: no descriptor received (%v)", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("console socket: want one descriptor, got %d (%v)", len(fds), err)
	}
	fd := fds[0]
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), "ptmx"), nil
}

func (cs *consoleSocket) close() {
	cs.ln.Close()
	cs.addr.close()
}
