package daemon

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestExec(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	d := newTestDaemon(t, cfg, newFakeLauncher())
	ev := recordEvents(t, d)
	ctx := context.Background()
	id := create(t, d, "", []string{"sleep", "1000"})
	if _, err := d.ExecCreate(ctx, id, containertypes.ExecCreateRequest{Cmd: []string{"echo", "x"}}); !errdefs.IsConflict(err) {
		t.Fatalf("exec in a created container: %v", err)
	}
	if err := d.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ExecCreate(ctx, id, containertypes.ExecCreateRequest{}); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("exec without a command: %v", err)
	}
	// dockerd's words for exec's bad detach keys ("detach keys" is attach's).
	_, err := d.ExecCreate(ctx, id, containertypes.ExecCreateRequest{Cmd: []string{"true"}, DetachKeys: "bogus"})
	if !errdefs.IsInvalidParameter(err) || err.Error() != "Invalid escape keys (bogus) provided" {
		t.Fatalf("exec with bad detach keys: %v", err)
	}
	execID, err := d.ExecCreate(ctx, id, containertypes.ExecCreateRequest{Cmd: []string{"echo", "from", "exec"}, AttachStdout: true, AttachStderr: true, Env: []string{"A=1"}})
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	err = d.ExecStart(ctx, execID, server.ExecStartOptions{Streams: func(tty bool) (server.Streams, error) {
		return server.Streams{Stdout: &out, Stderr: io.Discard}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != "from exec\n" {
		t.Fatalf("exec output %q", out.String())
	}
	in, err := d.ExecInspect(ctx, execID)
	if err != nil {
		t.Fatal(err)
	}
	if in.Running || in.ExitCode == nil || *in.ExitCode != 0 || in.ContainerID != id || in.ProcessConfig.Entrypoint != "echo" {
		t.Fatalf("exec inspect %+v", in)
	}
	if err := d.ExecStart(ctx, execID, server.ExecStartOptions{Detach: true}); !errdefs.IsConflict(err) {
		t.Fatalf("second exec start: %v", err)
	}
	if !slices.Contains(inspect(t, d, id).ExecIDs, execID) {
		t.Fatal("exec not listed in inspect")
	}
	// A detached exec that exits 1.
	e2, _ := d.ExecCreate(ctx, id, containertypes.ExecCreateRequest{Cmd: []string{"false"}})
	if err := d.ExecStart(ctx, e2, server.ExecStartOptions{Detach: true}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "detached exec ends", func() bool {
		in, _ := d.ExecInspect(ctx, e2)
		return in.ExitCode != nil && *in.ExitCode == 1
	})
	if _, err := d.ExecInspect(ctx, "nope"); !errdefs.IsNotFound(err) {
		t.Fatalf("unknown exec: %v", err)
	}
	eventually(t, "exec events", func() bool {
		a := strings.Join(ev.actions(id), ",")
		return strings.Contains(a, "exec_create: echo from exec,exec_start: echo from exec,exec_die")
	})
	if m := ev.find(id, "exec_die"); m.Actor.Attributes["exitCode"] != "0" || m.Actor.Attributes["execID"] != execID {
		t.Fatalf("exec_die %+v", m.Actor.Attributes)
	}
	// A stopped container lists no execs, but an exec stays
	// inspectable: docker exec asks for its exit code after the stream
	// ends, and the exec may have been what ended the container.
	if err := d.ContainerKill(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "execs retired", func() bool { return len(inspect(t, d, id).ExecIDs) == 0 })
	if in, err := d.ExecInspect(ctx, execID); err != nil || in.ExitCode == nil || *in.ExitCode != 0 {
		t.Fatalf("exec inspect after the container's end: %+v %v", in, err)
	}
	// Execs go with their container.
	if err := d.ContainerRemove(ctx, id, server.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ExecInspect(ctx, execID); !errdefs.IsNotFound(err) {
		t.Fatalf("exec inspect after the container's removal: %v", err)
	}
}

func TestHealthChecks(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	d := newTestDaemon(t, cfg, newFakeLauncher())
	ev := recordEvents(t, d)
	ctx := context.Background()
	check := func(test ...string) func(*containertypes.Config, *containertypes.HostConfig) {
		return func(c *containertypes.Config, _ *containertypes.HostConfig) {
			c.Healthcheck = &containertypes.HealthConfig{Test: test, Interval: 20 * time.Millisecond, Retries: 2}
		}
	}
	healthy := create(t, d, "", []string{"sleep", "1000"}, check("CMD", "true"))
	sick := create(t, d, "", []string{"sleep", "1000"}, check("CMD-SHELL", "exit 1"))
	for _, id := range []string{healthy, sick} {
		if err := d.ContainerStart(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "healthy", func() bool {
		h := inspect(t, d, healthy).State.Health
		return h != nil && h.Status == "healthy" && h.FailingStreak == 0
	})
	eventually(t, "unhealthy", func() bool {
		h := inspect(t, d, sick).State.Health
		return h != nil && h.Status == "unhealthy" && h.FailingStreak >= 2
	})
	eventually(t, "log capped at 5", func() bool { return len(inspect(t, d, healthy).State.Health.Log) == 5 })
	if ev.find(healthy, "health_status: healthy") == nil || ev.find(sick, "health_status: unhealthy") == nil {
		t.Fatalf("health events: %v / %v", ev.actions(healthy), ev.actions(sick))
	}
	list, err := d.ContainerList(ctx, server.ContainerListOptions{Filters: server.Filters{"health": {"unhealthy"}}})
	if err != nil || len(list) != 1 || list[0].ID != sick || !strings.HasSuffix(list[0].Status, "(unhealthy)") {
		t.Fatalf("health filter: %+v %v", list, err)
	}

	// berth.restart-on-unhealthy=true restarts the container.
	restarting := create(t, d, "", []string{"sleep", "1000"}, check("CMD", "false"), func(c *containertypes.Config, _ *containertypes.HostConfig) {
		c.Labels = map[string]string{restartOnUnhealthyLabel: "true"}
	})
	if err := d.ContainerStart(ctx, restarting); err != nil {
		t.Fatal(err)
	}
	eventually(t, "restarted when unhealthy", func() bool { return ev.find(restarting, "restart") != nil })
	if st := inspect(t, d, restarting).State; st.Status != "running" {
		t.Fatalf("after the health restart: %+v", st)
	}
}

// A check past its timeout is killed and waited for (exec_die 137), as
// dockerd does, so hung checks do not pile up.
func TestHealthCheckTimeoutKillsTheCheck(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	d := newTestDaemon(t, cfg, newFakeLauncher())
	ev := recordEvents(t, d)
	ctx := context.Background()
	id := create(t, d, "", []string{"sleep", "1000"}, func(c *containertypes.Config, _ *containertypes.HostConfig) {
		c.Healthcheck = &containertypes.HealthConfig{Test: []string{"CMD", "sleep", "1000"},
			Interval: 20 * time.Millisecond, Timeout: 20 * time.Millisecond, Retries: 1}
	})
	if err := d.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	eventually(t, "unhealthy by timeout", func() bool {
		h := inspect(t, d, id).State.Health
		return h != nil && h.Status == "unhealthy" && len(h.Log) > 0 && strings.Contains(h.Log[0].Output, "exceeded timeout")
	})
	eventually(t, "the timed out check killed", func() bool {
		m := ev.find(id, "exec_die")
		return m != nil && m.Actor.Attributes["exitCode"] == "137"
	})
}

func TestListFiltersAndStatus(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	d := newTestDaemon(t, cfg, newFakeLauncher())
	ctx := context.Background()
	a := create(t, d, "alpha", []string{"sleep", "1000"}, func(c *containertypes.Config, _ *containertypes.HostConfig) {
		c.Labels = map[string]string{"app": "web", "tier": "front"}
	})
	time.Sleep(2 * time.Millisecond)
	b := create(t, d, "beta", []string{"sh", "-c", "exit 3"})
	time.Sleep(2 * time.Millisecond)
	c := create(t, d, "gamma", []string{"true"}, func(c *containertypes.Config, _ *containertypes.HostConfig) {
		c.Labels = map[string]string{"app": "db"}
	})
	_ = d.ContainerStart(ctx, a)
	exit := waitFor(t, d, b, containertypes.WaitConditionNextExit)
	_ = d.ContainerStart(ctx, b)
	result(t, exit)
	names := func(f server.Filters, all bool) []string {
		t.Helper()
		list, err := d.ContainerList(ctx, server.ContainerListOptions{All: all, Filters: f})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range list {
			out = append(out, s.Names[0])
		}
		return out
	}
	for _, tc := range []struct {
		f    server.Filters
		all  bool
		want []string
	}{
		{nil, false, []string{"/alpha"}},
		{nil, true, []string{"/gamma", "/beta", "/alpha"}},
		{server.Filters{"status": {"exited"}}, false, []string{"/beta"}},
		{server.Filters{"status": {"created", "running"}}, false, []string{"/gamma", "/alpha"}},
		{server.Filters{"exited": {"3"}}, false, []string{"/beta"}},
		{server.Filters{"label": {"app"}}, true, []string{"/gamma", "/alpha"}},
		{server.Filters{"label": {"app=web"}}, true, []string{"/alpha"}},
		{server.Filters{"label": {"app=web", "tier=front"}}, true, []string{"/alpha"}},
		{server.Filters{"name": {"^/b"}}, true, []string{"/beta"}},
		{server.Filters{"name": {"a"}}, true, []string{"/gamma", "/beta", "/alpha"}},
		{server.Filters{"id": {a[:6]}}, true, []string{"/alpha"}},
		{server.Filters{"before": {"gamma"}}, true, []string{"/beta", "/alpha"}},
		{server.Filters{"since": {"alpha"}}, true, []string{"/gamma", "/beta"}},
		{server.Filters{"ancestor": {"busybox"}}, true, []string{"/gamma", "/beta", "/alpha"}},
		{server.Filters{"ancestor": {"busybox:latest"}}, true, []string{"/gamma", "/beta", "/alpha"}},
		{server.Filters{"health": {"none"}}, true, []string{"/gamma", "/beta", "/alpha"}},
		{server.Filters{"is-task": {"true"}}, true, nil},
		{server.Filters{"network": {"bridge"}}, true, []string{"/gamma", "/beta", "/alpha"}},
		{server.Filters{"network": {"none"}}, true, nil},
	} {
		if got := names(tc.f, tc.all); !slices.Equal(got, tc.want) {
			t.Errorf("filters %v all=%v: %v, want %v", tc.f, tc.all, got, tc.want)
		}
	}
	for _, bad := range []server.Filters{{"status": {"sleeping"}}, {"colour": {"red"}}, {"exited": {"x"}}} {
		if _, err := d.ContainerList(ctx, server.ContainerListOptions{Filters: bad}); !errdefs.IsInvalidParameter(err) {
			t.Errorf("filter %v: %v", bad, err)
		}
	}
	list, _ := d.ContainerList(ctx, server.ContainerListOptions{All: true, Limit: 1})
	if len(list) != 1 || list[0].ID != c {
		t.Fatalf("limit 1: %+v", list)
	}
	list, _ = d.ContainerList(ctx, server.ContainerListOptions{All: true, Size: true})
	for _, s := range list {
		switch s.ID {
		case a:
			if !strings.HasPrefix(s.Status, "Up ") || s.State != "running" || s.Command != "sleep 1000" || s.Labels["app"] != "web" {
				t.Errorf("alpha: %+v", s)
			}
		case b:
			if !strings.HasPrefix(s.Status, "Exited (3) ") {
				t.Errorf("beta status %q", s.Status)
			}
			// docker quotes an argument with a space.
			if s.Command != "sh -c 'exit 3'" {
				t.Errorf("beta command %q", s.Command)
			}
		case c:
			if s.Status != "Created" {
				t.Errorf("gamma status %q", s.Status)
			}
		}
		if s.SizeRootFs == 0 || s.HostConfig.NetworkMode != "bridge" {
			t.Errorf("%s: size %d mode %q", s.Names[0], s.SizeRootFs, s.HostConfig.NetworkMode)
		}
	}

	// prune removes the stopped ones.
	rep, err := d.ContainersPrune(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(rep.ContainersDeleted)
	want := []string{b, c}
	slices.Sort(want)
	if !slices.Equal(rep.ContainersDeleted, want) {
		t.Fatalf("pruned %v, want %v", rep.ContainersDeleted, want)
	}
}

func TestRenameUpdateStatsTop(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	d := newTestDaemon(t, cfg, newFakeLauncher())
	ev := recordEvents(t, d)
	ctx := context.Background()
	id := create(t, d, "old", []string{"sleep", "1000"})
	create(t, d, "other", []string{"true"})
	if err := d.ContainerRename(ctx, "old", "other"); !errdefs.IsConflict(err) {
		t.Fatalf("rename onto a taken name: %v", err)
	}
	if err := d.ContainerRename(ctx, "old", "new"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "rename event", func() bool { return ev.find(id, "rename") != nil })
	if m := ev.find(id, "rename"); m.Actor.Attributes["oldName"] != "/old" || m.Actor.Attributes["name"] != "new" {
		t.Fatalf("rename event %+v", m)
	}
	if err := d.ContainerStart(ctx, "new"); err != nil {
		t.Fatal(err)
	}
	resp, err := d.ContainerUpdate(ctx, "new", containertypes.UpdateConfig{
		Resources:     containertypes.Resources{Memory: 64 << 20, CPUShares: 512},
		RestartPolicy: containertypes.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3},
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = resp
	in := inspect(t, d, id)
	if in.HostConfig.Memory != 64<<20 || in.HostConfig.CPUShares != 512 || in.HostConfig.RestartPolicy.MaximumRetryCount != 3 {
		t.Fatalf("after update: %+v", in.HostConfig.Resources)
	}
	if _, err := d.ContainerUpdate(ctx, "new", containertypes.UpdateConfig{Resources: containertypes.Resources{Memory: 1024}}); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("tiny memory: %v", err)
	}
	var samples []containertypes.StatsResponse
	if err := d.ContainerStats(ctx, id, server.StatsOptions{OneShot: true}, func(s containertypes.StatsResponse) error {
		samples = append(samples, s)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(samples) != 1 || samples[0].MemoryStats.Usage != 4<<20 || samples[0].CPUStats.CPUUsage.TotalUsage != 1000 ||
		samples[0].CPUStats.SystemUsage == 0 || samples[0].Name != "/new" || len(samples[0].BlkioStats.IoServiceBytesRecursive) != 1 {
		t.Fatalf("stats %+v", samples)
	}
	top, err := d.ContainerTop(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	// The fake says the container's only process is this test.
	if !slices.Contains(top.Titles, "PID") || len(top.Processes) != 1 {
		t.Fatalf("top %+v", top)
	}
	if _, err := d.ContainerTop(ctx, id, "-o pid,comm"); err != nil {
		t.Fatal(err)
	}
}

// TestListImageAfterUntag: ps shows the name a container was created from
// while it still names the container's image, and the image's ID once the
// tag is gone or names another image, as dockerd's does.
func TestListImageAfterUntag(t *testing.T) {
	t.Parallel()
	d := newTestDaemon(t, testRoots(t), newFakeLauncher())
	ctx := context.Background()
	if _, err := d.images.Tag(ctx, "busybox", "retagged:1"); err != nil {
		t.Fatal(err)
	}
	id := create(t, d, "untagged", []string{"true"}, func(c *containertypes.Config, _ *containertypes.HostConfig) {
		c.Image = "retagged:1"
	})
	shown := func() (string, string) {
		t.Helper()
		list, err := d.ContainerList(ctx, server.ContainerListOptions{All: true, Filters: server.Filters{"id": {id}}})
		if err != nil || len(list) != 1 {
			t.Fatalf("list: %+v %v", list, err)
		}
		return list[0].Image, list[0].ImageID
	}
	if img, _ := shown(); img != "retagged:1" {
		t.Errorf("tagged: image %q, want retagged:1", img)
	}
	if _, err := d.images.Delete(ctx, "retagged:1"); err != nil {
		t.Fatal(err)
	}
	if img, imageID := shown(); img != imageID || !strings.HasPrefix(img, "sha256:") {
		t.Errorf("untagged: image %q, want the ID %q", img, imageID)
	}
}

// TestExecStartRacingExit: an exec started as its container exits, after
// ExecStart saw the container running but before the shim took the exec,
// fails as docker's conflict ("is not running", 409), not as the closed
// shim connection's unavailable (503).
func TestExecStartRacingExit(t *testing.T) {
	t.Parallel()
	fake := newFakeLauncher()
	d := newTestDaemon(t, testRoots(t), fake)
	ctx := context.Background()
	id := create(t, d, "", []string{"sleep", "1000"})
	if err := d.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	execID, err := d.ExecCreate(ctx, id, containertypes.ExecCreateRequest{Cmd: []string{"echo", "x"}})
	if err != nil {
		t.Fatal(err)
	}
	fake.mu.Lock()
	fake.execHook = func(task *fakeTask) {
		// The container exits now, and the daemon handles the exit
		// (which closes the task's client) before the exec goes on.
		task.p.finish(137, false)
		eventually(t, "the exit handled", func() bool {
			select {
			case <-task.closed:
				return true
			default:
				return false
			}
		})
	}
	fake.mu.Unlock()
	err = d.ExecStart(ctx, execID, server.ExecStartOptions{Detach: true})
	if !errdefs.IsConflict(err) {
		t.Fatalf("exec start as the container exits: %v, want a conflict", err)
	}
}

// TestExecEndingItsContainer: the container exits while its exec starts
// (an exec that makes it exit: touch /tmp/go for a loop that waits on
// it). The exit handling waits for the exec, which starts and reports
// its exit code, instead of closing the task under it ("is not
// running", exit 126).
func TestExecEndingItsContainer(t *testing.T) {
	t.Parallel()
	fake := newFakeLauncher()
	d := newTestDaemon(t, testRoots(t), fake)
	ctx := context.Background()
	id := create(t, d, "", []string{"sleep", "1000"})
	if err := d.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	execID, err := d.ExecCreate(ctx, id, containertypes.ExecCreateRequest{Cmd: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	fake.mu.Lock()
	fake.startExecHook = func(task *fakeTask) {
		task.p.finish(0, false)
		// Time for the exit handling to close the task, were it not
		// waiting for this exec.
		time.Sleep(200 * time.Millisecond)
	}
	fake.mu.Unlock()
	if err := d.ExecStart(ctx, execID, server.ExecStartOptions{Detach: true}); err != nil {
		t.Fatalf("exec start as it ends its container: %v", err)
	}
	eventually(t, "the exec's exit code", func() bool {
		in, err := d.ExecInspect(ctx, execID)
		return err == nil && in.ExitCode != nil && *in.ExitCode == 0
	})
}
