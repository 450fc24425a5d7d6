package daemon

import (
	"context"
	"strings"
	"testing"

	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
)

// TestLiveRestoreFake closes the daemon while containers run and opens a
// new one on the same roots: running containers are tracked again, those
// that ended meanwhile get their real status, and those whose shim died
// without a word are exited with 255 and an error.
func TestLiveRestoreFake(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	fake := newFakeLauncher()
	d := newTestDaemon(t, cfg, fake)
	ctx := context.Background()
	keep := create(t, d, "keep", []string{"sleep", "1000"})
	ended := create(t, d, "ended", []string{"sleep", "1000"})
	lost := create(t, d, "lost", []string{"sleep", "1000"})
	paused := create(t, d, "paused", []string{"sleep", "1000"})
	always := create(t, d, "always", []string{"sleep", "1000"}, func(_ *containertypes.Config, h *containertypes.HostConfig) {
		h.RestartPolicy = containertypes.RestartPolicy{Name: "always"}
	})
	for _, id := range []string{keep, ended, lost, paused, always} {
		if err := d.ContainerStart(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.ContainerPause(ctx, paused); err != nil {
		t.Fatal(err)
	}
	pid := inspect(t, d, keep).State.Pid
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	// While the daemon is away: one container exits (its shim records
	// it), one shim dies without a word, and always's dies too.
	fake.killShim(d.shimDir(ended), 42, true)
	fake.killShim(d.shimDir(lost), 0, false)
	fake.killShim(d.shimDir(always), 1, false)

	d2 := newTestDaemon(t, cfg, fake)
	in := inspect(t, d2, keep)
	if in.State.Status != "running" || in.State.Pid != pid {
		t.Fatalf("keep: %+v", in.State)
	}
	if st := inspect(t, d2, paused).State; st.Status != "paused" {
		t.Fatalf("paused: %+v", st)
	}
	if st := inspect(t, d2, ended).State; st.Status != "exited" || st.ExitCode != 42 || st.Error != "" {
		t.Fatalf("ended: %+v", st)
	}
	if st := inspect(t, d2, lost).State; st.Status != "exited" || st.ExitCode != 255 || !strings.Contains(st.Error, "shim") {
		t.Fatalf("lost: %+v", st)
	}
	eventually(t, "always restarted at boot", func() bool {
		in := inspect(t, d2, always)
		return in.State.Status == "running"
	})
	// The restored container is fully usable: stop, wait, rm.
	exit := waitFor(t, d2, keep, containertypes.WaitConditionNotRunning)
	if err := d2.ContainerStop(ctx, keep, server.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if r := result(t, exit); r.StatusCode != 143 {
		t.Fatalf("exit %+v", r)
	}
	if err := d2.ContainerUnpause(ctx, paused); err != nil {
		t.Fatal(err)
	}
	if err := d2.ContainerRemove(ctx, paused, server.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := d2.ContainerInspect(ctx, paused, false); !errdefs.IsNotFound(err) {
		t.Fatal(err)
	}
}

// TestInterruptedRemovalFinished: a record a crash left in state
// removing (an auto-remove container's background release, an rm) is
// removed at the next start, with its snapshot, rather than refused as
// "already in progress" by every rm after.
func TestInterruptedRemovalFinished(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	fake := newFakeLauncher()
	d := newTestDaemon(t, cfg, fake)
	ctx := context.Background()
	id := create(t, d, "halfgone", []string{"sleep", "1000"})
	c, _, err := d.get(id)
	if err != nil {
		t.Fatal(err)
	}
	c.Lock()
	key := c.SnapshotKey
	if err := c.State.SetRemoving(); err != nil {
		t.Fatal(err)
	}
	if err := d.containers.Save(c); err != nil {
		t.Fatal(err)
	}
	c.Unlock()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	d2 := newTestDaemon(t, cfg, fake)
	if _, err := d2.ContainerInspect(ctx, id, false); !errdefs.IsNotFound(err) {
		t.Fatalf("inspect after restart: %v, want not found", err)
	}
	if _, err := d2.snapshots.Stat(ctx, key); !errdefs.IsNotFound(err) {
		t.Fatalf("snapshot %s after restart: %v, want not found", key, err)
	}
}

// TestRestoreExitAlreadyRecorded: a daemon that recorded an exit but died
// before it deleted the shim (an auto-remove container between its exit
// and its removal) leaves the exit recorded once: the next daemon only
// cleans up, without a second die event or a failed state change.
func TestRestoreExitAlreadyRecorded(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	fake := newFakeLauncher()
	d := newTestDaemon(t, cfg, fake)
	ctx := context.Background()
	id := create(t, d, "seen", []string{"sleep", "1000"})
	if err := d.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	c, _, err := d.get(id)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	p := fake.proc(d.shimDir(id))
	p.finish(3, false)
	p.mu.Lock()
	exit := *p.exit
	p.mu.Unlock()
	c.Lock()
	if err := c.State.SetExited(exit.Code, false, exit.ExitedAt, ""); err != nil {
		t.Fatal(err)
	}
	if err := d.containers.Save(c); err != nil {
		t.Fatal(err)
	}
	c.Unlock()

	d2 := newTestDaemon(t, cfg, fake)
	events := recordEvents(t, d2)
	if st := inspect(t, d2, id).State; st.Status != "exited" || st.ExitCode != 3 {
		t.Fatalf("after restart: %+v", st)
	}
	eventually(t, "the shim deleted", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.state == "deleted"
	})
	if a := events.actions(id); len(a) != 0 {
		t.Fatalf("events for an exit recorded before the restart: %v", a)
	}
	if err := d2.ContainerRemove(ctx, id, server.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestNoLiveRestore: with live restore off, closing the daemon stops its
// containers; one left running by a crash is killed at the next start.
func TestNoLiveRestore(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	cfg.LiveRestore = false
	cfg.ShutdownTimeout = 1
	fake := newFakeLauncher()
	d := newTestDaemon(t, cfg, fake)
	ctx := context.Background()
	id := create(t, d, "", []string{"sleep", "1000"})
	if err := d.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d2 := newTestDaemon(t, cfg, fake)
	if st := inspect(t, d2, id).State; st.Status != "exited" || st.ExitCode != 143 {
		t.Fatalf("after a clean shutdown without live restore: %+v", st)
	}
}

func TestOneDaemonPerRoot(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	newTestDaemon(t, cfg, newFakeLauncher())
	_, err := New(context.Background(), cfg, withTaskLauncher(newFakeLauncher()))
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "in use by another berthd") {
		t.Fatalf("second daemon on one root: %v", err)
	}
}
