package daemon

import (
	"context"
	"errors"
	"os"
	"testing"

	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
)

// nextID is the id of the container prepared ahead, once its prestart is
// done; "" when there is none.
func nextID(d *Daemon, l *fakeLauncher) string {
	d.next.mu.Lock()
	n := d.next.n
	d.next.mu.Unlock()
	if n == nil || prestartedTask(d, l, n.c.ID) == nil {
		return ""
	}
	return n.c.ID
}

// runRemoved creates, starts and waits for the removal of an auto-remove
// container, as `docker run --rm` does.
func runRemoved(t *testing.T, d *Daemon, name string, cmd []string, mod ...func(*containertypes.Config, *containertypes.HostConfig)) string {
	t.Helper()
	id := create(t, d, name, cmd, mod...)
	removed := waitFor(t, d, id, containertypes.WaitConditionRemoved)
	if err := d.ContainerStart(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	result(t, removed)
	return id
}

// TestNextContainer: after a `run --rm`, a container like it is prepared
// ahead, and is no container until a create of the same request (another
// name) takes it; a different request does not; image operations and the
// daemon's shutdown drop it, leaving nothing.
func TestNextContainer(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	l := newFakeLauncher()
	d := newTestDaemon(t, cfg, l)
	ctx := context.Background()
	rm := func(_ *containertypes.Config, h *containertypes.HostConfig) {
		h.AutoRemove = true
		h.NetworkMode = "none"
	}

	runRemoved(t, d, "", []string{"true"}, rm)
	eventually(t, "the next container", func() bool { return nextID(d, l) != "" })
	next := nextID(d, l)
	if _, _, err := d.get(next); !errdefs.IsNotFound(err) {
		t.Fatalf("the next container is a container before its create: %v", err)
	}
	list, err := d.ContainerList(ctx, server.ContainerListOptions{All: true})
	if err != nil || len(list) != 0 {
		t.Fatalf("containers listed with only the next one prepared: %v, %v", list, err)
	}

	// Another request is created as usual.
	other := create(t, d, "other", []string{"echo", "hi"}, rm)
	if other == next {
		t.Fatal("a different request took the next container")
	}
	if err := d.ContainerRemove(ctx, other, server.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}

	// The same request under a name takes it, prestart done.
	prepared := l.proc(d.shimDir(next))
	web := create(t, d, "web", []string{"true"}, rm)
	if web != next {
		t.Fatalf("the create made %s, not the next container %s", web, next)
	}
	c, _, err := d.get("web")
	if err != nil || c.ID != next {
		t.Fatalf("get web: %v, %v", c, err)
	}
	if c.Config.Hostname != next[:12] {
		t.Fatalf("hostname %q, want %q", c.Config.Hostname, next[:12])
	}
	removed := waitFor(t, d, web, containertypes.WaitConditionRemoved)
	if err := d.ContainerStart(ctx, web); err != nil {
		t.Fatal(err)
	}
	if p := l.proc(d.shimDir(web)); p != prepared {
		t.Fatalf("the start ran %v, not the prepared task %v", p, prepared)
	}
	result(t, removed)

	// Its name taken, the same request fails as it would have.
	eventually(t, "the next container again", func() bool { return nextID(d, l) != "" })
	create(t, d, "taken", []string{"sleep", "100"})
	if _, err := d.ContainerCreate(ctx, server.ContainerCreateRequest{Name: "taken",
		Config: &containertypes.Config{Image: "busybox", Cmd: []string{"true"}},
		Host:   &containertypes.HostConfig{AutoRemove: true, NetworkMode: "none"}}); !errdefs.IsConflict(err) {
		t.Fatalf("a create under a taken name: %v", err)
	}

	// Image operations drop it, with its snapshot and directory.
	runRemoved(t, d, "", []string{"true"}, rm)
	eventually(t, "the next container once more", func() bool { return nextID(d, l) != "" })
	dropped := nextID(d, l)
	key := func() string {
		d.next.mu.Lock()
		defer d.next.mu.Unlock()
		return d.next.n.c.SnapshotKey
	}()
	d.SettleRemovals()
	if nextID(d, l) != "" {
		t.Fatal("SettleRemovals left the next container")
	}
	if _, err := d.snapshots.Stat(ctx, key); !errdefs.IsNotFound(err) {
		t.Fatalf("the dropped next container's snapshot: %v", err)
	}
	if _, err := os.Stat(d.containers.Dir(dropped)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the dropped next container's directory: %v", err)
	}
	if isMountpoint(t, d.rootfsDir(dropped)) || prestartedTask(d, l, dropped) != nil {
		t.Fatal("the dropped next container's mount or task is still there")
	}

	// The shutdown drops it too.
	runRemoved(t, d, "", []string{"true"}, rm)
	eventually(t, "the next container before the shutdown", func() bool { return nextID(d, l) != "" })
	last := nextID(d, l)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.containers.Dir(last)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the shutdown left the next container's directory: %v", err)
	}
	if isMountpoint(t, d.rootfsDir(last)) || prestartedTask(d, l, last) != nil {
		t.Fatal("the shutdown left the next container's mount or task")
	}
}

// TestRealNextContainer: with the real shim and runtime, a `run --rm`
// repeated takes the container prepared ahead, whose process runs as a
// fresh one would: its own hostname, output to the attach, exit code.
func TestRealNextContainer(t *testing.T) {
	t.Parallel()
	d := newRealDaemon(t, testRoots(t))
	rm := func(_ *containertypes.Config, h *containertypes.HostConfig) {
		h.AutoRemove = true
		h.NetworkMode = "none"
	}
	cmd := []string{"sh", "-c", "echo $(hostname) $(cat /etc/hostname); exit 7"}
	run := func() (string, string) {
		t.Helper()
		id := create(t, d, "", cmd, rm)
		var out syncBuffer
		if r := runAttached(t, d, id, containertypes.WaitConditionRemoved, &out, &out); r.StatusCode != 7 {
			t.Fatalf("exit %+v", r)
		}
		return id, out.String()
	}
	first, out := run()
	if want := first[:12] + " " + first[:12] + "\n"; out != want {
		t.Fatalf("first run: %q, want %q", out, want)
	}
	var next string
	eventually(t, "the next container", func() bool {
		d.next.mu.Lock()
		defer d.next.mu.Unlock()
		if d.next.n != nil {
			next = d.next.n.c.ID
		}
		return next != ""
	})
	second, out := run()
	if second != next {
		t.Fatalf("the second run made %s, not the prepared %s", second, next)
	}
	if want := second[:12] + " " + second[:12] + "\n"; out != want {
		t.Fatalf("second run: %q, want %q", out, want)
	}
}
