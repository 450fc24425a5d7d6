package daemon

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	volumetypes "github.com/moby/moby/api/types/volume"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
)

// runIn creates a container of image with cmd and mod, runs it to its
// exit, and returns its exit code and output.
func runIn(t *testing.T, d *Daemon, image, name string, cmd string, mod ...func(*containertypes.Config, *containertypes.HostConfig)) (string, int, string) {
	t.Helper()
	id := create(t, d, name, []string{"sh", "-c", cmd}, append([]func(*containertypes.Config, *containertypes.HostConfig){
		func(c *containertypes.Config, _ *containertypes.HostConfig) { c.Image = image }}, mod...)...)
	code, _ := runToExit(t, d, id)
	return id, code, logsOf(t, d, id, false)
}

func binds(b ...string) func(*containertypes.Config, *containertypes.HostConfig) {
	return func(_ *containertypes.Config, h *containertypes.HostConfig) { h.Binds = append(h.Binds, b...) }
}

// TestRealVolumes runs busybox containers with volumes through the real
// shim and runtime: a named volume's data outlives its container; a
// read-only bind and a read-only volume refuse writes; tmpfs (--tmpfs and
// a tmpfs volume) keeps nothing; an image's VOLUME is seeded from the
// image; --volumes-from shares (read-only with :ro); a subpath shows only
// its directory, and a symlink planted in the volume does not lead out
// of it; an in-use volume cannot be removed; prune takes only unused
// anonymous volumes; rm -v removes the anonymous ones.
func TestRealVolumes(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	cleanVolumeMounts(t, cfg)
	d := newRealDaemon(t, cfg)
	imageWithVolume(t, d)
	ctx := context.Background()

	// Named volume: written by one container, read by the next after rm.
	first, code, out := runIn(t, d, "busybox", "", "echo kept > /data/f", binds("named:/data"))
	if code != 0 {
		t.Fatalf("write to the volume: %d %s", code, out)
	}
	if err := d.ContainerRemove(ctx, first, server.RemoveOptions{RemoveVolumes: true}); err != nil {
		t.Fatal(err)
	}
	if _, code, out := runIn(t, d, "busybox", "", "cat /data/f", binds("named:/data")); code != 0 || out != "kept\n" {
		t.Fatalf("the volume's data after rm: %d %q", code, out)
	}

	// Read-only: a bind with :ro, a --mount bind readonly, a volume :ro.
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "file"), []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, code, out = runIn(t, d, "busybox", "", "cat /h/file; touch /h/x || exit 9; exit 0", binds(host+":/h:ro"))
	if code != 9 || !strings.Contains(out, "host\n") || !strings.Contains(out, "Read-only file system") {
		t.Fatalf("ro bind: %d %q", code, out)
	}
	_, code, _ = runIn(t, d, "busybox", "", "touch /m/x || exit 9", func(_ *containertypes.Config, h *containertypes.HostConfig) {
		h.Mounts = []mount.Mount{{Type: mount.TypeBind, Source: host, Target: "/m", ReadOnly: true}}
	})
	if code != 9 {
		t.Fatalf("readonly --mount bind: %d", code)
	}
	if _, code, _ = runIn(t, d, "busybox", "", "touch /data/x || exit 9", binds("named:/data:ro")); code != 9 {
		t.Fatalf("ro volume: %d", code)
	}
	if _, err := os.Stat(filepath.Join(host, "x")); !os.IsNotExist(err) {
		t.Fatalf("a read-only bind was written: %v", err)
	}
	// A -v host path that does not exist is created, as docker does.
	made := filepath.Join(t.TempDir(), "made", "here")
	if _, code, out = runIn(t, d, "busybox", "", "echo in > /made/f", binds(made+":/made")); code != 0 {
		t.Fatalf("-v with a new host path: %d %s", code, out)
	}
	if b, err := os.ReadFile(filepath.Join(made, "f")); err != nil || string(b) != "in\n" {
		t.Fatalf("bind written: %q %v", b, err)
	}

	// tmpfs keeps nothing: --tmpfs across a restart of the container,
	// and a tmpfs volume once its last user is gone.
	tmp := create(t, d, "", []string{"sh", "-c", "ls /t; echo x > /t/f"}, func(_ *containertypes.Config, h *containertypes.HostConfig) {
		h.Tmpfs = map[string]string{"/t": ""}
	})
	for range 2 {
		if code, out := runToExit(t, d, tmp); code != 0 {
			t.Fatalf("tmpfs: %d %s", code, out)
		}
	}
	if out := logsOf(t, d, tmp, false); out != "" {
		t.Fatalf("tmpfs kept %q across runs", out)
	}
	if _, err := d.VolumeCreate(ctx, volumetypes.CreateRequest{Name: "tmpvol", DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}}); err != nil {
		t.Fatal(err)
	}
	if _, code, _ = runIn(t, d, "busybox", "", "echo x > /tv/f", binds("tmpvol:/tv")); code != 0 {
		t.Fatal("write to the tmpfs volume")
	}
	if _, code, out = runIn(t, d, "busybox", "", "ls /tv", binds("tmpvol:/tv")); code != 0 || out != "" {
		t.Fatalf("tmpfs volume kept %q", out)
	}

	// Copy-up: the image's VOLUME /vol holds the image's files, owners
	// and symlinks as they are.
	_, code, out = runIn(t, d, "volimg", "", "cat /vol/hello; stat -c '%u %a' /vol/hello /vol; readlink /vol/shadow")
	if code != 0 || out != "from the image\n1000 640\n1000 750\n/etc/shadow\n" {
		t.Fatalf("copy-up: %d %q", code, out)
	}

	// --volumes-from, and :ro.
	owner, code, _ := runIn(t, d, "busybox", "owner", "echo shared > /s/f; echo anon > /a/f", binds("shared:/s", "/a"))
	if code != 0 {
		t.Fatal("owner")
	}
	_, code, out = runIn(t, d, "busybox", "", "cat /s/f /a/f; touch /s/x || exit 9", func(_ *containertypes.Config, h *containertypes.HostConfig) {
		h.VolumesFrom = []string{"owner:ro"}
	})
	if code != 9 || !strings.Contains(out, "shared\nanon\n") {
		t.Fatalf("--volumes-from owner:ro: %d %q", code, out)
	}
	if _, code, _ = runIn(t, d, "busybox", "", "touch /s/x", func(_ *containertypes.Config, h *containertypes.HostConfig) {
		h.VolumesFrom = []string{"owner"}
	}); code != 0 {
		t.Fatal("--volumes-from owner: not writable")
	}

	// A subpath shows its directory only; a symlink the container
	// planted resolves inside the volume, never on the host.
	if _, code, _ = runIn(t, d, "busybox", "", "mkdir -p /v/dir && echo sub > /v/dir/f && ln -s / /v/esc && ln -s /etc /v/etc", binds("subvol:/v")); code != 0 {
		t.Fatal("prepare subvol")
	}
	sub := func(p string) func(*containertypes.Config, *containertypes.HostConfig) {
		return func(_ *containertypes.Config, h *containertypes.HostConfig) {
			h.Mounts = []mount.Mount{{Type: mount.TypeVolume, Source: "subvol", Target: "/sub", VolumeOptions: &mount.VolumeOptions{Subpath: p}}}
		}
	}
	if _, code, out = runIn(t, d, "busybox", "", "ls /sub; cat /sub/f", sub("dir")); code != 0 || out != "f\nsub\n" {
		t.Fatalf("subpath: %d %q", code, out)
	}
	if _, code, out = runIn(t, d, "busybox", "", "ls /sub", sub("esc")); code != 0 || !strings.Contains(out, "dir") || strings.Contains(out, "proc") {
		t.Fatalf("subpath through a symlink to /: %d %q", code, out)
	}
	id := create(t, d, "", []string{"ls", "/sub"}, sub("etc"))
	if err := d.ContainerStart(ctx, id); err == nil {
		t.Fatal("a subpath through a symlink to a missing /etc in the volume started")
	}

	// In use: refused while a container (running or not) has it.
	sleeper := create(t, d, "", []string{"sleep", "1000"}, binds("busy:/b"))
	if err := d.ContainerStart(ctx, sleeper); err != nil {
		t.Fatal(err)
	}
	if err := d.VolumeRemove(ctx, "busy", true); !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "volume is in use - ["+sleeper+"]") {
		t.Fatalf("remove in use: %v", err)
	}

	// Prune: only unused anonymous volumes by default.
	if err := d.ContainerRemove(ctx, owner, server.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	left := create(t, d, "", []string{"true"}, binds("/dangling"))
	dangling := inspect(t, d, left).Mounts[0].Name
	if err := d.ContainerRemove(ctx, left, server.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	before := volumeNames(t, d, nil)
	rep, err := d.VolumesPrune(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rep.VolumesDeleted, []string{dangling}) {
		t.Errorf("prune removed %v, want only %s (of %v)", rep.VolumesDeleted, dangling, before)
	}
	if _, err := d.VolumeCreate(ctx, volumetypes.CreateRequest{Name: "lonely"}); err != nil {
		t.Fatal(err)
	}
	if rep, err := d.VolumesPrune(ctx, server.Filters{"all": {"1"}}); err != nil || !slices.Contains(rep.VolumesDeleted, "lonely") ||
		slices.Contains(rep.VolumesDeleted, "busy") || slices.Contains(rep.VolumesDeleted, "shared") {
		t.Errorf("prune all: %+v %v", rep, err)
	}

	// rm -v: the container's anonymous volumes go, its named ones stay.
	withAnon := create(t, d, "", []string{"true"}, binds("/x", "named:/n"))
	anon := inspect(t, d, withAnon).Mounts
	if err := d.ContainerRemove(ctx, withAnon, server.RemoveOptions{RemoveVolumes: true}); err != nil {
		t.Fatal(err)
	}
	for _, m := range anon {
		if present := slices.Contains(volumeNames(t, d, nil), m.Name); present != (m.Name == "named") {
			t.Errorf("after rm -v, %s present: %v", m.Name, present)
		}
	}
}

// TestRealVolumeLiveRestore: a container keeps its volume across a daemon
// restart, and the new daemon knows the volume is in use until the
// container is gone.
func TestRealVolumeLiveRestore(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	cfg.LiveRestore = true
	cleanVolumeMounts(t, cfg)
	d := newRealDaemon(t, cfg)
	ctx := context.Background()
	id := create(t, d, "", []string{"sh", "-c", "echo alive > /data/f; trap 'exit 0' TERM; while true; do sleep 0.05; done"}, binds("persist:/data"))
	if err := d.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(cfg.DataRoot, "volumes", "persist", "_data", "f")
	eventually(t, "the container's write", func() bool { b, _ := os.ReadFile(data); return string(b) == "alive\n" })
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d2 := newRealDaemon(t, cfg)
	if err := d2.VolumeRemove(ctx, "persist", false); !errdefs.IsConflict(err) {
		t.Fatalf("remove after restart: %v", err)
	}
	if err := d2.ContainerStop(ctx, id, server.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := d2.VolumeRemove(ctx, "persist", false); !errdefs.IsConflict(err) {
		t.Fatalf("remove while a stopped container has it: %v", err)
	}
	if err := d2.ContainerRemove(ctx, id, server.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := d2.VolumeRemove(ctx, "persist", false); err != nil {
		t.Fatalf("remove once unused: %v", err)
	}
}
