package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testenv"
	"github.com/berth-project/berth/internal/testenv/daemontest"
	"github.com/berth-project/berth/internal/testenv/nettest"
)

// runBerthd runs bin/berthd with args until it exits (or 10 s pass).
func runBerthd(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(testenv.BinDir(t), "berthd"), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("berthd %v did not exit:\n%s", args, out.String())
	}
	return out.String(), cmd.ProcessState.ExitCode()
}

// TestOneDaemonPerDataRoot: a second berthd on a data root in use fails at
// once, saying why, and leaves the first one serving.
func TestOneDaemonPerDataRoot(t *testing.T) {
	d := nettest.StartDaemon(t)
	dir := t.TempDir()
	// The second daemons get a prefix of their own and no default bridge
	// and no firewall: the one that gets as far as networking before it
	// fails must not touch the first one's (or the host's) bridges and
	// tables.
	prefix := nettest.Prefix(t)
	t.Cleanup(func() { _ = daemontest.RemoveNetworking(prefix) })
	isolated := []string{"--resource-prefix", prefix, "--bridge", "none", "--iptables=false"}
	out, code := runBerthd(t, append([]string{"--config-file", filepath.Join(d.Root(), "daemon.json"), "--data-root", d.DataRoot(),
		"--exec-root", filepath.Join(dir, "x"), "-H", "unix://" + filepath.Join(dir, "s.sock")}, isolated...)...)
	if code == 0 || !strings.Contains(out, "in use by another berthd") {
		t.Fatalf("second daemon: exit %d\n%s", code, out)
	}
	if c, err := net.Dial("unix", d.Socket()); err != nil {
		t.Fatalf("the first daemon stopped serving: %v", err)
	} else {
		c.Close()
	}
	// The same socket, another data root: the live socket is not taken.
	out, code = runBerthd(t, append([]string{"--config-file", filepath.Join(d.Root(), "daemon.json"), "--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "x"), "-H", d.Host()}, isolated...)...)
	if code == 0 || !strings.Contains(out, "another daemon serves it") {
		t.Fatalf("daemon on a live socket: exit %d\n%s", code, out)
	}
}

// TestStartAndStop: a stale socket is replaced; the socket is 0660; the
// pid file names the daemon; SIGTERM ends it cleanly and removes both.
func TestStartAndStop(t *testing.T) {
	testenv.RequireRoot(t)
	dir, err := os.MkdirTemp("", "bdt-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock := filepath.Join(dir, "d.sock")
	// A stale socket: bound, then its listener gone.
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	cfg := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(cfg, []byte(`{"log-level": "debug"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	pidfile := filepath.Join(dir, "d.pid")
	// Its own prefix and default bridge subnet; the bridge and tables it
	// leaves (live restore) go when the test ends.
	prefix, sub := nettest.Prefix(t), nettest.Subnet(t)
	t.Cleanup(func() { _ = daemontest.RemoveNetworking(prefix) })
	cmd := exec.Command(filepath.Join(testenv.BinDir(t), "berthd"), "--config-file", cfg,
		"--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "x"),
		"-H", "unix://"+sock, "--pidfile", pidfile, "--resource-prefix", prefix,
		"--bip", fmt.Sprintf("%s/%d", nettest.Nth(sub, 1), sub.Bits()))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("berthd did not serve:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket mode: %v %v", fi.Mode(), err)
	}
	b, _ := os.ReadFile(pidfile)
	if strings.TrimSpace(string(b)) != strconv.Itoa(cmd.Process.Pid) {
		t.Fatalf("pid file %q, pid %d", b, cmd.Process.Pid)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "data", "version")); string(b) != "1\n" {
		t.Fatalf("layout version %q", b)
	}
	// A second daemon on the same pid file is refused.
	o2, code := runBerthd(t, "--config-file", cfg, "--data-root", filepath.Join(dir, "data2"),
		"--exec-root", filepath.Join(dir, "x2"), "-H", "unix://"+filepath.Join(dir, "d2.sock"), "--pidfile", pidfile,
		"--resource-prefix", prefix, "--bridge", "none", "--iptables=false")
	if code == 0 || !strings.Contains(o2, "names a running berthd") {
		t.Fatalf("second daemon on the pid file: exit %d\n%s", code, o2)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("berthd after SIGTERM: %v\n%s", err, out.String())
	}
	for _, p := range []string{sock, pidfile} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left after shutdown: %v", p, err)
		}
	}
	if !strings.Contains(out.String(), "level=DEBUG") {
		t.Errorf("the config file's log level was not applied:\n%s", out.String())
	}
}

// TestBadFlags: contradictions are refused before anything starts.
func TestBadFlags(t *testing.T) {
	var stderr bytes.Buffer
	if code := run([]string{"-H", "tcp://127.0.0.1:2375", "--config-file", ""}, &stderr); code != 1 || !strings.Contains(stderr.String(), "--tlsverify") {
		t.Fatalf("tcp without TLS: %d %s", code, stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"--no-such-flag"}, &stderr); code != 125 {
		t.Fatalf("unknown flag: %d", code)
	}
	stderr.Reset()
	if code := run([]string{"--version"}, &stderr); code != 0 || !strings.Contains(stderr.String(), "Berth version") {
		t.Fatalf("--version: %d %s", code, stderr.String())
	}
}
