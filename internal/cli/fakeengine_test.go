package cli

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/api/server/servertest"
)

// engine is the real API server over servertest's in-memory backend on a
// unix socket: a tiny daemon both berth and the docker CLI can drive.
type engine struct {
	t    *testing.T
	host string
	fake *servertest.Fake
}

func newEngine(t *testing.T) *engine {
	t.Helper()
	fake := servertest.New()
	srv := server.New(attachFirst{fake, new(atomic.Int32)}, server.WithLogger(slog.New(slog.DiscardHandler)))
	dir, err := os.MkdirTemp("", "bertheng")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "e.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler()}
	go hs.Serve(l) //nolint:errcheck // ends with Close
	t.Cleanup(func() {
		hs.Close()
		os.RemoveAll(dir)
	})
	return &engine{t: t, host: "unix://" + sock, fake: fake}
}

// attachFirst makes a start wait for attaches being set up: servertest's
// fake answers an attach (101) before it registers the output, so a client
// that starts at once can lose the first lines. (A real daemon registers
// first; see server.AttachOptions.)
type attachFirst struct {
	*servertest.Fake
	pending *atomic.Int32
}

func (a attachFirst) ContainerAttach(ctx context.Context, name string, opts server.AttachOptions) error {
	a.pending.Add(1)
	settled := false
	settle := func() {
		if !settled {
			settled = true
			// The fake registers the output right after the hijack.
			time.AfterFunc(2*time.Millisecond, func() { a.pending.Add(-1) })
		}
	}
	defer settle()
	hijack := opts.Streams
	opts.Streams = func(tty bool) (server.Streams, error) {
		st, err := hijack(tty)
		settle()
		return st, err
	}
	return a.Fake.ContainerAttach(ctx, name, opts)
}

func (a attachFirst) ContainerStart(ctx context.Context, name string) error {
	for i := 0; i < 1000 && a.pending.Load() > 0; i++ {
		time.Sleep(time.Millisecond)
	}
	return a.Fake.ContainerStart(ctx, name)
}

func (e *engine) berth(stdin string, args ...string) result {
	var out, errb bytes.Buffer
	code := Main(context.Background(), Streams{In: strings.NewReader(stdin), Out: &out, Err: &errb},
		append([]string{"-H", e.host}, args...), WithGetenv(func(string) string { return "" }))
	return result{out.String(), errb.String(), code}
}

func (e *engine) docker(stdin string, args ...string) result {
	e.t.Helper()
	home := e.t.TempDir()
	cmd := exec.Command(dockerCLI, append([]string{"-H", e.host}, args...)...)
	cmd.Env = []string{"HOME=" + home, "DOCKER_CONFIG=" + filepath.Join(home, ".docker"), "PATH=/usr/bin:/bin"}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

// TestScriptedOutputsMatchDocker runs the commands scripts rely on with
// berth and with the docker CLI against the same engine and compares
// stdout and exit codes. Each step runs on both sides in turn, so both see
// the same state.
func TestScriptedOutputsMatchDocker(t *testing.T) {
	requireDockerCLI(t)
	e := newEngine(t)
	both := func(stdin string, args ...string) (result, result) {
		return e.docker(stdin, args...), e.berth(stdin, args...)
	}
	// The two commands run a moment apart: a relative time may cross a
	// second between them.
	secondsAgo := regexp.MustCompile(`\d+ seconds ago`)
	same := func(args ...string) {
		t.Helper()
		d, b := both("", args...)
		d.out = secondsAgo.ReplaceAllString(d.out, "N seconds ago")
		b.out = secondsAgo.ReplaceAllString(b.out, "N seconds ago")
		if d.out != b.out || d.code != b.code {
			t.Errorf("%v:\ndocker exit %d out %q err %q\nberth  exit %d out %q err %q", args, d.code, d.out, d.err, b.code, b.out, b.err)
		}
	}
	sameCode := func(args ...string) {
		t.Helper()
		d, b := both("", args...)
		if d.code != b.code {
			t.Errorf("%v: docker exit %d (%q), berth exit %d (%q)", args, d.code, d.err, b.code, b.err)
		}
	}

	// run: output and exit status of the container, 125 for daemon errors.
	same("run", "--rm", "busybox", "echo", "hello", "world")
	same("run", "--rm", "busybox", "exit", "3")
	same("run", "--rm", "-i", "busybox", "cat")
	sameCode("run", "--rm", "nosuchimage:1", "echo")
	sameCode("run", "--rm", "--restart", "bogus:", "busybox", "echo")

	// Named containers, made once per side so names do not clash.
	if r := e.docker("", "run", "-d", "--name", "d1", "-l", "k=v", "busybox", "sleep"); r.code != 0 {
		t.Fatalf("docker run -d: %+v", r)
	}
	if r := e.berth("", "run", "-d", "--name", "b1", "-l", "k=v", "busybox", "sleep"); r.code != 0 {
		t.Fatalf("berth run -d: %+v", r)
	}
	for _, pair := range [][2][]string{
		{{"inspect", "-f", "{{.State.Status}} {{.Config.Labels.k}} {{.Config.Cmd}}", "d1"}, {"inspect", "-f", "{{.State.Status}} {{.Config.Labels.k}} {{.Config.Cmd}}", "b1"}},
		{{"inspect", "-f", "{{json .Config.Labels}}", "d1"}, {"inspect", "-f", "{{json .Config.Labels}}", "b1"}},
		{{"container", "inspect", "--format", "{{.Name}}", "d1"}, {"container", "inspect", "--format", "{{.Name}}", "b1"}},
		{{"exec", "d1", "echo", "in", "exec"}, {"exec", "b1", "echo", "in", "exec"}},
		{{"exec", "d1", "exit", "7"}, {"exec", "b1", "exit", "7"}},
		{{"ps", "--filter", "name=d1", "--format", "{{.Image}} {{.Command}} {{.State}} {{.Label \"k\"}}"}, {"ps", "--filter", "name=b1", "--format", "{{.Image}} {{.Command}} {{.State}} {{.Label \"k\"}}"}},
		{{"stop", "d1"}, {"stop", "b1"}},
		{{"wait", "d1"}, {"wait", "b1"}},
		{{"inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "d1"}, {"inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "b1"}},
	} {
		d, b := e.docker("", pair[0]...), e.berth("", pair[1]...)
		dOut := strings.ReplaceAll(d.out, "d1", "X")
		bOut := strings.ReplaceAll(b.out, "b1", "X")
		if dOut != bOut || d.code != b.code {
			t.Errorf("%v:\ndocker exit %d out %q err %q\nberth  exit %d out %q err %q", pair[1], d.code, d.out, d.err, b.code, b.out, b.err)
		}
	}
	same("images")
	same("images", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}")
	same("image", "inspect", "-f", "{{.RepoTags}}", "busybox")
	same("version", "--format", "{{.Server.Version}} {{.Server.APIVersion}}")
	same("info", "--format", "{{.ServerVersion}} {{.Images}}")
	same("inspect", "nosuch")
	same("rm", "nosuch")
	same("rm", "-f", "nosuch")
	same("logs", "nosuch")
	same("exec", "nosuch", "true")
	same("ps", "-a", "-q", "--filter", "name=nosuch")
	d, b := e.docker("", "rm", "-f", "d1"), e.berth("", "rm", "-f", "b1")
	if d.out != "d1\n" || b.out != "b1\n" || d.code != 0 || b.code != 0 {
		t.Errorf("rm -f: docker %+v, berth %+v", d, b)
	}
}
