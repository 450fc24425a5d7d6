package daemon

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

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

// TestPremount: an auto-remove container's layer is mounted after its
// create; a removal before any start takes the mount down; a copy into
// the created container (which mounts the layer itself) sees it and the
// start that follows mounts the layer with the copied file in it.
func TestPremount(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	d := newTestDaemon(t, cfg, newFakeLauncher())
	ctx := context.Background()
	autoRemove := func(_ *containertypes.Config, h *containertypes.HostConfig) { h.AutoRemove = true }

	never := create(t, d, "", []string{"true"}, autoRemove)
	eventually(t, "the premount", func() bool { return isMountpoint(t, d.rootfsDir(never)) })
	if err := d.ContainerRemove(ctx, never, server.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	d.SettleRemovals() // an auto-remove container's storage goes in the background
	if isMountpoint(t, d.rootfsDir(never)) {
		t.Fatal("a removed container's premount is left")
	}
	if _, err := os.Stat(d.bundleDir(never)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a removed container's bundle: %v", err)
	}

	id := create(t, d, "", []string{"true"}, autoRemove)
	tar := tarOf(t, tarEntry{name: "copied", body: "before the start"})
	if err := d.ContainerExtractToDir(ctx, id, "/", server.ExtractOptions{}, bytes.NewReader(tar)); err != nil {
		t.Fatalf("copy into a created auto-remove container: %v", err)
	}
	if isMountpoint(t, d.rootfsDir(id)) {
		t.Fatal("the premount is still there after a copy mounted the layer itself")
	}
	if err := d.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(d.rootfsDir(id), "copied"))
	if err != nil || string(got) != "before the start" {
		t.Fatalf("the copied file in the started container: %q, %v", got, err)
	}
}
