package system_test

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/volume"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/daemon/images"
	"github.com/berth-project/berth/internal/daemon/system"
	"github.com/berth-project/berth/internal/errdefs"
	bus "github.com/berth-project/berth/internal/events"
	"github.com/berth-project/berth/internal/image/imagetest"
	"github.com/berth-project/berth/internal/testenv"
	"github.com/berth-project/berth/internal/testenv/registrytest"
)

// containers is a fake of the daemon's containers.
type containers struct{}

func (containers) Counts() (total, running, paused, stopped int) { return 5, 2, 1, 2 }

func (containers) ContainersDiskUsage(context.Context) (*container.DiskUsage, error) {
	return &container.DiskUsage{TotalCount: 5, ActiveCount: 3, TotalSize: 4096, Items: []container.Summary{{ID: "abc", SizeRw: 4096}}}, nil
}

// volumes is a fake of the daemon's volumes.
type volumes struct{}

func (volumes) VolumesDiskUsage(context.Context) (*volume.DiskUsage, error) {
	return &volume.DiskUsage{TotalCount: 2, ActiveCount: 1, TotalSize: 10, Reclaimable: 4,
		Items: []volume.Volume{{Name: "a", UsageData: &volume.UsageData{Size: 6, RefCount: 1}}, {Name: "b", UsageData: &volume.UsageData{Size: 4}}}}, nil
}

func newImages(t *testing.T, root string, opts ...func(*images.Options)) *images.Service {
	t.Helper()
	testenv.RequireRoot(t)
	o := images.Options{Root: root, InsecureRegistries: []string{"10.0.0.0/8", "registry.test:5000"}}
	for _, fn := range opts {
		fn(&o)
	}
	svc, err := images.New(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc
}

func loadImage(t *testing.T, svc *images.Service) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.tar")
	imagetest.WriteDockerArchive(t, path, map[string]v1.Image{"busybox:latest": imagetest.BusyboxImage(t)}, imagetest.ArchiveOCI)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := svc.ImageLoad(t.Context(), f, true, nil); err != nil {
		t.Fatal(err)
	}
}

func newService(t *testing.T, root string, img *images.Service, b *bus.Bus) *system.Service {
	return system.New(system.Options{
		Version: "0.4.0", GitCommit: "abc1234", BuildTime: "2026-01-01T00:00:00Z",
		APIVersion: "1.50", MinAPIVersion: "1.24",
		DataRoot: root, Events: b, Images: img, Containers: containers{}, Volumes: volumes{},
		Runtimes:       map[string]string{"berth": "/usr/local/bin/berth-runtime", "runc": "/usr/sbin/runc"},
		DefaultRuntime: "berth", LiveRestore: true,
		InsecureRegistries: []string{"10.0.0.0/8", "registry.test:5000"},
		Mirrors:            []string{"https://mirror.test"},
		Labels:             []string{"env=test"},
	})
}

func TestInfo(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	root := t.TempDir()
	img := newImages(t, root)
	loadImage(t, img)
	b := bus.NewBus()
	s := newService(t, root, img, b)
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.ID == "" || len(info.ID) != 36 {
		t.Errorf("ID %q", info.ID)
	}
	again, err := newService(t, root, img, b).Info(ctx)
	if err != nil || again.ID != info.ID {
		t.Errorf("ID changed across services on one root: %q, %q (%v)", info.ID, again.ID, err)
	}
	other, err := newService(t, t.TempDir(), nil, nil).Info(ctx)
	if err != nil || other.ID == info.ID || other.ID == "" {
		t.Errorf("another root's ID %q (%v)", other.ID, err)
	}
	if info.Containers != 5 || info.ContainersRunning != 2 || info.ContainersPaused != 1 || info.ContainersStopped != 2 || info.Images != 1 {
		t.Errorf("counts %d %d %d %d, images %d", info.Containers, info.ContainersRunning, info.ContainersPaused, info.ContainersStopped, info.Images)
	}
	if info.Driver != images.DriverOverlay || len(info.DriverStatus) == 0 || info.DriverStatus[0][0] != "Backing Filesystem" {
		t.Errorf("driver %s %v", info.Driver, info.DriverStatus)
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	if info.KernelVersion != unix.ByteSliceToString(u.Release[:]) || info.Architecture != unix.ByteSliceToString(u.Machine[:]) {
		t.Errorf("kernel %q arch %q", info.KernelVersion, info.Architecture)
	}
	if info.OSType != "linux" || info.OperatingSystem == "" || info.OperatingSystem == "<unknown>" {
		t.Errorf("os %q %q", info.OSType, info.OperatingSystem)
	}
	if b, err := os.ReadFile("/etc/os-release"); err == nil && !strings.Contains(string(b), info.OperatingSystem) {
		t.Errorf("OperatingSystem %q is not from /etc/os-release", info.OperatingSystem)
	}
	host, _ := os.Hostname()
	if info.NCPU != runtime.NumCPU() || info.MemTotal <= 0 || info.Name != host || info.DockerRootDir != root {
		t.Errorf("ncpu %d mem %d name %q root %q", info.NCPU, info.MemTotal, info.Name, info.DockerRootDir)
	}
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		t.Fatal(err)
	}
	wantCgroup := "1"
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		wantCgroup = "2"
	}
	if info.CgroupVersion != wantCgroup || info.CgroupDriver != "cgroupfs" {
		t.Errorf("cgroup %s %s, want version %s", info.CgroupDriver, info.CgroupVersion, wantCgroup)
	}
	if !info.MemoryLimit || !info.PidsLimit || !info.CPUShares {
		t.Errorf("cgroup features: memory %v pids %v shares %v", info.MemoryLimit, info.PidsLimit, info.CPUShares)
	}
	if !slices.Contains(info.SecurityOptions, "name=seccomp,profile=builtin") || (wantCgroup == "2") != slices.Contains(info.SecurityOptions, "name=cgroupns") {
		t.Errorf("security options %v", info.SecurityOptions)
	}
	if info.ServerVersion != "0.4.0" || info.DefaultRuntime != "berth" || info.Runtimes["runc"].Path != "/usr/sbin/runc" || !info.LiveRestoreEnabled || info.LoggingDriver != "json-file" {
		t.Errorf("engine fields %+v", info)
	}
	rc := info.RegistryConfig
	if rc == nil || !slices.Contains(rc.InsecureRegistryCIDRs, netip.MustParsePrefix("10.0.0.0/8")) || !slices.Contains(rc.InsecureRegistryCIDRs, netip.MustParsePrefix("127.0.0.0/8")) {
		t.Fatalf("registry config %+v", rc)
	}
	if ic := rc.IndexConfigs["registry.test:5000"]; ic == nil || ic.Secure {
		t.Errorf("insecure index %+v", ic)
	}
	if hub := rc.IndexConfigs["docker.io"]; hub == nil || !hub.Official || !slices.Equal(hub.Mirrors, []string{"https://mirror.test/"}) || !slices.Equal(rc.Mirrors, hub.Mirrors) {
		t.Errorf("docker.io index %+v, mirrors %v", hub, rc.Mirrors)
	}
	if !slices.Equal(info.Labels, []string{"env=test"}) || info.SystemTime == "" || info.NGoroutines == 0 || info.NFd == 0 {
		t.Errorf("misc %v %q %d %d", info.Labels, info.SystemTime, info.NGoroutines, info.NFd)
	}
	if (info.SwapLimit) == slices.Contains(info.Warnings, "WARNING: No swap limit support") {
		t.Errorf("swap %v, warnings %q", info.SwapLimit, info.Warnings)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	s := newService(t, t.TempDir(), nil, nil)
	v, err := s.Version(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if v.Platform.Name != "Berth" || v.Version != "0.4.0" || v.APIVersion != "1.50" || v.MinAPIVersion != "1.24" ||
		v.Os != "linux" || v.Arch != runtime.GOARCH || v.GoVersion != runtime.Version() || v.GitCommit != "abc1234" || v.KernelVersion == "" || v.BuildTime == "" {
		t.Errorf("version %+v", v)
	}
	if len(v.Components) != 1 || v.Components[0].Name != "Engine" || v.Components[0].Version != "0.4.0" || v.Components[0].Details["ApiVersion"] != "1.50" {
		t.Errorf("components %+v", v.Components)
	}
}

func TestDiskUsage(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	root := t.TempDir()
	img := newImages(t, root)
	loadImage(t, img)
	s := newService(t, root, img, nil)
	du, err := s.DiskUsage(ctx, server.DiskUsageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if du.ImageUsage == nil || du.ImageUsage.TotalCount != 1 || du.ImageUsage.TotalSize <= 0 || len(du.ImageUsage.Items) != 1 {
		t.Errorf("images %+v", du.ImageUsage)
	}
	if du.ContainerUsage == nil || du.ContainerUsage.TotalCount != 5 || du.VolumeUsage == nil || du.BuildCacheUsage == nil {
		t.Errorf("df %+v", du)
	}
	if v := du.VolumeUsage; v == nil || v.TotalCount != 2 || v.Reclaimable != 4 || len(v.Items) != 2 {
		t.Errorf("df volumes %+v", v)
	}
	du, err = s.DiskUsage(ctx, server.DiskUsageOptions{Types: []string{"container"}})
	if err != nil || du.ImageUsage != nil || du.ContainerUsage == nil || du.VolumeUsage != nil {
		t.Errorf("df -type container: %+v %v", du, err)
	}
}

func TestEvents(t *testing.T) {
	t.Parallel()
	b := bus.NewBus()
	s := newService(t, t.TempDir(), nil, b)
	b.Publish(events.Message{Type: events.ContainerEventType, Action: events.ActionStart, Actor: events.Actor{ID: "a"}})
	b.Publish(events.Message{Type: events.ImageEventType, Action: events.ActionPull, Actor: events.Actor{ID: "busybox:latest"}})
	var got []string
	err := s.Events(t.Context(), server.EventsOptions{Since: time.Unix(1, 0), Until: time.Now(), Filters: server.Filters{"type": {"image"}}},
		func(m events.Message) error { got = append(got, string(m.Action)); return nil })
	if err != nil || !slices.Equal(got, []string{"pull"}) {
		t.Errorf("events %v %v", got, err)
	}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reg := registrytest.Start(t, registrytest.WithHtpasswd("alice", "s3cret"))
	img := newImages(t, t.TempDir())
	s := newService(t, t.TempDir(), img, nil)
	status, _, err := s.Login(ctx, registry.AuthConfig{Username: "alice", Password: "s3cret", ServerAddress: reg.Host})
	if err != nil || status != "Login Succeeded" {
		t.Errorf("login: %q %v", status, err)
	}
	_, _, err = s.Login(ctx, registry.AuthConfig{Username: "alice", Password: "wrong", ServerAddress: reg.Host})
	if !errdefs.IsUnauthorized(err) {
		t.Errorf("wrong password: %v", err)
	}
	if _, _, err := newService(t, t.TempDir(), nil, nil).Login(ctx, registry.AuthConfig{}); !errdefs.IsNotImplemented(err) {
		t.Errorf("no image service: %v", err)
	}
}
