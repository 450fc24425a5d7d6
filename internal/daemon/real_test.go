package daemon

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/image/interchange"
	"github.com/berth-project/berth/internal/testenv"
)

// newRealDaemon is a daemon with the real shim and runtime (bin/), on
// its own roots, with busybox:latest loaded. Containers it leaves are
// killed and removed when t ends.
func newRealDaemon(t *testing.T, cfg cfgT) *Daemon {
	t.Helper()
	testenv.RequireRoot(t)
	d, err := New(context.Background(), cfg, WithBinDir(testenv.BinDir(t)),
		WithLogger(slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { removeAll(d); _ = d.Close() })
	if _, err := interchange.Load(context.Background(), bytes.NewReader(busyboxTar(t)), d.ImageStore()); err != nil {
		t.Fatalf("load busybox: %v", err)
	}
	return d
}

// removeAll force-removes every container of d (test cleanup).
func removeAll(d *Daemon) {
	for _, c := range d.containers.List() {
		_ = d.ContainerRemove(context.Background(), c.ID, server.RemoveOptions{Force: true})
	}
}

func logsOf(t *testing.T, d *Daemon, id string, follow bool) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs, _, err := d.ContainerLogs(ctx, id, server.LogsOptions{Stdout: true, Stderr: true, Tail: -1, Follow: follow})
	if err != nil {
		t.Fatalf("logs: %v", err)
	}
	var b strings.Builder
	for m := range msgs {
		if m.Err != nil {
			t.Fatalf("logs: %v", m.Err)
		}
		b.Write(m.Line)
	}
	return b.String()
}

// TestRealRun runs busybox containers through the real shim and runtime:
// run to completion with attach, logs, exit codes, exec, stop, restart
// policy, rm.
func TestRealRun(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	d := newRealDaemon(t, cfg)
	ctx := context.Background()

	// docker run: attach, wait, start.
	id := create(t, d, "", []string{"sh", "-c", "echo out; echo err >&2; exit 3"})
	var out, errb syncBuffer
	if r := runAttached(t, d, id, containertypes.WaitConditionNextExit, &out, &errb); r.StatusCode != 3 {
		t.Fatalf("exit %+v", r)
	}
	if out.String() != "out\n" || errb.String() != "err\n" {
		t.Fatalf("attach got %q / %q", out.String(), errb.String())
	}
	if l := logsOf(t, d, id, false); l != "out\nerr\n" && l != "err\nout\n" {
		t.Fatalf("logs %q", l)
	}

	// A long-running container: exec, top, stats, stop.
	sleeper := create(t, d, "", []string{"sh", "-c", "trap 'exit 0' TERM; echo ready; while true; do sleep 0.1; done"})
	if err := d.ContainerStart(ctx, sleeper); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ready", func() bool { return strings.Contains(logsOf(t, d, sleeper, false), "ready") })
	execID, err := d.ExecCreate(ctx, sleeper, containertypes.ExecCreateRequest{Cmd: []string{"sh", "-c", "echo $HOSTNAME-$X; exit 5"}, Env: []string{"X=y"}, AttachStdout: true})
	if err != nil {
		t.Fatal(err)
	}
	var eout syncBuffer
	if err := d.ExecStart(ctx, execID, server.ExecStartOptions{Streams: func(bool) (server.Streams, error) {
		return server.Streams{Stdout: &eout, Stderr: io.Discard}, nil
	}}); err != nil {
		t.Fatal(err)
	}
	if ein, _ := d.ExecInspect(ctx, execID); ein.ExitCode == nil || *ein.ExitCode != 5 || eout.String() != sleeper[:12]+"-y\n" {
		t.Fatalf("exec: %q %+v", eout.String(), ein)
	}
	top, err := d.ContainerTop(ctx, sleeper, "")
	if err != nil || len(top.Processes) == 0 {
		t.Fatalf("top %+v %v", top, err)
	}
	var st containertypes.StatsResponse
	if err := d.ContainerStats(ctx, sleeper, server.StatsOptions{OneShot: true}, func(s containertypes.StatsResponse) error { st = s; return nil }); err != nil {
		t.Fatal(err)
	}
	if st.MemoryStats.Usage == 0 || st.PidsStats.Current == 0 {
		t.Fatalf("stats %+v", st)
	}
	// An out-of-memory kill: OOMKilled, exit 137, and docker's events.
	ev := recordEvents(t, d)
	oom := create(t, d, "", []string{"sh", "-c", `a=$(head -c 100000000 /dev/zero | tr "\0" x)`}, func(_ *containertypes.Config, h *containertypes.HostConfig) {
		h.Memory, h.MemorySwap = 8<<20, 8<<20
	})
	oomExit := waitFor(t, d, oom, containertypes.WaitConditionNextExit)
	if err := d.ContainerStart(ctx, oom); err != nil {
		t.Fatal(err)
	}
	if r := result(t, oomExit); r.StatusCode != 137 {
		t.Fatalf("oom exit %+v", r)
	}
	if s := inspect(t, d, oom).State; !s.OOMKilled {
		t.Fatalf("OOMKilled not set: %+v", s)
	}
	eventually(t, "oom event", func() bool { return ev.find(oom, "oom") != nil })

	// A health check through the real exec path.
	hc := create(t, d, "", []string{"sleep", "1000"}, func(c *containertypes.Config, _ *containertypes.HostConfig) {
		c.Healthcheck = &containertypes.HealthConfig{Test: []string{"CMD-SHELL", "test -f /tmp/ok && echo fine"}, Interval: 50 * time.Millisecond, Retries: 1}
	})
	if err := d.ContainerStart(ctx, hc); err != nil {
		t.Fatal(err)
	}
	eventually(t, "unhealthy", func() bool { h := inspect(t, d, hc).State.Health; return h != nil && h.Status == "unhealthy" })
	touch, err := d.ExecCreate(ctx, hc, containertypes.ExecCreateRequest{Cmd: []string{"touch", "/tmp/ok"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.ExecStart(ctx, touch, server.ExecStartOptions{Detach: true}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "healthy", func() bool { h := inspect(t, d, hc).State.Health; return h != nil && h.Status == "healthy" })
	if h := inspect(t, d, hc).State.Health; h.Log[len(h.Log)-1].Output != "fine\n" {
		t.Fatalf("health log %+v", h.Log[len(h.Log)-1])
	}
	if err := d.ContainerRemove(ctx, hc, server.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}

	if err := d.ContainerStop(ctx, sleeper, server.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if s := inspect(t, d, sleeper).State; s.Status != "exited" || s.ExitCode != 0 {
		t.Fatalf("after stop: %+v", s)
	}

	// Restart policy through real exits.
	rp := create(t, d, "", []string{"sh", "-c", "echo run; exit 1"}, func(_ *containertypes.Config, h *containertypes.HostConfig) {
		h.RestartPolicy = containertypes.RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}
	})
	if err := d.ContainerStart(ctx, rp); err != nil {
		t.Fatal(err)
	}
	eventually(t, "on-failure:2", func() bool {
		in := inspect(t, d, rp)
		return in.State.Status == "exited" && in.RestartCount == 2
	})
	if l := logsOf(t, d, rp, false); strings.Count(l, "run\n") != 3 {
		t.Fatalf("logs of 3 runs: %q", l)
	}
	for _, c := range []string{id, sleeper, rp} {
		if err := d.ContainerRemove(ctx, c, server.RemoveOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRealLiveRestore closes the daemon while containers run and opens a
// new one: logs, exec, stop and wait work on the restored containers.
func TestRealLiveRestore(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	d := newRealDaemon(t, cfg)
	ctx := context.Background()
	var ids []string
	for range 3 {
		id := create(t, d, "", []string{"sh", "-c", "trap 'exit 7' TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.05; done"})
		if err := d.ContainerStart(ctx, id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	pids := map[string]int{}
	for _, id := range ids {
		pids[id] = inspect(t, d, id).State.Pid
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	before := len(logsOfDir(t, cfg, ids[0]))
	time.Sleep(300 * time.Millisecond)
	if after := len(logsOfDir(t, cfg, ids[0])); after <= before {
		t.Fatal("the container stopped logging while the daemon was away")
	}

	d2 := newRealDaemon(t, cfg)
	for _, id := range ids {
		if s := inspect(t, d2, id).State; s.Status != "running" || s.Pid != pids[id] {
			t.Fatalf("restored %s: %+v", id[:12], s)
		}
	}
	execID, err := d2.ExecCreate(ctx, ids[0], containertypes.ExecCreateRequest{Cmd: []string{"echo", "back"}, AttachStdout: true})
	if err != nil {
		t.Fatal(err)
	}
	var eout syncBuffer
	if err := d2.ExecStart(ctx, execID, server.ExecStartOptions{Streams: func(bool) (server.Streams, error) {
		return server.Streams{Stdout: &eout, Stderr: io.Discard}, nil
	}}); err != nil || eout.String() != "back\n" {
		t.Fatalf("exec after restore: %q %v", eout.String(), err)
	}
	exit := waitFor(t, d2, ids[1], containertypes.WaitConditionNotRunning)
	if err := d2.ContainerStop(ctx, ids[1], server.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if r := result(t, exit); r.StatusCode != 7 {
		t.Fatalf("exit after restore %+v", r)
	}
}

// logsOfDir reads a container's json log straight from disk.
func logsOfDir(t *testing.T, cfg cfgT, id string) []byte {
	t.Helper()
	b, _ := readFile(cfg.DataRoot + "/containers/" + id + "/" + id + "-json.log")
	return b
}

// TestRealOrphanShimEnded: a shim whose container has no record (a start
// in flight when the daemon died, whose container's removal reached the
// disk) is ended at the next start, with its container, its mounts and
// its directory; so is one left by a record the removal then takes.
func TestRealOrphanShimEnded(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	d := newRealDaemon(t, cfg)
	ctx := context.Background()
	id := create(t, d, "", []string{"sleep", "1000"})
	if err := d.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	pid := inspect(t, d, id).State.Pid
	shimDir, bundle := d.shimDir(id), d.bundleDir(id)
	// The runtime reports its create before its process ends: until it
	// has, the init is its child, not yet the shim's.
	var shimPID int
	eventually(t, "the container's parent to be its shim", func() bool {
		_, shimPID, _ = testenv.ProcState(pid)
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", shimPID))
		return string(comm) == "berth-shim\n"
	})
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(cfg.DataRoot, "containers", id)); err != nil {
		t.Fatal(err)
	}

	d2 := newRealDaemon(t, cfg)
	if _, err := d2.containers.Get(id); err == nil {
		t.Fatal("the container without a record is back")
	}
	deadline := time.Now().Add(10 * time.Second)
	for (testenv.Alive(pid) || testenv.Alive(shimPID)) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if testenv.Alive(pid) {
		t.Errorf("the orphan's process %d still runs", pid)
	}
	if testenv.Alive(shimPID) {
		t.Errorf("the orphan's shim %d still runs", shimPID)
	}
	if _, err := os.Stat(shimDir); !os.IsNotExist(err) {
		t.Errorf("the orphan's shim directory is still there: %v", err)
	}
	if m := testenv.MountsUnder(t, bundle); len(m) > 0 {
		t.Errorf("the orphan's mounts stay: %v", m)
	}
}

// TestRealHibernatedShim: with a short --shim-hibernate-after, an idle
// container's shim hibernates (its process runs berth-shim-keeper) and
// the daemon notices nothing: exec, logs, a restart of the daemon
// (restore), stop and the exit status work as with an awake shim.
func TestRealHibernatedShim(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	cfg.ShimHibernateAfter = "100ms"
	d := newRealDaemon(t, cfg)
	ctx := context.Background()
	id := create(t, d, "", []string{"sh", "-c", "trap 'echo bye; exit 7' TERM; echo hi; while true; do sleep 0.05; done"})
	if err := d.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	_, shimPID, _ := testenv.ProcState(inspect(t, d, id).State.Pid)
	asleep := func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", shimPID))
			if filepath.Base(exe) == "berth-shim-keeper" {
				return
			}
			if time.Now().After(deadline) {
				syscall.Kill(shimPID, syscall.SIGQUIT)
				time.Sleep(300 * time.Millisecond)
				log, _ := os.ReadFile(filepath.Join(cfg.ExecRoot, "shims", id, "shim.log"))
				t.Fatalf("%s: the shim %d does not hibernate (runs %q); its log:\n%s", what, shimPID, exe, log)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	asleep("after the start")
	execID, err := d.ExecCreate(ctx, id, containertypes.ExecCreateRequest{Cmd: []string{"echo", "back"}, AttachStdout: true})
	if err != nil {
		t.Fatal(err)
	}
	var eout syncBuffer
	if err := d.ExecStart(ctx, execID, server.ExecStartOptions{Streams: func(bool) (server.Streams, error) {
		return server.Streams{Stdout: &eout, Stderr: io.Discard}, nil
	}}); err != nil || eout.String() != "back\n" {
		t.Fatalf("exec in a hibernated container: %q %v", eout.String(), err)
	}
	asleep("after an exec")
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d2 := newRealDaemon(t, cfg)
	if s := inspect(t, d2, id).State; s.Status != "running" || parentPID(s.Pid) != shimPID {
		t.Fatalf("restored from a hibernated shim: %+v", s)
	}
	asleep("after the restore")
	exit := waitFor(t, d2, id, containertypes.WaitConditionNotRunning)
	if err := d2.ContainerStop(ctx, id, server.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if r := result(t, exit); r.StatusCode != 7 {
		t.Fatalf("exit %+v, want 7", r)
	}
	if out := logsOf(t, d2, id, false); out != "hi\nbye\n" {
		t.Fatalf("logs %q", out)
	}
}

func parentPID(pid int) int {
	_, ppid, _ := testenv.ProcState(pid)
	return ppid
}
