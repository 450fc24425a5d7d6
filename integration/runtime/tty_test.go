package runtime_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// consoleSocket is the receiving end of --console-socket: a unix socket on
// which the runtime sends the pty master with SCM_RIGHTS.
type consoleSocket struct {
	t    *testing.T
	path string
	fd   int // listening socket
}

func newConsoleSocket(t *testing.T) *consoleSocket {
	t.Helper()
	// A short directory: sun_path holds 108 bytes, and t.TempDir's names
	// can come close.
	dir, err := os.MkdirTemp("", "bcs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "console.sock")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 4); err != nil {
		t.Fatal(err)
	}
	return &consoleSocket{t: t, path: path, fd: fd}
}

// receive accepts the runtime's connection and returns the pty master it
// sends. The runtime connects and sends without waiting for accept, so
// this can run after the command that sends has returned.
func (s *consoleSocket) receive() *pty {
	t := s.t
	t.Helper()
	pfd := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}}
	deadline := time.Now().Add(waitTimeout)
	for {
		n, err := unix.Poll(pfd, int(time.Until(deadline).Milliseconds()))
		if n == 1 {
			break
		}
		// EINTR: the Go runtime's preemption signals interrupt poll.
		if !errors.Is(err, unix.EINTR) || time.Now().After(deadline) {
			t.Fatalf("nothing connected to the console socket within %s (%v)", waitTimeout, err)
		}
	}
	conn, _, err := unix.Accept4(s.fd, unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatalf("accept on the console socket: %v", err)
	}
	defer unix.Close(conn)
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(conn, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		t.Fatalf("recvmsg on the console socket: %v", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Fatalf("console socket: want one control message, got %d (%v)", len(msgs), err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("console socket: want one descriptor, got %v (%v)", fds, err)
	}
	// Non-blocking, so reads honour deadlines through Go's poller.
	if err := unix.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	master := os.NewFile(uintptr(fds[0]), "pty-master")
	t.Cleanup(func() { master.Close() })
	return &pty{t: t, f: master}
}

// pty is the test's end of a container's terminal.
type pty struct {
	t   *testing.T
	f   *os.File
	out strings.Builder // everything read so far, with \r removed
}

func (p *pty) write(s string) {
	p.t.Helper()
	if _, err := p.f.WriteString(s); err != nil {
		p.t.Fatalf("write to the pty: %v", err)
	}
}

// expect reads until the output holds want and returns the output so far.
func (p *pty) expect(want string) string {
	p.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	buf := make([]byte, 4096)
	for !strings.Contains(p.out.String(), want) {
		p.f.SetReadDeadline(deadline)
		n, err := p.f.Read(buf)
		p.out.WriteString(strings.ReplaceAll(string(buf[:n]), "\r", ""))
		if err != nil {
			// EIO: every slave end is closed (the process exited).
			if errors.Is(err, unix.EIO) && strings.Contains(p.out.String(), want) {
				break
			}
			p.t.Fatalf("reading the pty for %q: %v; got so far:\n%s", want, err, p.out.String())
		}
	}
	return p.out.String()
}

// lineAfter returns the line that follows the first line equal to marker.
func lineAfter(out, marker string) string {
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if l == marker && i+1 < len(lines) {
			return lines[i+1]
		}
	}
	return ""
}

// TestTTY: with process.terminal the container's process gets a pty whose
// master arrives on the console socket: input written to the master
// reaches the shell, its output comes back, and /dev/console is that pty.
func TestTTY(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBundle(t, "sh")
	b.spec.Process.Terminal = true
	sock := newConsoleSocket(t)
	c := e.newContainer(b)
	if r := c.createWith(stdio{}, "--console-socket", sock.path); r.code != 0 {
		t.Fatalf("%v", r)
	}
	p := sock.receive()
	c.start()

	// The arithmetic is expanded by the shell, so the echo of the typed
	// line itself cannot satisfy the wait.
	p.write("echo hi-from-tty-$((6*7))\n")
	p.expect("hi-from-tty-42\n")

	// tty names the terminal; /dev/console must be the same device.
	p.write("echo @tty; tty; echo @stdin; [ -t 0 ] && echo stdin-is-a-tty; " +
		"echo @pts; stat -c %t:%T $(tty); echo @console; stat -c %t:%T /dev/console; echo @done-$((1+1))\n")
	out := p.expect("@done-2\n")
	if got := lineAfter(out, "@tty"); got != "/dev/pts/0" {
		t.Errorf("tty in the container: %q, want /dev/pts/0\n%s", got, out)
	}
	if got := lineAfter(out, "@stdin"); got != "stdin-is-a-tty" {
		t.Errorf("stdin is not a terminal:\n%s", out)
	}
	// The same device numbers (hex major:minor): /dev/console is the pty.
	if pts, console := lineAfter(out, "@pts"), lineAfter(out, "@console"); pts == "" || pts != console {
		t.Errorf("/dev/console (%s) is not the container's pty (%s):\n%s", console, pts, out)
	}

	p.write("exit 3\n")
	if ws := c.wait(); ws.ExitStatus() != 3 {
		t.Errorf("the shell ended with %v, want exit 3", ws)
	}
}

// TestTTYNeedsConsoleSocket: create refuses process.terminal without a
// console socket, with a clear message.
func TestTTYNeedsConsoleSocket(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBundle(t, "sh")
	b.spec.Process.Terminal = true
	c := e.newContainer(b)
	r := c.createWith(stdio{})
	if r.code == 0 || !strings.Contains(r.stderr, "console socket") {
		t.Errorf("create with a terminal and no console socket: %v", r)
	}
	assertNoTraces(t, e, c.id, b)
}
