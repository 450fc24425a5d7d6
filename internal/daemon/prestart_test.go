package daemon

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/api/server"
)

// isMountpoint says whether path is a mount point in this namespace.
func isMountpoint(t *testing.T, path string) bool {
	t.Helper()
	// This thread's view: /proc/self is the main thread's, which another
	// test's private namespace may hold (see internal/mount).
	data, err := os.ReadFile("/proc/thread-self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == path {
			return true
		}
	}
	return false
}

// prestartedTask is the fake shim of c's prestart, if one is there.
func prestartedTask(d *Daemon, l *fakeLauncher, id string) *fakeProc {
	p := l.proc(d.shimDir(id))
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != "created" {
		return nil
	}
	return p
}

func launches(l *fakeLauncher) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nextID
}

// TestPrestart: an auto-remove container's start begins after its create
// (its layer mounted, its task created); a removal before any start
// undoes it; a copy into the created container (which mounts the layer
// itself) undoes it and the start that follows sees the copied file; the
// start takes a prestarted task without launching another; an update and
// the expiry undo it.
func TestPrestart(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	l := newFakeLauncher()
	d := newTestDaemon(t, cfg, l)
	ctx := context.Background()
	prestarted := func(id string) {
		t.Helper()
		eventually(t, "the prestart", func() bool { return isMountpoint(t, d.rootfsDir(id)) && prestartedTask(d, l, id) != nil })
	}
	undone := func(id, after string) {
		t.Helper()
		if isMountpoint(t, d.rootfsDir(id)) {
			t.Fatalf("the prestart's mount is still there after %s", after)
		}
		if prestartedTask(d, l, id) != nil {
			t.Fatalf("the prestart's task is still there after %s", after)
		}
	}

	never := create(t, d, "", []string{"true"}, autoRemove)
	prestarted(never)
	if err := d.ContainerRemove(ctx, never, server.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	d.SettleRemovals() // an auto-remove container's storage goes in the background
	undone(never, "a removal")
	if _, err := os.Stat(d.bundleDir(never)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a removed container's bundle: %v", err)
	}

	// It runs on, so that its layer is still mounted when read below.
	id := create(t, d, "", []string{"sleep", "100"}, autoRemove)
	prestarted(id)
	tar := tarOf(t, tarEntry{name: "copied", body: "before the start"})
	if err := d.ContainerExtractToDir(ctx, id, "/", server.ExtractOptions{}, bytes.NewReader(tar)); err != nil {
		t.Fatalf("copy into a created auto-remove container: %v", err)
	}
	undone(id, "a copy that mounted the layer itself")
	if err := d.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(d.rootfsDir(id), "copied"))
	if err != nil || string(got) != "before the start" {
		t.Fatalf("the copied file in the started container: %q, %v", got, err)
	}

	taken := create(t, d, "", []string{"true"}, autoRemove)
	prestarted(taken)
	before := launches(l)
	if err := d.ContainerStart(ctx, taken); err != nil {
		t.Fatal(err)
	}
	if n := launches(l) - before; n != 0 {
		t.Fatalf("the start launched %d tasks, not the prestarted one", n)
	}

	updated := create(t, d, "", []string{"true"}, autoRemove)
	prestarted(updated)
	if _, err := d.ContainerUpdate(ctx, updated, containertypes.UpdateConfig{Resources: containertypes.Resources{CPUShares: 512}}); err != nil {
		t.Fatal(err)
	}
	undone(updated, "an update")

	late := create(t, d, "", []string{"true"}, autoRemove)
	prestarted(late)
	c, r, err := d.get(late)
	if err != nil {
		t.Fatal(err)
	}
	c.Lock()
	done := r.prestarted
	c.Unlock()
	d.expirePrestart(c, r, done)
	undone(late, "its expiry")
	if err := d.ContainerStart(ctx, late); err != nil {
		t.Fatalf("a start after the prestart expired: %v", err)
	}
}

// TestEarlyAttach: an attach to an auto-remove container whose prestart
// is done registers with the prestarted task before the start, and gets
// the output; when the prestart is undone between the attach and the
// start (an update), the start's new task gets the attach instead.
func TestEarlyAttach(t *testing.T) {
	t.Parallel()
	l := newFakeLauncher()
	d := newTestDaemon(t, testRoots(t), l)
	ctx := context.Background()
	run := func(t *testing.T, between func(id string)) {
		id := create(t, d, "", []string{"echo", "hello"}, autoRemove)
		eventually(t, "the prestart", func() bool { return prestartedTask(d, l, id) != nil })
		first := prestartedTask(d, l, id)
		var out syncBuffer
		attached := make(chan error, 1)
		go func() {
			attached <- d.ContainerAttach(ctx, id, server.AttachOptions{Stream: true, Stdout: true, Streams: func(bool) (server.Streams, error) {
				return server.Streams{Stdout: &out, Stderr: io.Discard}, nil
			}})
		}()
		eventually(t, "the attach to the prestarted task", func() bool {
			first.mu.Lock()
			defer first.mu.Unlock()
			return len(first.attaches) == 1
		})
		between(id)
		if err := d.ContainerStart(ctx, id); err != nil {
			t.Fatalf("start: %v", err)
		}
		select {
		case err := <-attached:
			if err != nil {
				t.Fatalf("attach: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the attach did not end")
		}
		if out.String() != "hello\n" {
			t.Fatalf("attached output %q, want %q", out.String(), "hello\n")
		}
	}
	t.Run("taken", func(t *testing.T) { run(t, func(string) {}) })
	t.Run("undone", func(t *testing.T) {
		run(t, func(id string) {
			if _, err := d.ContainerUpdate(ctx, id, containertypes.UpdateConfig{Resources: containertypes.Resources{CPUShares: 512}}); err != nil {
				t.Fatal(err)
			}
		})
	})
}
