package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	containertypes "github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
)

// TestFingerprintUpper: the mount targets every container gets are
// allowed, anything else or a written file is refused, and any change to
// an allowed entry's attributes changes the description.
func TestFingerprintUpper(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"etc/hosts", "etc/hostname", "etc/resolv.conf"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	before, err := fingerprintUpper(dir)
	if err != nil {
		t.Fatalf("the mount targets: %v", err)
	}
	if again, _ := fingerprintUpper(dir); again != before {
		t.Fatal("two descriptions of an unchanged directory differ")
	}

	changes := []struct {
		name   string
		change func() error
		undo   func() error
	}{
		{"mode", func() error { return os.Chmod(filepath.Join(dir, "etc"), 0o777) },
			func() error { return os.Chmod(filepath.Join(dir, "etc"), 0o755) }},
		{"times", func() error {
			old := time.Unix(1e9, 0)
			return os.Chtimes(filepath.Join(dir, "etc/hosts"), old, old)
		}, nil},
		{"xattr", func() error { return unix.Lsetxattr(filepath.Join(dir, "etc"), "user.note", []byte("x"), 0) },
			func() error { return unix.Lremovexattr(filepath.Join(dir, "etc"), "user.note") }},
	}
	for _, c := range changes {
		if err := c.change(); err != nil {
			if c.name == "xattr" && errors.Is(err, unix.EOPNOTSUPP) {
				continue // a temporary directory without user xattrs
			}
			t.Fatal(err)
		}
		if after, err := fingerprintUpper(dir); err != nil || after == before {
			t.Errorf("a change of %s: same description (err %v)", c.name, err)
		}
		if c.undo != nil {
			_ = c.undo()
		}
		before, _ = fingerprintUpper(dir)
	}

	if err := os.WriteFile(filepath.Join(dir, "etc/hostname"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := fingerprintUpper(dir); err == nil {
		t.Error("a written mount target was allowed")
	}
	if err := os.Truncate(filepath.Join(dir, "etc/hostname"), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc/passwd"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := fingerprintUpper(dir); err == nil {
		t.Error("a new file was allowed")
	}
	if err := os.Remove(filepath.Join(dir, "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(dir, "tmp"), unix.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := fingerprintUpper(dir); err == nil {
		t.Error("a whiteout was allowed")
	}
}

// TestRecycleSnapshot: an auto-remove container that wrote nothing gives
// its snapshot back to the spares, and the next auto-remove create takes
// it; one that wrote a file has its snapshot removed; a container that is
// not auto-remove never gets a recycled snapshot.
func TestRecycleSnapshot(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	fake := newFakeLauncher()
	d := newTestDaemon(t, cfg, fake)
	ctx := context.Background()
	// runAndKill starts id, lets between act on it while it runs, kills
	// it and waits for its removal.
	runAndKill := func(id string, between func()) {
		t.Helper()
		removed := waitFor(t, d, id, containertypes.WaitConditionRemoved)
		if err := d.ContainerStart(ctx, id); err != nil {
			t.Fatal(err)
		}
		between()
		if err := d.ContainerKill(ctx, id, "KILL"); err != nil {
			t.Fatal(err)
		}
		select {
		case <-removed:
		case <-time.After(10 * time.Second):
			t.Fatal("the container was not removed")
		}
	}

	first := create(t, d, "", []string{"sleep", "100"}, autoRemove)
	key := snapshotKey(t, d, first)
	runAndKill(first, func() {})
	eventually(t, "the snapshot among the spares", func() bool { return slices.Contains(readySpares(d), key) })
	parked := filepath.Join(d.parkedDir(), key)
	if !isMountpoint(t, parked) {
		t.Fatal("the recycled snapshot is not kept mounted")
	}

	// Not for a container that outlives its exit.
	kept := create(t, d, "", []string{"sleep", "100"})
	if got := snapshotKey(t, d, kept); got == key {
		t.Fatal("a container without auto-remove took a recycled snapshot")
	}

	second := create(t, d, "", []string{"sleep", "100"}, autoRemove)
	if got := snapshotKey(t, d, second); got != key {
		t.Fatalf("the next auto-remove container's snapshot is %s, not the recycled %s", got, key)
	}
	runAndKill(second, func() {
		if isMountpoint(t, parked) || !isMountpoint(t, d.rootfsDir(second)) {
			t.Fatal("the parked mount was not moved into the container's bundle")
		}
		if err := os.WriteFile(filepath.Join(d.rootfsDir(second), "scribble"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	eventually(t, "the written snapshot removed", func() bool {
		_, err := d.snapshots.Stat(ctx, key)
		return errdefs.IsNotFound(err)
	})
	if slices.Contains(readySpares(d), key) {
		t.Fatal("a written snapshot was recycled")
	}

	// A parked mount is unmounted with its spare (here at the close), and
	// one a crash left by the next start.
	third := create(t, d, "", []string{"sleep", "100"}, autoRemove)
	key = snapshotKey(t, d, third)
	runAndKill(third, func() {})
	parked = filepath.Join(d.parkedDir(), key)
	eventually(t, "the third snapshot parked", func() bool { return isMountpoint(t, parked) })
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if isMountpoint(t, parked) {
		t.Fatal("a parked mount outlived the daemon's close")
	}
	if err := os.MkdirAll(parked, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", parked, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	newTestDaemon(t, cfg, fake)
	if isMountpoint(t, parked) {
		unix.Unmount(parked, unix.MNT_DETACH)
		t.Fatal("the next start left a parked mount a crash left")
	}
}
