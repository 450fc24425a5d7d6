package main

import (
	"errors"
	"io"
	"os"
	"os/signal"
	"sync"

	"github.com/berth-project/berth/internal/runtime"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// terminal is the CLI's own end of a container's pty, for run and exec in
// the foreground with process.terminal and no --console-socket.
type terminal struct {
	sock   *os.File // our end of the console socketpair
	child  *os.File // the end handed to the container
	master *os.File
	state  *term.State
	copied sync.WaitGroup
}

func newTerminal() (*terminal, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &terminal{sock: os.NewFile(uintptr(fds[0]), "console"), child: os.NewFile(uintptr(fds[1]), "console-child")}, nil
}

// attach receives the pty master and copies it to and from our stdio,
// with our terminal in raw mode if stdin is one.
func (t *terminal) attach() error {
	t.child.Close()
	master, err := runtime.RecvFD(t.sock)
	if err != nil {
		return err
	}
	t.master = master
	if term.IsTerminal(int(os.Stdin.Fd())) {
		if st, err := term.MakeRaw(int(os.Stdin.Fd())); err == nil {
			t.state = st
		}
		t.resize()
	}
	go io.Copy(master, os.Stdin)
	t.copied.Add(1)
	go func() {
		defer t.copied.Done()
		io.Copy(os.Stdout, master)
	}()
	return nil
}

func (t *terminal) resize() {
	if t.master == nil {
		return
	}
	ws, err := unix.IoctlGetWinsize(int(os.Stdin.Fd()), unix.TIOCGWINSZ)
	if err == nil {
		unix.IoctlSetWinsize(int(t.master.Fd()), unix.TIOCSWINSZ, ws)
	}
}

// close waits for the output to drain and restores our terminal.
func (t *terminal) close() {
	if t == nil {
		return
	}
	if t.master != nil {
		t.copied.Wait()
		t.master.Close()
	}
	if t.state != nil {
		term.Restore(int(os.Stdin.Fd()), t.state)
	}
	t.sock.Close()
	t.child.Close()
}

// forwardAndWait relays signals to pid, our child, until it exits, and
// returns its exit code in the shell's convention.
func forwardAndWait(pid int, tty *terminal) (int, error) {
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				sig := s.(unix.Signal)
				switch sig {
				case unix.SIGCHLD, unix.SIGURG, unix.SIGPIPE:
				case unix.SIGWINCH:
					if tty != nil {
						tty.resize()
					}
				default:
					unix.Kill(pid, sig)
				}
			case <-done:
				return
			}
		}
	}()
	defer close(done)
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, err
		}
		switch {
		case ws.Exited():
			return ws.ExitStatus(), nil
		case ws.Signaled():
			return 128 + int(ws.Signal()), nil
		}
	}
}
