package daemon

import (
	"context"
	"os"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
)

// TestOrphanSnapshotsRemoved: a container whose record a crash lost (its
// directory gone, its snapshot committed) leaves no snapshot once the
// daemon starts again; containers with records keep theirs.
func TestOrphanSnapshotsRemoved(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	fake := newFakeLauncher()
	d := newTestDaemon(t, cfg, fake)
	kept := create(t, d, "kept", []string{"true"})
	lost := create(t, d, "lost", []string{"true"})
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(d.containers.Dir(lost)); err != nil {
		t.Fatal(err)
	}

	d2 := newTestDaemon(t, cfg, fake)
	ctx := context.Background()
	if _, err := d2.snapshots.Mounts(ctx, lost); !errdefs.IsNotFound(err) {
		t.Errorf("the lost container's snapshot: %v, want not found", err)
	}
	if _, err := d2.snapshots.Mounts(ctx, kept); err != nil {
		t.Errorf("the kept container's snapshot: %v", err)
	}
}
