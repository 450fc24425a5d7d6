//go:build linux

// Package snapshottest is the conformance suite of snapshot.Snapshotter:
// every implementation's tests run Suite, so they all keep the same
// contract. The suite mounts snapshots for real (it needs root, and says
// so), kills child processes in the middle of operations, and cleans up
// every mount and directory it makes, even when a check fails.
package snapshottest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/mount"
	"github.com/berth-project/berth/internal/snapshot"
	"github.com/berth-project/berth/internal/testenv"
)

// NewFunc opens (or makes) a snapshotter at root. The returned function
// closes it. The suite calls it again on the same root to check that a
// reopened store keeps everything, and in a child process (the test
// binary run again) for the crash tests, so it must not depend on state
// of the calling test beyond t and root.
type NewFunc func(ctx context.Context, t *testing.T, root string) (snapshot.Snapshotter, func() error, error)

// Suite runs every check against snapshotters made by newSnapshotter,
// each in a fresh root, as parallel subtests of t. name is only used in
// messages.
func Suite(t *testing.T, name string, newSnapshotter NewFunc) {
	newSnapshotter = named(name, newSnapshotter)
	if isCrashChild() {
		// Only the crash subtest runs in a child; -test.run picks it.
		t.Run("CrashSafety", func(t *testing.T) { crashChild(t, newSnapshotter) })
		return
	}
	testenv.RequireRoot(t)
	for _, c := range []struct {
		name  string
		check func(ctx context.Context, t *testing.T, sn snapshot.Snapshotter, work string)
	}{
		{"Basic", checkBasic},
		{"Kinds", checkKinds},
		{"ParentChain", checkParentChain},
		{"Metadata", checkMetadata},
		{"RemoveOrder", checkRemoveOrder},
		{"Collisions", checkCollisions},
		{"Errors", checkErrors},
		{"Labels", checkLabels},
		{"Walk", checkWalk},
		{"Usage", checkUsage},
		{"ViewReadOnly", checkViewReadOnly},
		{"UpperDir", checkUpperDir},
		{"ManyLayers", checkManyLayers},
		{"ConcurrentPrepare", checkConcurrentPrepare},
		{"Close", checkClose},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			root, work := dirs(t)
			sn := open(ctx, t, newSnapshotter, root)
			c.check(ctx, t, sn, work)
		})
	}
	t.Run("SharedRoot", func(t *testing.T) {
		t.Parallel()
		checkSharedRoot(context.Background(), t, newSnapshotter)
	})
	t.Run("Reopen", func(t *testing.T) {
		t.Parallel()
		checkReopen(context.Background(), t, newSnapshotter)
	})
	// Not parallel: a child started while another test has a file open
	// in its mount holds a copy of that descriptor until it execs, and
	// the other test's unmount fails with EBUSY meanwhile. A subtest
	// that is not parallel runs before the parallel ones start.
	t.Run("CrashSafety", func(t *testing.T) {
		checkCrashSafety(context.Background(), t, newSnapshotter)
	})
}

// named puts the implementation's name on errors of opening it.
func named(name string, newSnapshotter NewFunc) NewFunc {
	return func(ctx context.Context, t *testing.T, root string) (snapshot.Snapshotter, func() error, error) {
		sn, closeFn, err := newSnapshotter(ctx, t, root)
		if err != nil {
			err = fmt.Errorf("%s snapshotter: %w", name, err)
		}
		return sn, closeFn, err
	}
}

// dirs makes a snapshotter root and a work area for mount points.
func dirs(t *testing.T) (root, work string) {
	base := t.TempDir()
	root, work = filepath.Join(base, "root"), filepath.Join(base, "work")
	for _, d := range []string{root, work} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return root, work
}

// open opens a snapshotter and closes it when the test ends.
func open(ctx context.Context, t *testing.T, newSnapshotter NewFunc, root string) snapshot.Snapshotter {
	t.Helper()
	sn, closeFn, err := newSnapshotter(ctx, t, root)
	if err != nil {
		t.Fatalf("open snapshotter at %s: %v", root, err)
	}
	t.Cleanup(func() {
		if err := closeFn(); err != nil {
			t.Errorf("close snapshotter: %v", err)
		}
	})
	return sn
}

// mountAt mounts mounts on a new directory under work and returns it.
// Whatever happens, the mounts are gone when the test ends.
func mountAt(t *testing.T, work string, mounts []mount.Mount) string {
	t.Helper()
	dir, err := os.MkdirTemp(work, "mnt-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := mount.UnmountAll(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if err := mount.All(mounts, dir); err != nil {
		t.Fatalf("mount %+v: %v", mounts, err)
	}
	return dir
}

func unmount(t *testing.T, dir string) {
	t.Helper()
	if err := mount.UnmountAll(dir, 0); err != nil {
		t.Fatal(err)
	}
}

// layer prepares key on parent, runs change on its mounted tree, and
// commits it as name.
func layer(ctx context.Context, t *testing.T, sn snapshot.Snapshotter, work, name, parent string, change func(dir string)) {
	t.Helper()
	key := name + "-active"
	mounts, err := sn.Prepare(ctx, key, parent)
	if err != nil {
		t.Fatalf("prepare %s on %q: %v", key, parent, err)
	}
	dir := mountAt(t, work, mounts)
	change(dir)
	unmount(t, dir)
	if err := sn.Commit(ctx, name, key); err != nil {
		t.Fatalf("commit %s as %s: %v", key, name, err)
	}
}

// viewTree makes a view of name, mounts it and returns its tree.
func viewTree(ctx context.Context, t *testing.T, sn snapshot.Snapshotter, work, name string) map[string]string {
	t.Helper()
	key := "view-" + randomSuffix()
	mounts, err := sn.View(ctx, key, name)
	if err != nil {
		t.Fatalf("view of %s: %v", name, err)
	}
	dir := mountAt(t, work, mounts)
	tr := tree(t, dir)
	unmount(t, dir)
	if err := sn.Remove(ctx, key); err != nil {
		t.Fatalf("remove view %s: %v", key, err)
	}
	return tr
}
