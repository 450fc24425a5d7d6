package images_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/api/types/registry"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/daemon/images"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image/imagetest"
	"github.com/berth-project/berth/internal/testenv"
	"github.com/berth-project/berth/internal/testenv/registrytest"
	"golang.org/x/sys/unix"
)

// TestSearch finds repositories in a registry without a search API
// through its catalog.
func TestSearch(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reg := registrytest.Start(t)
	img := imagetest.BusyboxImage(t)
	for _, r := range []string{"tools/busybox:1", "busybox-extra:1", "alpine:3"} {
		imagetest.Push(t, reg, r, img)
	}
	f := newService(t)
	res, err := f.svc.ImageSearch(ctx, reg.Host+"/busy", 0, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range res {
		names = append(names, r.Name)
	}
	slices.Sort(names)
	if want := []string{reg.Host + "/busybox-extra", reg.Host + "/tools/busybox"}; !slices.Equal(names, want) {
		t.Errorf("search: %v, want %v", names, want)
	}
	res, err = f.svc.ImageSearch(ctx, reg.Host+"/busy", 1, nil, nil)
	if err != nil || len(res) != 1 {
		t.Errorf("limit 1: %v %v", res, err)
	}
	res, err = f.svc.ImageSearch(ctx, reg.Host+"/busy", 0, server.Filters{"is-official": {"true"}}, nil)
	if err != nil || len(res) != 0 {
		t.Errorf("is-official: %v %v", res, err)
	}
	if _, err := f.svc.ImageSearch(ctx, reg.Host+"/busy", 0, server.Filters{"stars": {"many"}}, nil); !errdefs.IsInvalidParameter(err) {
		t.Errorf("bad stars: %v", err)
	}
}

// TestCredentials: a registry that wants a password is reached with the
// request's X-Registry-Auth, else with the docker config file's, else
// refused.
func TestCredentials(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reg := registrytest.Start(t, registrytest.WithHtpasswd("alice", "s3cret"))
	imagetest.Push(t, reg, "private:1", imagetest.BusyboxImage(t))

	f := newService(t)
	var out bytes.Buffer
	// Refused, with a 500 as dockerd's (TestRegistryRefusalIsNot401).
	if err := f.svc.ImagePull(ctx, reg.Ref("private"), server.ImagePullOptions{Tag: "1"}, &out); err == nil || errdefs.IsUnauthorized(err) {
		t.Errorf("anonymous pull: %v", err)
	}
	out.Reset()
	auth := &registry.AuthConfig{Username: "alice", Password: "s3cret", ServerAddress: reg.Host}
	if err := f.svc.ImagePull(ctx, reg.Ref("private"), server.ImagePullOptions{Tag: "1", Auth: auth}, &out); err != nil {
		t.Fatalf("pull with X-Registry-Auth: %v", err)
	}

	dir := t.TempDir()
	cfg, _ := json.Marshal(map[string]any{"auths": map[string]any{reg.Host: map[string]string{
		"auth": base64.StdEncoding.EncodeToString([]byte("alice:s3cret")),
	}}})
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	g := newService(t, func(o *images.Options) { o.ConfigDir = dir })
	out.Reset()
	if err := g.svc.ImagePull(ctx, reg.Ref("private"), server.ImagePullOptions{Tag: "1", Auth: &registry.AuthConfig{}}, &out); err != nil {
		t.Fatalf("pull with the config file's credentials: %v", err)
	}
	out.Reset()
	if err := g.svc.ImagePush(ctx, reg.Ref("private"), server.ImagePushOptions{Tag: "1"}, &out); err != nil {
		t.Fatalf("push with the config file's credentials: %v", err)
	}
}

// TestNativeSnapshotter: asked for, the copying snapshotter serves
// loads, and the images are unpacked there.
func TestNativeSnapshotter(t *testing.T) {
	t.Parallel()
	f := newService(t, func(o *images.Options) { o.SnapshotterName = "native" })
	if f.svc.Driver() != images.DriverNative {
		t.Fatalf("driver %s", f.svc.Driver())
	}
	loadArchive(t, f, map[string]v1.Image{"busybox:latest": imagetest.BusyboxImage(t)}, true)
	img, err := f.svc.Store().Get(t.Context(), "busybox")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := f.svc.Store().Unpacked(t.Context(), img); err != nil || !ok {
		t.Errorf("not unpacked: %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.root, "snapshots-native")); err != nil {
		t.Error(err)
	}
	g := newService(t)
	if g.svc.Driver() != images.DriverOverlay {
		t.Errorf("default driver %s on a host with overlay", g.svc.Driver())
	}
	if _, err := images.New(t.Context(), images.Options{Root: t.TempDir(), SnapshotterName: "zfs"}); !errdefs.IsInvalidParameter(err) {
		t.Errorf("unknown snapshotter: %v", err)
	}
}

// TestOverlayFallback: a data root on overlayfs (as in a container)
// cannot hold overlay upper directories; the service finds out by trying
// and falls back to the copying snapshotter, with a warning.
func TestOverlayFallback(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	dir := t.TempDir()
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	merged := filepath.Join(dir, "merged")
	opts := "lowerdir=" + filepath.Join(dir, "lower") + ",upperdir=" + filepath.Join(dir, "upper") + ",workdir=" + filepath.Join(dir, "work")
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		t.Fatalf("mount the overlay data root: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(merged, unix.MNT_DETACH); err != nil {
			t.Error(err)
		}
	})
	svc, err := images.New(t.Context(), images.Options{Root: filepath.Join(merged, "root")})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if svc.Driver() != images.DriverNative || len(svc.Warnings()) == 0 {
		t.Errorf("driver %s, warnings %q", svc.Driver(), svc.Warnings())
	}
}
