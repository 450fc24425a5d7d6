package cli_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/berth-project/berth/internal/testenv"
)

// expectTimeout bounds each wait for output from an interactive client.
const expectTimeout = 30 * time.Second

// terminal is a client running on a pty the test drives, as a person at a
// terminal would: it types, and reads what comes back, echo included.
type terminal struct {
	t    *testing.T
	cmd  *exec.Cmd
	ptmx io.ReadWriteCloser

	mu     sync.Mutex
	buf    []byte // everything read so far
	seen   int    // buf[:seen] was consumed by earlier expects
	more   chan struct{}
	closed bool
	done   chan struct{} // closed when the client exited
	err    error         // the client's exit
}

// startTerminal starts the client with args on a new 24x80 pty.
func (e *engine) startTerminal(t *testing.T, c client, args ...string) *terminal {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	t.Cleanup(cancel)
	cmd := e.command(ctx, c, args...)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Fatalf("start %s on a pty: %v", shellQuote(args), err)
	}
	term := &terminal{t: t, cmd: cmd, ptmx: ptmx, more: make(chan struct{}, 1), done: make(chan struct{})}
	go term.read()
	go func() {
		term.err = cmd.Wait()
		close(term.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-term.done
		ptmx.Close()
		if t.Failed() {
			term.mu.Lock()
			t.Logf("terminal output of %s %s:\n%q", c.name, shellQuote(args), term.buf)
			term.mu.Unlock()
		}
	})
	return term
}

func (term *terminal) read() {
	b := make([]byte, 4096)
	for {
		n, err := term.ptmx.Read(b)
		term.mu.Lock()
		term.buf = append(term.buf, b[:n]...)
		if err != nil {
			// EIO once the client exited and closed its side.
			term.closed = true
		}
		term.mu.Unlock()
		select {
		case term.more <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

// expect waits until the output not yet consumed matches re, consumes it
// up to the end of the match and returns the submatches.
func (term *terminal) expect(re string) []string {
	term.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(expectTimeout)
	for {
		term.mu.Lock()
		rest := term.buf[term.seen:]
		if loc := rx.FindSubmatchIndex(rest); loc != nil {
			var subs []string
			for i := 0; i+1 < len(loc); i += 2 {
				if loc[i] >= 0 {
					subs = append(subs, string(rest[loc[i]:loc[i+1]]))
				} else {
					subs = append(subs, "")
				}
			}
			term.seen += loc[1]
			term.mu.Unlock()
			return subs
		}
		closed := term.closed
		term.mu.Unlock()
		if closed {
			term.t.Fatalf("the client's terminal closed before %q appeared", re)
		}
		select {
		case <-term.more:
		case <-deadline:
			term.t.Fatalf("no %q on the terminal within %v", re, expectTimeout)
		}
	}
}

// typ types s, as keystrokes: the client's terminal is in raw mode, so
// Enter is "\r".
func (term *terminal) typ(s string) {
	term.t.Helper()
	if _, err := io.WriteString(term.ptmx, s); err != nil {
		term.t.Fatalf("type %q: %v", s, err)
	}
}

// wait waits for the client to exit and returns its exit code.
func (term *terminal) wait() int {
	term.t.Helper()
	select {
	case <-term.done:
	case <-time.After(expectTimeout):
		term.t.Fatalf("the client did not exit within %v", expectTimeout)
	}
	var exitErr *exec.ExitError
	switch {
	case term.err == nil:
		return 0
	case errors.As(term.err, &exitErr):
		return exitErr.ExitCode()
	}
	term.t.Fatalf("client: %v", term.err)
	return -1
}

// testRunInteractive: `run -it sh` on a pty: the shell's prompt comes,
// what is typed is echoed and run, the pty has the client's size, and the
// shell's exit code is the client's.
func testRunInteractive(t *testing.T, e *engine, c client) {
	name := testenv.UniqueName(t, "")
	term := e.startTerminal(t, c, "run", "--rm", "-it", "--name", name, "busybox", "sh")
	term.expect(`# `)
	term.typ("echo hello-$$\r")
	// The echo of the typed line, then the shell's output: $$ expanded.
	term.expect(`echo hello-\$\$\r\n`)
	term.expect(`hello-[0-9]+\r\n`)
	term.expect(`# `)
	// The client sets the pty's size once the container started (older
	// clients only then): wait for it in the shell rather than race it.
	term.typ(`until [ "$(stty size 2>/dev/null)" = "24 80" ]; do sleep 0.1; done; echo size-ok; tty` + "\r")
	term.expect(`\r\nsize-ok\r\n/dev/(pts/[0-9]+|console)\r\n`)
	term.expect(`# `)
	term.typ("exit 3\r")
	if code := term.wait(); code != 3 {
		t.Errorf("run -it exited %d after `exit 3`, want 3", code)
	}
	// --rm: the container is gone once the client returned.
	deadline := time.Now().Add(eventuallyTimeout)
	for {
		out := e.must(t, c, "ps", "-a", "-q", "--filter", "name="+name)
		if out == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s still listed after run --rm ended: %s", name, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// testExecInteractive: `exec -it sh` on a pty into a running container.
func testExecInteractive(t *testing.T, e *engine, c client) {
	name := testenv.UniqueName(t, "")
	e.must(t, c, "run", "-d", "--name", name, "busybox", "sleep", "300")
	t.Cleanup(func() { e.run(t, c, nil, "rm", "-f", name) })
	term := e.startTerminal(t, c, "exec", "-it", name, "sh")
	term.expect(`# `)
	term.typ("echo exec-$((6*7)) $(cat /proc/1/cmdline | tr '\\0' ' ')\r")
	term.expect(`\r\nexec-42 sleep 300\r\n`)
	term.expect(`# `)
	term.typ("exit 4\r")
	if code := term.wait(); code != 4 {
		t.Errorf("exec -it exited %d after `exit 4`, want 4", code)
	}
	if out := e.must(t, c, "inspect", "-f", "{{.State.Running}}", name); out != "true" {
		t.Errorf("the container's Running is %s after the exec ended, want true", out)
	}
}

// testLogsFollow: `logs -f` shows lines while the container runs, and
// returns when it exits.
func testLogsFollow(t *testing.T, e *engine, c client) {
	name := testenv.UniqueName(t, "")
	e.must(t, c, "run", "-d", "--name", name, "busybox", "sh", "-c",
		"echo first; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo second")
	t.Cleanup(func() { e.run(t, c, nil, "rm", "-f", name) })

	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := e.command(ctx, c, "logs", "-f", name)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			lines <- s.Text()
		}
	}()
	next := func(want string) {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("logs -f ended before %q (stderr %q)", want, stderr.String())
			}
			if l != want {
				t.Fatalf("logs -f printed %q, want %q", l, want)
			}
		case <-time.After(expectTimeout):
			t.Fatalf("logs -f printed no %q within %v", want, expectTimeout)
		}
	}
	next("first")
	// The container waits for /tmp/go: logs -f must still be following.
	e.must(t, c, "exec", name, "touch", "/tmp/go")
	next("second")
	select {
	case l, ok := <-lines:
		if ok {
			t.Fatalf("logs -f printed %q after the last line", l)
		}
	case <-time.After(expectTimeout):
		t.Fatalf("logs -f did not end within %v of the container's exit", expectTimeout)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("logs -f: %v (stderr %q)", err, stderr.String())
	}
}
