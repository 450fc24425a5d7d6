package shim_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/shim"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestTerminalAndResize(t *testing.T) {
	for _, r := range runtimes(t) {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			c := newContainer(t, r, "sh", "-c", "read x; stty size; echo got-$x; exit 4")
			c.cfg.Terminal, c.cfg.OpenStdin = true, true
			cl := c.create()
			stdinR, stdinW := io.Pipe()
			defer stdinW.Close()
			var out syncBuffer
			res := attach(t, cl, shim.AttachOptions{Stdin: stdinR, Stdout: &out})
			if _, err := cl.Start(ctx(t)); err != nil {
				t.Fatal(err)
			}
			if err := cl.Resize(ctx(t), "", 100, 40); err != nil {
				t.Fatal(err)
			}
			io.WriteString(stdinW, "hi\n")
			exit, err := cl.Wait(ctx(t))
			if err != nil || exit.Code != 4 {
				t.Fatalf("wait: %+v %v", exit, err)
			}
			if err := <-res; err != nil {
				t.Fatal(err)
			}
			// The terminal echoes the input and turns \n into \r\n.
			if got := out.String(); !strings.Contains(got, "40 100\r\n") || !strings.Contains(got, "got-hi\r\n") {
				t.Fatalf("terminal output %q", got)
			}
			msgs := readLog(t, c.cfg.LogPath)
			var all strings.Builder
			for _, m := range msgs {
				if m.Stream != "stdout" {
					t.Errorf("terminal output logged as %s", m.Stream)
				}
				all.Write(m.Line)
			}
			if !strings.Contains(all.String(), "got-hi\r\n") {
				t.Fatalf("log %q", all.String())
			}
		})
	}
}

func TestStdinOnceEcho(t *testing.T) {
	for _, r := range runtimes(t) {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			c := newContainer(t, r, "cat")
			c.cfg.OpenStdin, c.cfg.StdinOnce = true, true
			cl := c.create()
			var out syncBuffer
			res := attach(t, cl, shim.AttachOptions{Stdin: strings.NewReader("hello\nworld\n"), Stdout: &out, CloseStdin: true})
			if _, err := cl.Start(ctx(t)); err != nil {
				t.Fatal(err)
			}
			// cat ends once stdin closes with the attached stdin's end.
			exit, err := cl.Wait(ctx(t))
			if err != nil || exit.Code != 0 {
				t.Fatalf("wait: %+v %v", exit, err)
			}
			if err := <-res; err != nil {
				t.Fatal(err)
			}
			if out.String() != "hello\nworld\n" {
				t.Fatalf("echo %q", out.String())
			}
			if n := len(readLog(t, c.cfg.LogPath)); n != 2 {
				t.Fatalf("%d log entries", n)
			}
		})
	}
}

func TestLogsWithoutClient(t *testing.T) {
	for _, r := range runtimes(t) {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			// A long line is split at 16 KiB into partial entries; output
			// without a final newline is a partial entry.
			c := newContainer(t, r, "sh", "-c", "for i in 1 2 3; do echo line$i; done; head -c 40000 /dev/zero | tr '\\0' x; echo; printf tail")
			cl := c.create()
			if _, err := cl.Start(ctx(t)); err != nil {
				t.Fatal(err)
			}
			if exit, err := cl.Wait(ctx(t)); err != nil || exit.Code != 0 {
				t.Fatalf("wait: %+v %v", exit, err)
			}
			msgs := readLog(t, c.cfg.LogPath)
			var lines []string
			var long strings.Builder
			for _, m := range msgs {
				if len(m.Line) > 16<<10 {
					t.Errorf("entry of %d bytes", len(m.Line))
				}
				if strings.HasPrefix(string(m.Line), "x") {
					long.Write(m.Line)
					continue
				}
				lines = append(lines, string(m.Line))
			}
			if strings.Join(lines, "") != "line1\nline2\nline3\ntail" {
				t.Fatalf("log lines %q", lines)
			}
			if long.String() != strings.Repeat("x", 40000)+"\n" {
				t.Fatalf("long line of %d bytes", long.Len())
			}
			last := msgs[len(msgs)-1]
			if !last.Partial || string(last.Line) != "tail" {
				t.Fatalf("last entry %+v", last)
			}
		})
	}
}

func TestExec(t *testing.T) {
	for _, r := range runtimes(t) {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			c := newContainer(t, r, "sleep", "100")
			cl := c.create()
			if _, err := cl.Start(ctx(t)); err != nil {
				t.Fatal(err)
			}
			proc := func(terminal bool, args ...string) *specs.Process {
				p := *c.spec.Process
				p.Terminal, p.Args = terminal, args
				return &p
			}
			// Without a terminal: separate streams and the exit code.
			if err := cl.Exec(ctx(t), shim.ExecConfig{ID: "e1", Process: proc(false, "sh", "-c", "echo in-exec; echo oops >&2; exit 7")}); err != nil {
				t.Fatal(err)
			}
			var out, errOut syncBuffer
			res := attach(t, cl, shim.AttachOptions{ExecID: "e1", Stdout: &out, Stderr: &errOut})
			if pid, err := cl.StartExec(ctx(t), "e1"); err != nil || pid <= 0 {
				t.Fatalf("start exec: %d %v", pid, err)
			}
			exit, err := cl.WaitExec(ctx(t), "e1")
			if err != nil || exit.Code != 7 {
				t.Fatalf("wait exec: %+v %v", exit, err)
			}
			if err := <-res; err != nil {
				t.Fatal(err)
			}
			if out.String() != "in-exec\n" || errOut.String() != "oops\n" {
				t.Fatalf("exec stdout %q stderr %q", out.String(), errOut.String())
			}
			// With a terminal, and stdin.
			if err := cl.Exec(ctx(t), shim.ExecConfig{ID: "e2", Process: proc(true, "sh", "-c", "tty; read x; echo got-$x; exit 2"), OpenStdin: true}); err != nil {
				t.Fatal(err)
			}
			stdinR, stdinW := io.Pipe()
			defer stdinW.Close()
			var tout syncBuffer
			res = attach(t, cl, shim.AttachOptions{ExecID: "e2", Stdin: stdinR, Stdout: &tout})
			if _, err := cl.StartExec(ctx(t), "e2"); err != nil {
				t.Fatal(err)
			}
			if err := cl.Resize(ctx(t), "e2", 80, 24); err != nil {
				t.Fatal(err)
			}
			io.WriteString(stdinW, "yes\n")
			exit, err = cl.WaitExec(ctx(t), "e2")
			if err != nil || exit.Code != 2 {
				t.Fatalf("wait exec e2: %+v %v", exit, err)
			}
			<-res
			if got := tout.String(); !strings.Contains(got, "/dev/pts/") || !strings.Contains(got, "got-yes\r\n") {
				t.Fatalf("tty exec output %q", got)
			}
			// Stdin closed by its end: cat exits 0.
			if err := cl.Exec(ctx(t), shim.ExecConfig{ID: "e3", Process: proc(false, "cat"), OpenStdin: true}); err != nil {
				t.Fatal(err)
			}
			var cout syncBuffer
			res = attach(t, cl, shim.AttachOptions{ExecID: "e3", Stdin: strings.NewReader("piped\n"), Stdout: &cout, CloseStdin: true})
			if _, err := cl.StartExec(ctx(t), "e3"); err != nil {
				t.Fatal(err)
			}
			if exit, err := cl.WaitExec(ctx(t), "e3"); err != nil || exit.Code != 0 {
				t.Fatalf("wait exec e3: %+v %v", exit, err)
			}
			<-res
			if cout.String() != "piped\n" {
				t.Fatalf("cat exec %q", cout.String())
			}
			// A missing binary fails the start; the exec's wait says why.
			if err := cl.Exec(ctx(t), shim.ExecConfig{ID: "e4", Process: proc(false, "/no/such/binary")}); err != nil {
				t.Fatal(err)
			}
			if _, err := cl.StartExec(ctx(t), "e4"); err == nil {
				if exit, err := cl.WaitExec(ctx(t), "e4"); err == nil && exit.Code == 0 {
					t.Fatalf("missing binary exec exited 0")
				}
			}
			// KillExec ends the exec (a health check past its timeout), not
			// the container.
			if err := cl.Exec(ctx(t), shim.ExecConfig{ID: "e5", Process: proc(false, "sleep", "100")}); err != nil {
				t.Fatal(err)
			}
			if err := cl.KillExec(ctx(t), "e5", syscall.SIGKILL); !errdefs.IsConflict(err) {
				t.Fatalf("kill of an exec not started: %v", err)
			}
			if _, err := cl.StartExec(ctx(t), "e5"); err != nil {
				t.Fatal(err)
			}
			if err := cl.KillExec(ctx(t), "e5", syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			if exit, err := cl.WaitExec(ctx(t), "e5"); err != nil || exit.Code != 137 {
				t.Fatalf("wait exec e5: %+v %v", exit, err)
			}
			if err := cl.KillExec(ctx(t), "e5", syscall.SIGKILL); !errdefs.IsNotFound(err) {
				t.Fatalf("kill of an ended exec: %v", err)
			}
			if st, err := cl.State(ctx(t)); err != nil || st.Status != shim.StatusRunning {
				t.Fatalf("the container after KillExec: %+v %v", st, err)
			}
			// Exec output never reaches the container's log.
			if msgs := readLog(t, c.cfg.LogPath); len(msgs) != 0 {
				t.Fatalf("log has %d entries", len(msgs))
			}
			st, err := cl.State(ctx(t))
			if err != nil || len(st.Execs) != 5 {
				t.Fatalf("state %+v %v", st, err)
			}
		})
	}
}

// A state directory too deep for a socket address: the shim's socket and
// the console socket are reached through a directory descriptor.
func TestLongStateDir(t *testing.T) {
	r := runtimes(t)[0]
	c := newContainer(t, r, "sh", "-c", "tty; exit 0")
	c.cfg.StateDir = filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("e", 60))
	c.cfg.Terminal = true
	cl := c.create()
	var out syncBuffer
	res := attach(t, cl, shim.AttachOptions{Stdout: &out})
	if _, err := cl.Start(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if exit, err := cl.Wait(ctx(t)); err != nil || exit.Code != 0 {
		t.Fatalf("wait: %+v %v", exit, err)
	}
	<-res
	if !strings.Contains(out.String(), "/dev/pts/") {
		t.Fatalf("output %q", out.String())
	}
	cl.Close()
	cl2, err := shim.Connect(ctx(t), c.cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	c.client = cl2
}

// Several clients attached at once each get the whole output; one that
// leaves early does not disturb the others.
func TestSeveralAttaches(t *testing.T) {
	r := runtimes(t)[0]
	c := newContainer(t, r, "sh", "-c", "read x; for i in $(seq 1 200); do echo line-$i; done; echo err >&2")
	c.cfg.OpenStdin = true
	cl := c.create()
	var a, b syncBuffer
	ra := attach(t, cl, shim.AttachOptions{Stdout: &a, Stderr: &a})
	rb := attach(t, cl, shim.AttachOptions{Stdout: &b})
	early, cancel := context.WithCancel(ctx(t))
	var gone syncBuffer
	rc := make(chan error, 1)
	registered := make(chan struct{})
	go func() {
		rc <- cl.Attach(early, shim.AttachOptions{Stdout: &gone, Attached: func() { close(registered) }})
	}()
	<-registered
	cancel()
	if err := <-rc; err != context.Canceled {
		t.Fatalf("cancelled attach: %v", err)
	}
	stdin := attach(t, cl, shim.AttachOptions{Stdin: strings.NewReader("go\n")})
	if _, err := cl.Start(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Wait(ctx(t)); err != nil {
		t.Fatal(err)
	}
	for _, r := range []<-chan error{ra, rb, stdin} {
		if err := <-r; err != nil {
			t.Fatal(err)
		}
	}
	var want strings.Builder
	for i := 1; i <= 200; i++ {
		fmt.Fprintf(&want, "line-%d\n", i)
	}
	if b.String() != want.String() {
		t.Fatalf("second client got %d bytes", len(b.String()))
	}
	// Each stream keeps its order; across streams there is none.
	if got := a.String(); strings.Replace(got, "err\n", "", 1) != want.String() || !strings.Contains(got, "err\n") {
		t.Fatalf("first client got %q...", got[:min(40, len(got))])
	}
}

// An exec created but never started ends with the container: its attached
// client and its waiter are told, not left hanging.
func TestExecOutlivedByContainer(t *testing.T) {
	r := runtimes(t)[0]
	c := newContainer(t, r, "sh", "-c", "read x")
	c.cfg.OpenStdin = true
	cl := c.create()
	if _, err := cl.Start(ctx(t)); err != nil {
		t.Fatal(err)
	}
	p := *c.spec.Process
	p.Args = []string{"true"}
	if err := cl.Exec(ctx(t), shim.ExecConfig{ID: "late", Process: &p}); err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	res := attach(t, cl, shim.AttachOptions{ExecID: "late", Stdout: &out})
	if err := cl.CloseStdin(ctx(t), ""); err != nil {
		t.Fatal(err)
	}
	// read fails at the end of its input: exit 1.
	if exit, err := cl.Wait(ctx(t)); err != nil || exit.Code != 1 {
		t.Fatalf("wait: %+v %v", exit, err)
	}
	if err := <-res; err != nil {
		t.Fatalf("attach to the unstarted exec: %v", err)
	}
	if _, err := cl.WaitExec(ctx(t), "late"); !errdefs.IsConflict(err) {
		t.Fatalf("wait of the unstarted exec: %v", err)
	}
	if err := cl.Exec(ctx(t), shim.ExecConfig{ID: "after", Process: &p}); !errdefs.IsConflict(err) {
		t.Fatalf("exec in a stopped container: %v", err)
	}
}

// An exec whose work ends the container keeps its status: the daemon
// may delete the shim, on the init's exit, before it asks for the exec's.
func TestExecStatusOutlivesShim(t *testing.T) {
	r := runtimes(t)[0]
	c := newContainer(t, r, "sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.01; done")
	cl := c.create()
	if _, err := cl.Start(ctx(t)); err != nil {
		t.Fatal(err)
	}
	p := *c.spec.Process
	p.Args = []string{"sh", "-c", "touch /tmp/go; exit 3"}
	if err := cl.Exec(ctx(t), shim.ExecConfig{ID: "last", Process: &p}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.StartExec(ctx(t), "last"); err != nil {
		t.Fatal(err)
	}
	if exit, err := cl.Wait(ctx(t)); err != nil || exit.Code != 0 {
		t.Fatalf("wait: %+v %v", exit, err)
	}
	if err := cl.Delete(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if exit, err := cl.WaitExec(ctx(t), "last"); err != nil || exit.Code != 3 {
		t.Fatalf("wait exec after the shim's delete: %+v %v", exit, err)
	}
}

// Execs leave no descriptors behind in the shim.
func TestExecReleasesStdio(t *testing.T) {
	r := runtimes(t)[0]
	c := newContainer(t, r, "sleep", "100")
	cl := c.create()
	if _, err := cl.Start(ctx(t)); err != nil {
		t.Fatal(err)
	}
	data, err := readShimPid(c.cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	fds := func() int {
		ents, _ := os.ReadDir("/proc/" + string(data) + "/fd")
		return len(ents)
	}
	run := func(id string, terminal bool) {
		p := *c.spec.Process
		p.Args, p.Terminal = []string{"true"}, terminal
		if err := cl.Exec(ctx(t), shim.ExecConfig{ID: id, Process: &p, OpenStdin: true}); err != nil {
			t.Fatal(err)
		}
		res := attach(t, cl, shim.AttachOptions{ExecID: id, Stdout: io.Discard})
		if _, err := cl.StartExec(ctx(t), id); err != nil {
			t.Fatal(err)
		}
		if _, err := cl.WaitExec(ctx(t), id); err != nil {
			t.Fatal(err)
		}
		<-res
	}
	run("warm", true)
	before := fds()
	for i := range 5 {
		run(fmt.Sprintf("e%d", i), i%2 == 0)
	}
	// The shim closes a call's connection just after answering it.
	waitFor(t, fmt.Sprintf("the shim to be back at %d descriptors", before), func() bool { return fds() <= before })
	// Finished execs are forgotten beyond the last 16.
	for i := range 14 {
		run(fmt.Sprintf("more%d", i), false)
	}
	if st, err := cl.State(ctx(t)); err != nil || len(st.Execs) != 17 {
		t.Fatalf("the shim remembers %d execs (%v), want 16 finished and the last one", len(st.Execs), err)
	}
}
