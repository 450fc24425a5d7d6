package runtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestExecJoinsContainer: an exec'd process is in every namespace of the
// container: pid 1 is the container's process, and the namespaces match.
func TestExecJoinsContainer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBundle(t, "sleep", "1000")
	b.spec.Hostname = "exec-target"
	c := e.newContainer(b)
	c.run()
	c.waitStatus("running")
	r := c.exec(stdio{}, nil, "sh", "-c", `
		echo "cmdline=$(tr '\0' ' ' < /proc/1/cmdline)"
		echo "self=$$"
		echo "hostname=$(hostname)"
		for n in pid net ipc uts mnt cgroup; do
			[ "$(readlink /proc/1/ns/$n)" = "$(readlink /proc/self/ns/$n)" ] || echo "differs=$n"
		done`)
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	for _, want := range []string{"cmdline=sleep 1000 \n", "hostname=exec-target\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("exec output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "self=1\n") || !strings.Contains(r.stdout, "self=") {
		t.Errorf("the exec'd shell should be a pid other than 1 in the container's namespace:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout, "differs=") {
		t.Errorf("the exec'd process is not in all the container's namespaces:\n%s", r.stdout)
	}
	if st := c.state(); st.Status != "running" {
		t.Errorf("after exec the container is %s", st.Status)
	}
}

// TestExecExitCode: exec exits with the process's exit code, and 128+n
// when signal n kills it.
func TestExecExitCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.newContainer(newBundle(t, "sleep", "1000"))
	c.run()
	for _, tc := range []struct {
		script string
		code   int
	}{
		{"exit 0", 0},
		{"exit 7", 7},
		// Not pid 1, so it dies of its own SIGKILL.
		{"kill -9 $$", 137},
	} {
		if r := c.exec(stdio{}, nil, "sh", "-c", tc.script); r.code != tc.code {
			t.Errorf("exec sh -c %q: want exit %d, got %v", tc.script, tc.code, r)
		}
	}
	if st := c.state(); st.Status != "running" {
		t.Errorf("after the execs the container is %s", st.Status)
	}
}

// TestExecOptions: -e, --cwd and -u shape the exec'd process.
func TestExecOptions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.newContainer(newBundle(t, "sleep", "1000"))
	c.run()
	const script = `echo "foo=$FOO"; pwd; id`
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{nil, "foo=\n/\nuid=0(root) gid=0(root)"},
		{[]string{"-e", "FOO=bar", "--cwd", "/tmp"}, "foo=bar\n/tmp\nuid=0(root) gid=0(root)"},
		// Without a gid the container's process gid stays (0).
		{[]string{"-u", "1000"}, "foo=\n/\nuid=1000(berth) gid=0(root)"},
		{[]string{"-u", "1000:1000", "--cwd", "/home/berth"}, "foo=\n/home/berth\nuid=1000(berth) gid=1000(berth)"},
	} {
		r := c.exec(stdio{}, tc.flags, "sh", "-c", script)
		if r.code != 0 || !strings.HasPrefix(r.stdout, tc.want) {
			t.Errorf("exec %v: want output starting %q, got %v", tc.flags, tc.want, r)
		}
	}
}

// TestExecProcessJSON: -p takes the whole process from a file.
func TestExecProcessJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.newContainer(newBundle(t, "sleep", "1000"))
	c.run()
	p := specs.Process{
		Args: []string{"sh", "-c", `echo "$GREETING from $(pwd) as $(id -u)"`},
		Env:  []string{"PATH=/bin", "GREETING=hello"},
		Cwd:  "/etc",
		User: specs.User{UID: 1000, GID: 1000},
	}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "process.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r := c.exec(stdio{}, []string{"-p", path})
	if r.code != 0 || r.stdout != "hello from /etc as 1000\n" {
		t.Errorf("exec -p: %v", r)
	}
}

// TestExecDetachedPidFile: exec -d returns at once, leaving the process
// running in the container's pid namespace; --pid-file holds its host pid.
func TestExecDetachedPidFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.newContainer(newBundle(t, "sleep", "1000"))
	c.run()
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	if r := c.exec(stdio{}, []string{"-d", "--pid-file", pidFile}, "sleep", "1000"); r.code != 0 {
		t.Fatalf("%v", r)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(readFile(t, pidFile)))
	if err != nil {
		t.Fatal(err)
	}
	c.track(pid)
	if n := nsPid(t, pid); n == 1 || n == pid {
		t.Errorf("the exec'd process has pid %d in the container (host pid %d): not in the container's pid namespace", n, pid)
	}
	ours, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	theirs, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", c.pid))
	if ours == "" || ours != theirs {
		t.Errorf("the exec'd process is in pid namespace %q, the container in %q", ours, theirs)
	}
	var pids []int
	if err := json.Unmarshal([]byte(e.mustRT("ps", "--format", "json", c.id).stdout), &pids); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range pids {
		found = found || p == pid
	}
	if !found {
		t.Errorf("ps %v lacks the exec'd process %d", pids, pid)
	}
}

// TestExecTTY: exec -t with a console socket gives the process its own pty.
func TestExecTTY(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.newContainer(newBundle(t, "sleep", "1000"))
	c.run()
	sock := newConsoleSocket(t)
	// exec waits for the process, which waits for input: run it in the
	// background and talk to it through the pty.
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := e.command(ctx, "exec", "-t", "--console-socket", sock.path, c.id, "sh")
	cmd.Stdout, cmd.Stderr = tempFile(t, "out"), tempFile(t, "err")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := sock.receive()
	p.write("echo @tty; tty; [ -t 0 ] && [ -t 1 ] && echo stdio-is-a-tty-$((2+2))\n")
	out := p.expect("stdio-is-a-tty-4\n")
	if got := lineAfter(out, "@tty"); !strings.HasPrefix(got, "/dev/pts/") {
		t.Errorf("tty in the exec'd shell: %q\n%s", got, out)
	}
	p.write("exit 4\n")
	r := finish(t, []string{"exec", "-t"}, cmd.Wait(), "", readFile(t, cmd.Stderr.(*os.File).Name()))
	if r.code != 4 {
		t.Errorf("exec -t: want exit 4, got %v", r)
	}
}
