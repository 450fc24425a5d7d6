package daemon

import (
	"context"
	"testing"

	"github.com/berth-project/berth/internal/snapshot"
)

// spareKeys lists the snapshots labelled as spares.
func spareKeys(t *testing.T, d *Daemon) []string {
	t.Helper()
	var keys []string
	err := d.snapshots.Walk(context.Background(), func(_ context.Context, info snapshot.Info) error {
		if _, ok := info.Labels[spareLabel]; ok {
			keys = append(keys, info.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestSpareSnapshots: a create leaves a spare snapshot on its image's top
// layer, the next create takes it; image operations (SettleRemovals) and
// Close drop spares; a spare a crash left is removed at the next start,
// and the containers that took one keep it.
func TestSpareSnapshots(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	fake := newFakeLauncher()
	d := newTestDaemon(t, cfg, fake)
	ctx := context.Background()

	first := create(t, d, "first", []string{"true"})
	if key := snapshotKey(t, d, first); key != first {
		t.Fatalf("the first create found a spare: %s", key)
	}
	eventually(t, "a spare", func() bool { return len(readySpares(d)) == 1 })
	spare := readySpares(d)[0]
	second := create(t, d, "second", []string{"true"})
	if key := snapshotKey(t, d, second); key != spare {
		t.Fatalf("the second create's snapshot is %s, not the spare %s", key, spare)
	}
	// The spare is the container's now: its layer mounts and it is
	// removed with the container.
	if err := d.ContainerStart(ctx, second); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the next spare", func() bool {
		keys := spareKeys(t, d)
		return len(keys) == 2 && keys[0] != keys[1] // the taken one keeps its label
	})

	// Image operations see no spare.
	d.SettleRemovals()
	for _, k := range spareKeys(t, d) {
		if k != spare {
			t.Fatalf("spare %s left after SettleRemovals", k)
		}
	}

	// A spare a crash left: the next daemon removes it, not the one a
	// container took.
	if _, err := d.snapshots.Prepare(ctx, "spare-left-by-a-crash", topOf(t, d, second), snapshot.WithLabels(map[string]string{spareLabel: "1"})); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d2 := newTestDaemon(t, cfg, fake)
	keys := spareKeys(t, d2)
	if len(keys) != 1 || keys[0] != spare {
		t.Fatalf("spares after a restart: %v, want only %s (taken by a container)", keys, spare)
	}
	if _, err := d2.snapshots.Stat(ctx, first); err != nil {
		t.Fatalf("the first container's snapshot: %v", err)
	}
}

// readySpares lists the spares a create can take now.
func readySpares(d *Daemon) []string {
	d.spares.mu.Lock()
	defer d.spares.mu.Unlock()
	var keys []string
	for _, list := range d.spares.byTop {
		for _, sp := range list {
			keys = append(keys, sp.key)
		}
	}
	return keys
}

// topOf is the parent of container id's snapshot: its image's top layer.
func topOf(t *testing.T, d *Daemon, id string) string {
	t.Helper()
	info, err := d.snapshots.Stat(context.Background(), snapshotKey(t, d, id))
	if err != nil {
		t.Fatal(err)
	}
	if info.Parent == "" {
		t.Fatalf("snapshot %s has no parent", info.Name)
	}
	return info.Parent
}
