package images_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image/imagetest"
	"github.com/berth-project/berth/internal/image/transfer"
	"github.com/berth-project/berth/internal/mount"
	"github.com/berth-project/berth/internal/snapshot"
	"github.com/berth-project/berth/internal/testenv"
	"github.com/berth-project/berth/internal/testenv/registrytest"
)

// TestRunPulledImage is the whole path from a registry to a running
// container, as the daemon will take it: pull busybox with transfer.Pull,
// prepare a writable container snapshot on the image's top layer, mount it
// as a bundle's rootfs, write a config.json (berth-runtime spec, with the
// image config's Env and WorkingDir) and run `echo hello` with
// bin/berth-runtime. The container's write lands in its own snapshot and
// not in the image's; unmounting and removing leave nothing behind.
func TestRunPulledImage(t *testing.T) {
	testenv.RequireRoot(t)
	bin := testenv.RuntimeBinary(t)
	ctx := t.Context()
	reg := registrytest.Start(t)
	imagetest.Push(t, reg, "busybox:latest", imagetest.BusyboxImage(t))
	s := newStores(t)
	c, err := distribution.New()
	if err != nil {
		t.Fatal(err)
	}
	res, err := transfer.Pull(ctx, c, s.images, reg.Ref("busybox"))
	if err != nil {
		t.Fatal(err)
	}
	resolved, err := s.images.Resolve(ctx, res.Image)
	if err != nil {
		t.Fatal(err)
	}

	// The container's snapshot, removed last (cleanups run in reverse).
	key := testenv.UniqueName(t, "ctr")
	mounts, err := s.sn.Prepare(ctx, key, res.Top)
	if err != nil {
		t.Fatal(err)
	}
	removed := false
	t.Cleanup(func() {
		if !removed {
			s.sn.Remove(context.Background(), key)
		}
	})
	bundle := t.TempDir()
	rootfs := filepath.Join(bundle, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := mount.All(mounts, rootfs); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mount.UnmountAll(rootfs, 0) })

	out, err := exec.Command(bin, "spec", "--bundle", bundle).CombinedOutput()
	if err != nil {
		t.Fatalf("berth-runtime spec: %v\n%s", err, out)
	}
	var spec specs.Spec
	readJSON(t, filepath.Join(bundle, "config.json"), &spec)
	spec.Process.Terminal = false
	spec.Process.Args = []string{"sh", "-c", "echo hello; echo written > /tmp/by-container"}
	spec.Process.Env = resolved.Config.Config.Env
	spec.Process.Cwd = resolved.Config.Config.WorkingDir
	spec.Root = &specs.Root{Path: "rootfs"}
	writeJSON(t, filepath.Join(bundle, "config.json"), spec)

	state := t.TempDir()
	id := testenv.UniqueName(t, "run")
	t.Cleanup(func() {
		// Only does something if the run below failed half-way.
		exec.Command(bin, "--root", state, "delete", "--force", id).Run()
	})
	stdout, err := os.CreateTemp(t.TempDir(), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	runCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(runCtx, bin, "--root", state, "run", "--bundle", bundle, id)
	cmd.Stdout = stdout
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("berth-runtime run: %v\n%s", err, stderr.String())
	}
	got, err := os.ReadFile(stdout.Name())
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "hello\n" {
		t.Fatalf("the container printed %q (stderr %q), want %q", got, stderr.String(), "hello\n")
	}

	// Copy-on-write: the write is in the container's layer only.
	upper, err := snapshot.UpperDir(mounts)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(upper.Dir, "tmp/by-container")); err != nil || string(b) != "written\n" {
		t.Errorf("the container's write in its snapshot: %q, %v", b, err)
	}
	withView(t, s.sn, res.Top, func(root string) {
		if _, err := os.Lstat(filepath.Join(root, "tmp/by-container")); err == nil {
			t.Error("the container's write reached the image's layers")
		}
	})

	if err := mount.UnmountAll(rootfs, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.sn.Remove(ctx, key); err != nil {
		t.Fatal(err)
	}
	removed = true
	if _, err := s.sn.Stat(ctx, key); !errdefs.IsNotFound(err) {
		t.Errorf("container snapshot after Remove: %v", err)
	}
	if m := mountsBelow(t, bundle); len(m) > 0 {
		t.Errorf("mounts left: %v", m)
	}
	if out, err := exec.Command(bin, "--root", state, "state", id).CombinedOutput(); err == nil {
		t.Errorf("the runtime still knows %s after run: %s", id, out)
	}
	assertConsistent(t, s)
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func writeJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
