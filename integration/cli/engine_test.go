package cli_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testenv"
	"github.com/berth-project/berth/internal/testenv/daemontest"
)

// cliTimeout bounds one client invocation: a hung command fails its step
// with what it printed instead of hanging the suite.
const cliTimeout = 60 * time.Second

// engine is a daemon started for a test (or a package's tables) with
// busybox:latest in it, and the client configuration the suite uses.
type engine struct {
	d *daemontest.Daemon
	// home is HOME and DOCKER_CONFIG for every client run: the clients'
	// config (auths, contexts) stays out of the host's ~/.docker.
	home string
	// tar is the busybox root filesystem tar scripts/mkbusybox.sh writes,
	// for the import scenarios.
	tar string
}

// startEngine starts a daemon of the selected target for t and makes
// busybox:latest in it with scripts/mkbusybox.sh, as set-up does.
func startEngine(t *testing.T, opts ...daemontest.Option) *engine {
	t.Helper()
	d := daemontest.Start(t, opts...)
	e := &engine{d: d, home: t.TempDir()}
	e.tar = filepath.Join(t.TempDir(), "busybox.tar")
	script := filepath.Join(testenv.RepoRoot(t), "scripts", "mkbusybox.sh")
	start := time.Now()
	for _, args := range [][]string{
		{"-o", e.tar},
		{"-H", d.Host(), "--cli", DockerCLI},
	} {
		cmd := exec.Command(script, args...)
		cmd.Env = e.env()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", script, strings.Join(args, " "), err, out)
		}
	}
	t.Logf("busybox:latest made in %v", time.Since(start).Round(time.Millisecond))
	return e
}

// env is the environment of client runs: the test's, without anything
// that would point a client at another daemon or config, plus our HOME.
func (e *engine) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "DOCKER_") || strings.HasPrefix(k, "BERTH_") || k == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+e.home, "DOCKER_CONFIG="+filepath.Join(e.home, ".docker"),
		"DOCKER_CLI_HINTS=false")
}

// result is what one client run did.
type result struct {
	cmd            string // for messages
	stdout, stderr string
	exit           int
}

func (r result) String() string {
	return fmt.Sprintf("$ %s\nexit %d\nstdout:\n%s\nstderr:\n%s", r.cmd, r.exit, indent(r.stdout), indent(r.stderr))
}

func indent(s string) string {
	if s == "" {
		return "  (empty)"
	}
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
}

// command builds `client -H host args...` with the suite's environment.
func (e *engine) command(ctx context.Context, c client, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.path, append([]string{"-H", e.d.Host()}, args...)...)
	cmd.Env = e.env()
	cmd.Dir = e.home
	// A killed client may leave a child holding the pipes; don't wait
	// for it forever.
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// run runs the client to completion. It fails t only when the client
// could not run at all; the exit code is the caller's to judge.
func (e *engine) run(t testing.TB, c client, stdin io.Reader, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := e.command(ctx, c, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	err := cmd.Run()
	r := result{cmd: c.name + " " + shellQuote(args), stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		t.Fatalf("timed out after %v:\n%s", cliTimeout, r)
	case errors.As(err, &exitErr):
		r.exit = exitErr.ExitCode()
	default:
		t.Fatalf("%s: %v", r.cmd, err)
	}
	return r
}

// must runs the client and fails t unless it exits 0; it returns stdout
// without the trailing newline.
func (e *engine) must(t testing.TB, c client, args ...string) string {
	t.Helper()
	r := e.run(t, c, nil, args...)
	if r.exit != 0 {
		t.Fatalf("want exit 0:\n%s", r)
	}
	return strings.TrimRight(r.stdout, "\n")
}

// shellQuote renders args for messages as one could paste them.
func shellQuote(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,@+") == "" {
			b.WriteString(a)
			continue
		}
		b.WriteString("'" + strings.ReplaceAll(a, "'", `'\''`) + "'")
	}
	return b.String()
}
