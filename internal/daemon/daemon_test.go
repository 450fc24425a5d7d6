package daemon

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
)

func create(t *testing.T, d *Daemon, name string, cmd []string, mod ...func(*containertypes.Config, *containertypes.HostConfig)) string {
	t.Helper()
	cfg := &containertypes.Config{Image: "busybox", Cmd: cmd}
	host := &containertypes.HostConfig{}
	for _, m := range mod {
		m(cfg, host)
	}
	resp, err := d.ContainerCreate(context.Background(), server.ContainerCreateRequest{Name: name, Config: cfg, Host: host})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return resp.ID
}

func waitFor(t *testing.T, d *Daemon, id string, cond containertypes.WaitCondition) <-chan containertypes.WaitResponse {
	t.Helper()
	ch, err := d.ContainerWait(context.Background(), id, cond)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	return ch
}

// runAttached does what `docker run` does with created container id:
// attach its stdout and stderr, wait for cond, start it; it returns the
// wait's answer once the attach has ended.
func runAttached(t *testing.T, d *Daemon, id string, cond containertypes.WaitCondition, stdout, stderr io.Writer) containertypes.WaitResponse {
	t.Helper()
	ctx := context.Background()
	attached := make(chan error, 1)
	go func() {
		attached <- d.ContainerAttach(ctx, id, server.AttachOptions{Stream: true, Stdout: true, Stderr: true,
			Streams: func(bool) (server.Streams, error) { return server.Streams{Stdout: stdout, Stderr: stderr}, nil }})
	}()
	eventually(t, "attach pending", func() bool {
		_, r, err := d.get(id)
		if err != nil {
			return false
		}
		r.c.Lock()
		defer r.c.Unlock()
		return len(r.attaches) == 1
	})
	done := waitFor(t, d, id, cond)
	if err := d.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	r := result(t, done)
	if err := <-attached; err != nil {
		t.Fatal(err)
	}
	return r
}

func result(t *testing.T, ch <-chan containertypes.WaitResponse) containertypes.WaitResponse {
	t.Helper()
	select {
	case r, ok := <-ch:
		if !ok {
			t.Fatal("wait channel closed without a result")
		}
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("wait timed out")
	}
	return containertypes.WaitResponse{}
}

func inspect(t *testing.T, d *Daemon, id string) containertypes.InspectResponse {
	t.Helper()
	r, err := d.ContainerInspect(context.Background(), id, false)
	if err != nil {
		t.Fatalf("inspect: %v", err)
	}
	return r
}

func TestCreateStartWaitRemove(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	d := newTestDaemon(t, cfg, newFakeLauncher())
	ev := recordEvents(t, d)
	ctx := context.Background()

	id := create(t, d, "hello", []string{"echo", "hi"})
	in := inspect(t, d, id)
	if in.Name != "/hello" || in.State.Status != "created" || in.Path != "echo" || !slices.Equal(in.Args, []string{"hi"}) {
		t.Fatalf("inspect after create: %+v %+v", in, in.State)
	}
	if in.Config.Hostname != id[:12] || in.HostConfig.NetworkMode != "bridge" || in.HostConfig.Runtime != "berth" ||
		in.Driver != "overlay2" || in.GraphDriver.Name != "overlay2" || in.Platform != "linux" {
		t.Fatalf("inspect: %+v", in)
	}
	if in.Config.WorkingDir != "/srv/berth" || !slices.Contains(in.Config.Env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") {
		t.Fatalf("image config not merged: %+v", in.Config)
	}
	hosts, _ := os.ReadFile(containerFile(d, id, "hosts"))
	if !strings.Contains(string(hosts), "127.0.0.1\tlocalhost\n") || !strings.Contains(string(hosts), "::1\tlocalhost") ||
		!strings.Contains(string(hosts), id[:12]) {
		t.Fatalf("hosts:\n%s", hosts)
	}
	resolv, _ := os.ReadFile(containerFile(d, id, "resolv.conf"))
	if !strings.Contains(string(resolv), "nameserver ") || strings.Contains(string(resolv), "nameserver 127.") {
		t.Fatalf("resolv.conf:\n%s", resolv)
	}
	if hn, _ := os.ReadFile(containerFile(d, id, "hostname")); string(hn) != id[:12]+"\n" {
		t.Fatalf("hostname %q", hn)
	}

	exit := waitFor(t, d, id, containertypes.WaitConditionNextExit)
	if err := d.ContainerStart(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	if r := result(t, exit); r.StatusCode != 0 || r.Error != nil {
		t.Fatalf("exit %+v", r)
	}
	eventually(t, "exited", func() bool { return inspect(t, d, id).State.Status == "exited" })
	in = inspect(t, d, id)
	if in.State.ExitCode != 0 || in.State.StartedAt == "0001-01-01T00:00:00Z" || in.State.FinishedAt == "0001-01-01T00:00:00Z" {
		t.Fatalf("state %+v", in.State)
	}
	// not-running answers at once for a stopped container.
	if r := result(t, waitFor(t, d, id, containertypes.WaitConditionNotRunning)); r.StatusCode != 0 {
		t.Fatalf("not-running %+v", r)
	}
	if _, err := os.Stat(d.rootfsDir(id)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("bundle left after exit: %v", err)
	}

	key := snapshotKey(t, d, id)
	removed := waitFor(t, d, id, containertypes.WaitConditionRemoved)
	if err := d.ContainerRemove(ctx, id, server.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	result(t, removed)
	if _, err := d.ContainerInspect(ctx, id, false); !errdefs.IsNotFound(err) {
		t.Fatalf("inspect after rm: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataRoot, "containers", id)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("container dir left: %v", err)
	}
	if _, err := d.snapshots.Stat(ctx, key); !errdefs.IsNotFound(err) {
		t.Fatalf("snapshot left: %v", err)
	}
	eventually(t, "events", func() bool {
		return slices.Equal(ev.actions(id), []string{"create", "start", "die", "destroy"})
	})
	if m := ev.find(id, "die"); m.Actor.Attributes["exitCode"] != "0" || m.Actor.Attributes["name"] != "hello" || m.Actor.Attributes["image"] != "busybox" {
		t.Fatalf("die event %+v", m)
	}
}

func TestCreateRefusals(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	d := newTestDaemon(t, cfg, newFakeLauncher())
	ctx := context.Background()
	create(t, d, "taken", []string{"true"})
	// A 404 from create makes the docker CLI pull the image (and say it
	// was not found): only a missing image may answer one.
	badRequest := func(err error) bool { return errdefs.IsInvalidParameter(err) && !errdefs.IsNotFound(err) }
	for _, tc := range []struct {
		name  string
		req   server.ContainerCreateRequest
		class func(error) bool
		msg   string
	}{
		{"no image", server.ContainerCreateRequest{Config: &containertypes.Config{}}, errdefs.IsInvalidParameter, "no image"},
		{"unknown image", server.ContainerCreateRequest{Config: &containertypes.Config{Image: "nope:1"}}, errdefs.IsNotFound, "No such image: nope:1"},
		{"bad name", server.ContainerCreateRequest{Name: "-x", Config: &containertypes.Config{Image: "busybox"}}, errdefs.IsInvalidParameter, "Invalid container name"},
		{"taken name", server.ContainerCreateRequest{Name: "taken", Config: &containertypes.Config{Image: "busybox"}}, errdefs.IsConflict, `The container name "/taken" is already in use`},
		{"restart + rm", server.ContainerCreateRequest{Config: &containertypes.Config{Image: "busybox"},
			Host: &containertypes.HostConfig{AutoRemove: true, RestartPolicy: containertypes.RestartPolicy{Name: "always"}}}, errdefs.IsInvalidParameter, "AutoRemove"},
		{"bad policy", server.ContainerCreateRequest{Config: &containertypes.Config{Image: "busybox"},
			Host: &containertypes.HostConfig{RestartPolicy: containertypes.RestartPolicy{Name: "sometimes"}}}, errdefs.IsInvalidParameter, "invalid restart policy"},
		{"retries without on-failure", server.ContainerCreateRequest{Config: &containertypes.Config{Image: "busybox"},
			Host: &containertypes.HostConfig{RestartPolicy: containertypes.RestartPolicy{Name: "always", MaximumRetryCount: 2}}}, errdefs.IsInvalidParameter, "only be used with 'on-failure'"},
		{"unknown runtime", server.ContainerCreateRequest{Config: &containertypes.Config{Image: "busybox"},
			Host: &containertypes.HostConfig{Runtime: "kata"}}, errdefs.IsInvalidParameter, "unknown or invalid runtime name: kata"},
		{"unknown network", server.ContainerCreateRequest{Config: &containertypes.Config{Image: "busybox"},
			Host: &containertypes.HostConfig{NetworkMode: "mynet"}}, badRequest, "network mynet not found"},
		// Settings dockerd checks at create, not at start: a container
		// that can never start is not made.
		{"memory too small", server.ContainerCreateRequest{Config: &containertypes.Config{Image: "busybox"},
			Host: &containertypes.HostConfig{Resources: containertypes.Resources{Memory: 1024}}}, errdefs.IsInvalidParameter, "Minimum memory limit allowed is 6MB"},
		{"swap below memory", server.ContainerCreateRequest{Config: &containertypes.Config{Image: "busybox"},
			Host: &containertypes.HostConfig{Resources: containertypes.Resources{Memory: 10 << 20, MemorySwap: 5 << 20}}}, errdefs.IsInvalidParameter, "Minimum memoryswap limit should be larger than memory limit"},
		{"cpuset", server.ContainerCreateRequest{Config: &containertypes.Config{Image: "busybox"},
			Host: &containertypes.HostConfig{Resources: containertypes.Resources{CpusetCpus: "999"}}}, errdefs.IsInvalidParameter, "Requested CPUs are not available - requested 999"},
		{"oom score adj", server.ContainerCreateRequest{Config: &containertypes.Config{Image: "busybox"},
			Host: &containertypes.HostConfig{OomScoreAdj: 5000}}, errdefs.IsInvalidParameter, "range for oom score adj is [-1000, 1000]"},
		{"capability", server.ContainerCreateRequest{Config: &containertypes.Config{Image: "busybox"},
			Host: &containertypes.HostConfig{CapAdd: []string{"BOGUS"}}}, errdefs.IsInvalidParameter, `invalid CapAdd: unknown capability: "CAP_BOGUS"`},
		{"relative workdir", server.ContainerCreateRequest{Config: &containertypes.Config{Image: "busybox", WorkingDir: "rel"}}, errdefs.IsInvalidParameter,
			"the working directory 'rel' is invalid, it needs to be an absolute path"},
		{"relative tmpfs", server.ContainerCreateRequest{Config: &containertypes.Config{Image: "busybox"},
			Host: &containertypes.HostConfig{Tmpfs: map[string]string{"rel": ""}}}, errdefs.IsInvalidParameter, "'rel' mount path must be absolute"},
		{"ipc mode", server.ContainerCreateRequest{Config: &containertypes.Config{Image: "busybox"},
			Host: &containertypes.HostConfig{IpcMode: "bogus"}}, errdefs.IsInvalidParameter, "invalid IPC mode: bogus"},
		{"pid of no container", server.ContainerCreateRequest{Config: &containertypes.Config{Image: "busybox"},
			Host: &containertypes.HostConfig{PidMode: "container:nosuch"}}, badRequest, "No such container: nosuch"},
		{"link to no container", server.ContainerCreateRequest{Config: &containertypes.Config{Image: "busybox"},
			Host: &containertypes.HostConfig{Links: []string{"nosuch:alias"}}}, badRequest, "could not get container for nosuch: No such container: nosuch"},
		{"gpus", server.ContainerCreateRequest{Config: &containertypes.Config{Image: "busybox"},
			Host: &containertypes.HostConfig{Resources: containertypes.Resources{DeviceRequests: []containertypes.DeviceRequest{{Count: -1, Capabilities: [][]string{{"gpu"}}}}}}},
			errdefs.IsInvalidParameter, `could not select device driver "" with capabilities: [[gpu]]`},
		{"bad log driver", server.ContainerCreateRequest{Config: &containertypes.Config{Image: "busybox"},
			Host: &containertypes.HostConfig{LogConfig: containertypes.LogConfig{Type: "syslog"}}}, errdefs.IsInvalidParameter, "no log driver named 'syslog'"},
		{"bad stop signal", server.ContainerCreateRequest{Config: &containertypes.Config{Image: "busybox", StopSignal: "SIGNOPE"}}, errdefs.IsInvalidParameter, "Invalid signal"},
		{"no command", server.ContainerCreateRequest{Config: &containertypes.Config{Image: "busybox", Entrypoint: []string{""}}}, errdefs.IsInvalidParameter, "no command specified"},
		{"other platform", server.ContainerCreateRequest{Platform: "linux/s390x", Config: &containertypes.Config{Image: "busybox"}}, errdefs.IsNotFound, "does not match the specified platform (linux/s390x)"},
	} {
		_, err := d.ContainerCreate(ctx, tc.req)
		if err == nil || !tc.class(err) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.msg)
		}
	}
	// Refused creates leave nothing: one record, one container snapshot.
	if n := d.containers.Len(); n != 1 {
		t.Fatalf("%d containers after refused creates", n)
	}
	ents, _ := os.ReadDir(filepath.Join(cfg.DataRoot, "containers"))
	if len(ents) != 1 {
		t.Fatalf("container dirs %v", ents)
	}
}

func TestStopKillPauseRestart(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	d := newTestDaemon(t, cfg, newFakeLauncher())
	ev := recordEvents(t, d)
	ctx := context.Background()
	id := create(t, d, "sleeper", []string{"sleep", "1000"})
	if err := d.ContainerStop(ctx, id, server.StopOptions{}); !errdefs.IsNotModified(err) {
		t.Fatalf("stop of a created container: %v", err)
	}
	if err := d.ContainerKill(ctx, id, ""); !errdefs.IsConflict(err) {
		t.Fatalf("kill of a created container: %v", err)
	}
	if err := d.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := d.ContainerStart(ctx, id); !errdefs.IsNotModified(err) {
		t.Fatalf("second start: %v", err)
	}
	if st := inspect(t, d, id).State; st.Status != "running" || !st.Running || st.Pid == 0 {
		t.Fatalf("state %+v", st)
	}
	if err := d.ContainerPause(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := d.ContainerPause(ctx, id); !errdefs.IsConflict(err) {
		t.Fatalf("second pause: %v", err)
	}
	if err := d.ContainerStart(ctx, id); !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "unpause") {
		t.Fatalf("start of a paused container: %v", err)
	}
	if err := d.ContainerUnpause(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := d.ContainerUnpause(ctx, id); !errdefs.IsConflict(err) {
		t.Fatalf("second unpause: %v", err)
	}
	err := d.ContainerRemove(ctx, id, server.RemoveOptions{})
	if !errdefs.IsConflict(err) || err.Error() != `cannot remove container "/sleeper": container is running: stop the container before removing or force remove` {
		t.Fatalf("rm of a running container: %v", err)
	}
	timeout := 5
	if err := d.ContainerStop(ctx, id, server.StopOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	if st := inspect(t, d, id).State; st.Status != "exited" || st.ExitCode != 143 {
		t.Fatalf("after stop: %+v", st)
	}
	// Events reach the recorder asynchronously.
	eventually(t, "the kill event", func() bool { return ev.find(id, "kill") != nil })
	if m := ev.find(id, "kill"); m.Actor.Attributes["signal"] != "15" {
		t.Fatalf("kill event %+v", m)
	}
	eventually(t, "stop events", func() bool {
		a := ev.actions(id)
		return slices.Equal(a[len(a)-3:], []string{"kill", "die", "stop"})
	})

	// A process that ignores SIGTERM gets SIGKILL after the timeout.
	id2 := create(t, d, "", []string{"ignoreterm"})
	if err := d.ContainerStart(ctx, id2); err != nil {
		t.Fatal(err)
	}
	one := 1
	begin := time.Now()
	if err := d.ContainerStop(ctx, id2, server.StopOptions{Timeout: &one}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(begin); took < time.Second || took > 5*time.Second {
		t.Fatalf("stop took %v", took)
	}
	if st := inspect(t, d, id2).State; st.ExitCode != 137 {
		t.Fatalf("after SIGKILL: %+v", st)
	}

	// restart of a stopped container, then kill with a signal name.
	if err := d.ContainerRestart(ctx, id, server.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if st := inspect(t, d, id).State; st.Status != "running" {
		t.Fatalf("after restart: %+v", st)
	}
	exit := waitFor(t, d, id, containertypes.WaitConditionNotRunning)
	if err := d.ContainerKill(ctx, id, "SIGUSR1"); err != nil {
		t.Fatal(err)
	}
	if r := result(t, exit); r.StatusCode != 138 {
		t.Fatalf("exit after SIGUSR1: %+v", r)
	}
	if err := d.ContainerKill(ctx, id, "SIGBOGUS"); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("bad signal: %v", err)
	}
	// rm -f of a running container.
	if err := d.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := d.ContainerRemove(ctx, id, server.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ContainerInspect(ctx, id, false); !errdefs.IsNotFound(err) {
		t.Fatalf("after rm -f: %v", err)
	}
}

func TestRestartPolicies(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	d := newTestDaemon(t, cfg, newFakeLauncher())
	ctx := context.Background()

	onFailure := create(t, d, "", []string{"sh", "-c", "exit 3"}, func(_ *containertypes.Config, h *containertypes.HostConfig) {
		h.RestartPolicy = containertypes.RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}
	})
	if err := d.ContainerStart(ctx, onFailure); err != nil {
		t.Fatal(err)
	}
	eventually(t, "on-failure:2 gives up", func() bool {
		in := inspect(t, d, onFailure)
		return in.State.Status == "exited" && in.RestartCount == 2
	})
	if in := inspect(t, d, onFailure); in.State.ExitCode != 3 {
		t.Fatalf("exit code %d", in.State.ExitCode)
	}

	// on-failure does not restart a success.
	ok := create(t, d, "", []string{"true"}, func(_ *containertypes.Config, h *containertypes.HostConfig) {
		h.RestartPolicy = containertypes.RestartPolicy{Name: "on-failure"}
	})
	exit := waitFor(t, d, ok, containertypes.WaitConditionNextExit)
	_ = d.ContainerStart(ctx, ok)
	result(t, exit)
	time.Sleep(300 * time.Millisecond)
	if in := inspect(t, d, ok); in.RestartCount != 0 || in.State.Status != "exited" {
		t.Fatalf("on-failure restarted a success: %+v", in.State)
	}

	// always keeps restarting, with a growing back-off; stop ends it.
	always := create(t, d, "", []string{"true"}, func(_ *containertypes.Config, h *containertypes.HostConfig) {
		h.RestartPolicy = containertypes.RestartPolicy{Name: "always"}
	})
	_ = d.ContainerStart(ctx, always)
	eventually(t, "always restarts", func() bool { return inspect(t, d, always).RestartCount >= 3 })
	if err := d.ContainerStop(ctx, always, server.StopOptions{}); err != nil && !errdefs.IsNotModified(err) {
		t.Fatal(err)
	}
	eventually(t, "stopped for good", func() bool { return inspect(t, d, always).State.Status == "exited" })
	n := inspect(t, d, always).RestartCount
	time.Sleep(500 * time.Millisecond)
	if in := inspect(t, d, always); in.RestartCount != n || in.State.Status != "exited" {
		t.Fatalf("a stopped always container restarted: %+v", in.State)
	}
	// The back-off doubles: restarts 1..4 are 100, 200, 400, 800 ms apart,
	// so 4 restarts take at least 0.7 s.
	c, r, _ := d.get(always)
	c.Lock()
	delay := time.Duration(r.restartDelay)
	c.Unlock()
	if delay < 400*time.Millisecond {
		t.Fatalf("back-off after %d restarts is %v", n, delay)
	}

	// docker kill of an always container: no restart.
	k := create(t, d, "", []string{"sleep", "1000"}, func(_ *containertypes.Config, h *containertypes.HostConfig) {
		h.RestartPolicy = containertypes.RestartPolicy{Name: "always"}
	})
	_ = d.ContainerStart(ctx, k)
	if err := d.ContainerKill(ctx, k, "KILL"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "killed", func() bool { return inspect(t, d, k).State.Status == "exited" })
	time.Sleep(300 * time.Millisecond)
	if in := inspect(t, d, k); in.State.Status != "exited" || in.RestartCount != 0 {
		t.Fatalf("a killed always container restarted: %+v", in.State)
	}
}

func TestAutoRemove(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	d := newTestDaemon(t, cfg, newFakeLauncher())
	ctx := context.Background()
	id := create(t, d, "rm-me", []string{"sh", "-c", "exit 7"}, func(_ *containertypes.Config, h *containertypes.HostConfig) { h.AutoRemove = true })
	key := snapshotKey(t, d, id)
	removed := waitFor(t, d, id, containertypes.WaitConditionRemoved)
	if err := d.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	if r := result(t, removed); r.StatusCode != 7 {
		t.Fatalf("removed wait %+v", r)
	}
	if _, err := d.ContainerInspect(ctx, id, false); !errdefs.IsNotFound(err) {
		t.Fatalf("auto-remove: %v", err)
	}
	if _, err := d.ContainerWait(ctx, id, containertypes.WaitConditionRemoved); !errdefs.IsNotFound(err) {
		t.Fatalf("wait on a removed container: %v", err)
	}
	// The name is free as soon as the removal is answered, even while
	// the storage may still be going.
	again := create(t, d, "rm-me", []string{"true"})

	// Settled, the removed container left nothing: no snapshot, no
	// directory.
	d.SettleRemovals()
	if _, err := d.snapshots.Stat(ctx, key); !errdefs.IsNotFound(err) {
		t.Errorf("the removed container's snapshot: %v", err)
	}
	if _, err := os.Stat(d.containers.Dir(id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the removed container's directory: %v", err)
	}
	if _, err := d.snapshots.Stat(ctx, snapshotKey(t, d, again)); err != nil {
		t.Errorf("the new container's snapshot: %v", err)
	}
}

// snapshotKey is the key of container id's writable snapshot: its id, or
// a spare's (spares.go).
func snapshotKey(t *testing.T, d *Daemon, id string) string {
	t.Helper()
	c, _, err := d.get(id)
	if err != nil {
		t.Fatal(err)
	}
	c.Lock()
	defer c.Unlock()
	return c.SnapshotKey
}

func TestStartFailure(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	fake := newFakeLauncher()
	d := newTestDaemon(t, cfg, fake)
	ctx := context.Background()
	id := create(t, d, "", []string{"nope"})
	fake.startErr = errors.New(`exec: "nope": executable file not found in $PATH`)
	err := d.ContainerStart(ctx, id)
	if err == nil || !strings.Contains(err.Error(), "executable file not found") {
		t.Fatalf("start: %v", err)
	}
	st := inspect(t, d, id).State
	if st.Status != "created" || st.ExitCode != 127 || !strings.Contains(st.Error, "executable file not found") {
		t.Fatalf("state %+v", st)
	}
	if _, err := os.Stat(d.rootfsDir(id)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("rootfs left mounted: %v", err)
	}
	fake.startErr = nil
	if err := d.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}

	// docker run --rm: a failed start removes the container, and the
	// attach that waited for the start ends.
	fake.startErr = errors.New(`exec: "nope": executable file not found in $PATH`)
	rm := create(t, d, "", []string{"nope"}, func(_ *containertypes.Config, h *containertypes.HostConfig) { h.AutoRemove = true })
	removed := waitFor(t, d, rm, containertypes.WaitConditionRemoved)
	attachDone := make(chan error, 1)
	go func() {
		attachDone <- d.ContainerAttach(ctx, rm, server.AttachOptions{Stream: true, Stdout: true, Streams: func(bool) (server.Streams, error) {
			return server.Streams{Stdout: io.Discard, Stderr: io.Discard}, nil
		}})
	}()
	eventually(t, "attach pending", func() bool {
		_, r, _ := d.get(rm)
		r.c.Lock()
		defer r.c.Unlock()
		return len(r.attaches) == 1
	})
	if err := d.ContainerStart(ctx, rm); err == nil {
		t.Fatal("start succeeded")
	}
	if r := result(t, removed); r.StatusCode != 127 {
		t.Fatalf("removed %+v", r)
	}
	select {
	case err := <-attachDone:
		if err != nil {
			t.Fatalf("attach: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the attach did not end after the failed start")
	}
}

// TestRestartPolicyAfterUserStop: a container stopped and started again
// by a user, or restarted with docker restart, keeps its restart policy
// for the exits that follow.
func TestRestartPolicyAfterUserStop(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	fake := newFakeLauncher()
	d := newTestDaemon(t, cfg, fake)
	ctx := context.Background()
	id := create(t, d, "", []string{"sleep", "1000"}, func(_ *containertypes.Config, h *containertypes.HostConfig) {
		h.RestartPolicy = containertypes.RestartPolicy{Name: "on-failure"}
	})
	if err := d.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := d.ContainerStop(ctx, id, server.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := d.ContainerRestart(ctx, id, server.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	// The process fails on its own (the fake: its shim reports exit 1).
	fake.proc(d.shimDir(id)).finish(1, false)
	eventually(t, "restarted by its policy", func() bool {
		in := inspect(t, d, id)
		return in.RestartCount == 1 && in.State.Status == "running"
	})
}

// TestAttachEndsOnRemove: an attach waiting for a start that never comes
// ends when the container is removed.
func TestAttachEndsOnRemove(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	d := newTestDaemon(t, cfg, newFakeLauncher())
	ctx := context.Background()
	id := create(t, d, "", []string{"true"})
	done := make(chan error, 1)
	go func() {
		done <- d.ContainerAttach(ctx, id, server.AttachOptions{Stream: true, Stdout: true, Streams: func(bool) (server.Streams, error) {
			return server.Streams{Stdout: io.Discard, Stderr: io.Discard}, nil
		}})
	}()
	eventually(t, "attach pending", func() bool {
		_, r, _ := d.get(id)
		r.c.Lock()
		defer r.c.Unlock()
		return len(r.attaches) == 1
	})
	if err := d.ContainerRemove(ctx, id, server.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the attach outlived its container")
	}
}

// An attach to a paused container is refused in dockerd's words, as the
// container was named.
func TestAttachPaused(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	d := newTestDaemon(t, cfg, newFakeLauncher())
	ctx := context.Background()
	create(t, d, "frozen", []string{"sleep", "1000"})
	if err := d.ContainerStart(ctx, "frozen"); err != nil {
		t.Fatal(err)
	}
	if err := d.ContainerPause(ctx, "frozen"); err != nil {
		t.Fatal(err)
	}
	// Bounded: without the refusal the attach would wait for output.
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := d.ContainerAttach(actx, "frozen", server.AttachOptions{Stream: true, Stdout: true, Streams: func(bool) (server.Streams, error) {
		return server.Streams{Stdout: io.Discard, Stderr: io.Discard}, nil
	}})
	if !errdefs.IsConflict(err) || err.Error() != "container frozen is paused, unpause the container before attach" {
		t.Fatalf("attach to a paused container: %v", err)
	}
}

// TestAttachSeesAStartSentOnTheUpgrade: docker run sends its start as
// soon as it reads the attach's upgrade; a start that runs before the
// daemon has registered the attach must not run the process unattended
// (the output of `run --rm busybox cat f` came out empty, exit 0).
func TestAttachSeesAStartSentOnTheUpgrade(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	d := newTestDaemon(t, cfg, newFakeLauncher())
	ctx := context.Background()
	id := create(t, d, "", []string{"echo", "hello"})
	var out strings.Builder
	startErr := make(chan error, 1)
	err := d.ContainerAttach(ctx, id, server.AttachOptions{Stream: true, Stdout: true, Streams: func(bool) (server.Streams, error) {
		// The upgrade is out: the client starts the container, and
		// this attach is slow to go on.
		go func() { startErr <- d.ContainerStart(ctx, id) }()
		select {
		case err := <-startErr:
			startErr <- err
		case <-time.After(200 * time.Millisecond):
		}
		return server.Streams{Stdout: &out, Stderr: io.Discard}, nil
	}})
	if err != nil {
		t.Fatalf("attach: %v", err)
	}
	if err := <-startErr; err != nil {
		t.Fatalf("start: %v", err)
	}
	if out.String() != "hello\n" {
		t.Fatalf("attached output %q, want %q", out.String(), "hello\n")
	}
}

// TestForceRemoveDuringStart: an rm -f that arrives while a start runs
// removes the container once the start is done, as docker's does, rather
// than answering that it "was started again during the removal".
func TestForceRemoveDuringStart(t *testing.T) {
	t.Parallel()
	fake := newFakeLauncher()
	fake.startGate, fake.startHeld = make(chan struct{}), make(chan struct{}, 1)
	d := newTestDaemon(t, testRoots(t), fake)
	ctx := context.Background()
	id := create(t, d, "", []string{"sleep", "1000"})
	started := make(chan error, 1)
	go func() { started <- d.ContainerStart(ctx, id) }()
	<-fake.startHeld
	removed := make(chan error, 1)
	go func() { removed <- d.ContainerRemove(ctx, id, server.RemoveOptions{Force: true}) }()
	// Let the removal get past its first look at the state (created:
	// nothing to kill) and wait for the start's operation lock.
	time.Sleep(100 * time.Millisecond)
	close(fake.startGate)
	if err := <-started; err != nil {
		t.Fatalf("start: %v", err)
	}
	if err := <-removed; err != nil {
		t.Fatalf("rm -f during the start: %v", err)
	}
	if _, err := d.ContainerInspect(ctx, id, false); !errdefs.IsNotFound(err) {
		t.Fatalf("inspect after rm -f: %v, want not found", err)
	}
}

// TestKillPausedContainerUnpauses: a kill that ends a container for good
// (here SIGTERM, it has no stop signal) thaws a paused one so that it can
// act on the signal, as docker's does; one that survives the signal is
// running then, and says so, with docker's unpause event.
func TestKillPausedContainerUnpauses(t *testing.T) {
	t.Parallel()
	fake := newFakeLauncher()
	d := newTestDaemon(t, testRoots(t), fake)
	events := recordEvents(t, d)
	ctx := context.Background()
	id := create(t, d, "", []string{"ignoreterm"})
	if err := d.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := d.ContainerPause(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := d.ContainerKill(ctx, id, "TERM"); err != nil {
		t.Fatal(err)
	}
	if st := inspect(t, d, id).State; st.Status != "running" || st.Paused {
		t.Fatalf("after kill -s TERM of a paused container that ignores it: %+v", st)
	}
	eventually(t, "an unpause event", func() bool { return events.find(id, "unpause") != nil })
	if err := d.ContainerPause(ctx, id); err != nil {
		t.Fatalf("pause again: %v", err)
	}
}
