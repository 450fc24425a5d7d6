package daemontest

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseTarget(t *testing.T) {
	for in, want := range map[string]Target{
		"": Berth, "berth": Berth, "berthd": Berth, "BERTH": Berth,
		"docker": Docker, "dockerd": Docker, " Docker ": Docker, "moby": Docker,
	} {
		if got, err := ParseTarget(in); err != nil || got != want {
			t.Errorf("ParseTarget(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseTarget("podman"); err == nil {
		t.Errorf("ParseTarget(podman) succeeded")
	}
}

func TestMakeOptionsContradictions(t *testing.T) {
	for name, opts := range map[string][]Option{
		"bad target":   {WithTarget("podman")},
		"zero timeout": {WithStartTimeout(0)},
		"bad prefix":   {WithPrefix("Bad/Prefix")},
	} {
		if _, err := makeOptions(opts); err == nil {
			t.Errorf("%s: makeOptions succeeded", name)
		}
	}
}

func TestUnescapeMountPath(t *testing.T) {
	for in, want := range map[string]string{
		`/a/b`:           "/a/b",
		`/a\040b`:        "/a b",
		`/a\011b\012c`:   "/a\tb\nc",
		`/back\134slash`: `/back\slash`,
		`/trailing\04`:   `/trailing\04`,
	} {
		if got := unescapeMountPath(in); got != want {
			t.Errorf("unescapeMountPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPidsByPath: a process naming a file under the root is found, one
// naming a sibling whose name extends the root's is not.
func TestPidsByPath(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "bt-12")
	start := func(arg string) *exec.Cmd {
		// arg is sh's $0: it shows in the command line, harmlessly.
		cmd := exec.Command("sh", "-c", "sleep 60", arg)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	ours := start(root + "/x/shims/abc")
	theirs := start(root + "3/x")
	exact := start("--root=" + root)
	pids, err := pidsByPath(root)
	if err != nil {
		t.Fatal(err)
	}
	found := map[int]bool{}
	for _, p := range pids {
		found[p] = true
	}
	if !found[ours.Process.Pid] {
		t.Errorf("process naming %s/x/shims/abc not found in %v", root, pids)
	}
	if !found[exact.Process.Pid] {
		t.Errorf("process naming --root=%s not found in %v", root, pids)
	}
	if found[theirs.Process.Pid] {
		t.Errorf("process naming %s3/x found", root)
	}
}

// checkGone checks that nothing of d is left on the host.
func checkGone(t *testing.T, root, prefix string) {
	t.Helper()
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("root %s still exists (%v)", root, err)
	}
	pids, err := pidsByPath(root)
	if err != nil || len(pids) > 0 {
		t.Errorf("processes naming %s left: %v %v", root, pids, err)
	}
	mounts, err := cgroupMounts()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mounts {
		if _, err := os.Stat(filepath.Join(m.path, prefix)); !os.IsNotExist(err) {
			t.Errorf("cgroup %s/%s left (%v)", m.path, prefix, err)
		}
	}
	if ms, _ := mountsUnder(root); len(ms) > 0 {
		t.Errorf("mounts left: %v", ms)
	}
}

// exercise starts a daemon of target, checks that it answers the docker
// CLI, kills and restarts it, leaves a container running when the test
// ends, and checks that the cleanup removed everything.
func exercise(t *testing.T, target Target, cli string) {
	var root, prefix string
	t.Run("run", func(t *testing.T) {
		d := Start(t, WithTarget(target))
		root, prefix = d.Root(), d.Prefix()
		if !strings.HasPrefix(d.Host(), "unix:///") || d.Target() != target {
			t.Fatalf("Host() = %q, Target() = %q", d.Host(), d.Target())
		}
		docker := func(args ...string) string {
			t.Helper()
			cmd := exec.Command(cli, append([]string{"-H", d.Host()}, args...)...)
			cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir())
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s %v: %v\n%s\ndaemon log:\n%s", cli, args, err, out, d.LogTail())
			}
			return strings.TrimSpace(string(out))
		}
		if v := docker("version", "--format", "{{.Server.Os}}"); v != "linux" {
			t.Errorf("server OS %q", v)
		}
		pid := d.Pid()
		d.Kill(t)
		if d.Pid() != 0 || syscall.Kill(pid, 0) == nil {
			t.Fatalf("daemon %d still alive after Kill", pid)
		}
		d.Restart(t)
		d.Restart(t) // from running this time: SIGTERM first
		if d.Pid() == 0 || d.Pid() == pid {
			t.Fatalf("Pid() = %d after Restart (was %d)", d.Pid(), pid)
		}
		docker("info", "--format", "{{.ID}}")
		// A running container when the test ends: the cleanup must end it
		// and its mounts and cgroups.
		tar := busyboxTar(t)
		importCmd := exec.Command(cli, "-H", d.Host(), "import", "-", "daemontest/busybox:latest")
		importCmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir())
		importCmd.Stdin = tar
		if out, err := importCmd.CombinedOutput(); err != nil {
			t.Fatalf("import: %v\n%s\n%s", err, out, d.LogTail())
		}
		docker("run", "-d", "--network", "none", "daemontest/busybox", "sleep", "600")
	})
	if root == "" {
		return // Start failed and said why
	}
	checkGone(t, root, prefix)
}

// busyboxTar returns a minimal rootfs tar: busybox as /bin/sh and
// /bin/sleep, enough to run a container.
func busyboxTar(t *testing.T) io.Reader {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "/bin/busybox", filepath.Join(dir, "bin/busybox")).CombinedOutput(); err != nil {
		t.Fatalf("cp busybox: %v %s", err, out)
	}
	for _, a := range []string{"sh", "sleep"} {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command("tar", "-C", dir, "-c", ".").Output()
	if err != nil {
		t.Fatalf("tar: %v", err)
	}
	return strings.NewReader(string(out))
}

func TestStartBerthd(t *testing.T) {
	exercise(t, Berth, "/usr/local/bin/docker")
}

func TestStartDockerd(t *testing.T) {
	start := time.Now()
	exercise(t, Docker, "/usr/local/bin/docker")
	t.Logf("dockerd round trip in %v", time.Since(start).Round(time.Millisecond))
}
