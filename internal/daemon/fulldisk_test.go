package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	containertypes "github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/snapshot"
	"github.com/berth-project/berth/internal/testenv"
)

func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// metadataBytes is the disk the snapshot metadata database takes: bbolt
// fills its sparse file as it uses pages and never gives them back, so
// its growth is not a removal's leak.
func metadataBytes(t *testing.T, dataRoot string) int64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(dataRoot, "snapshots", "metadata.db"), &st); err != nil {
		return 0
	}
	return st.Blocks * 512
}

// fill writes a file that takes all but about leave bytes of dir's
// filesystem; removing it frees them again.
func fill(t *testing.T, dir string, leave int64) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for freeBytes(t, dir) > leave+int64(len(buf)) {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	return p
}

// TestFullDisk: on a full data root a create fails with the disk's error
// and leaves nothing (no record, no directory, no snapshot); with room
// again everything works; and removing a container gives back every byte
// it took, its writes included.
func TestFullDisk(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	cfg := testRoots(t)
	if err := os.MkdirAll(cfg.DataRoot, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", cfg.DataRoot, "tmpfs", 0, "size=32m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(cfg.DataRoot, unix.MNT_DETACH) })
	d := newTestDaemon(t, cfg, newFakeLauncher())
	ctx := context.Background()

	// One container first, so the image is unpacked.
	first := create(t, d, "", []string{"true"})
	if err := d.ContainerRemove(ctx, first, server.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	d.SettleRemovals() // no spare snapshot (spares.go) in the baseline
	baseline := freeBytes(t, cfg.DataRoot)
	baseMeta := metadataBytes(t, cfg.DataRoot)

	filler := fill(t, cfg.DataRoot, 0)
	_, err := d.ContainerCreate(ctx, server.ContainerCreateRequest{Config: &containertypes.Config{Image: "busybox", Cmd: []string{"true"}}})
	if err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("create on a full disk: %v", err)
	}
	if n := d.containers.Len(); n != 0 {
		t.Fatalf("%d containers after a failed create", n)
	}
	if ents, _ := os.ReadDir(filepath.Join(cfg.DataRoot, "containers")); len(ents) != 0 {
		t.Fatalf("container directories left: %v", ents)
	}
	_ = d.snapshots.Walk(ctx, func(_ context.Context, info snapshot.Info) error {
		if info.Labels["berth.container"] != "" {
			t.Errorf("snapshot %s left by a failed create", info.Name)
		}
		return nil
	})
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}

	id := create(t, d, "", []string{"sleep", "1000"})
	if err := d.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	// The container writes 4 MiB into its filesystem.
	upper := inspect(t, d, id).GraphDriver.Data["UpperDir"]
	if err := os.WriteFile(filepath.Join(upper, "big"), make([]byte, 4<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	// A full disk while it runs: stop and inspect still work (the record
	// keeps its last good state).
	filler = fill(t, cfg.DataRoot, 0)
	if err := d.ContainerStop(ctx, id, server.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if st := inspect(t, d, id).State; st.Status != "exited" {
		t.Fatalf("after stop on a full disk: %+v", st)
	}
	if err := d.ContainerRemove(ctx, id, server.RemoveOptions{}); err != nil {
		t.Fatalf("rm on a full disk: %v", err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	// A spare snapshot prepared after the create holds a few blocks of
	// its own (spares.go): not the container's.
	d.SettleRemovals()
	if got := freeBytes(t, cfg.DataRoot) + metadataBytes(t, cfg.DataRoot) - baseMeta; got < baseline {
		t.Fatalf("rm did not free everything: %d bytes free, %d before the container", got, baseline)
	}
	// The stores are consistent: a new daemon on the root sees no
	// container and no incomplete one.
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := container.Open(filepath.Join(cfg.DataRoot, "containers"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 0 || len(s.Incomplete()) != 0 {
		t.Fatalf("store after the full disk: %d records, incomplete %v", s.Len(), s.Incomplete())
	}
	if _, err := os.Stat(filepath.Join(cfg.DataRoot, "containers", id)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("container directory left: %v", err)
	}
}
