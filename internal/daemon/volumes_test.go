package daemon

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	volumetypes "github.com/moby/moby/api/types/volume"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image/imagetest"
	"github.com/berth-project/berth/internal/image/interchange"
	bmount "github.com/berth-project/berth/internal/mount"
)

// cleanVolumeMounts unmounts what a test's volumes may leave mounted
// (tmpfs volumes, subpath pins) before testRoots removes the roots.
func cleanVolumeMounts(t *testing.T, cfg cfgT) {
	t.Cleanup(func() {
		for _, pattern := range []string{
			filepath.Join(cfg.DataRoot, "volumes", "*", "_data"),
			filepath.Join(cfg.ExecRoot, "volume-subpaths", "*", "*"),
		} {
			paths, _ := filepath.Glob(pattern)
			for _, p := range paths {
				_ = bmount.UnmountAll(p, 2 /* MNT_DETACH */)
			}
		}
	})
}

func volumeNames(t *testing.T, d *Daemon, filters server.Filters) []string {
	t.Helper()
	l, err := d.VolumeList(context.Background(), filters)
	if err != nil {
		t.Fatalf("volume ls: %v", err)
	}
	var out []string
	for _, v := range l.Volumes {
		out = append(out, v.Name)
	}
	return out
}

func bundleSpec(t *testing.T, d *Daemon, id string) specs.Spec {
	t.Helper()
	l, ok := d.tasks.(*fakeLauncher)
	if !ok {
		t.Fatal("not a fake launcher")
	}
	p := l.proc(d.shimDir(id))
	if p == nil {
		t.Fatalf("no task made for %s", id)
	}
	p.mu.Lock()
	b := p.spec
	p.mu.Unlock()
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func specMountAt(s specs.Spec, dest string) *specs.Mount {
	for i := range s.Mounts {
		if s.Mounts[i].Destination == dest {
			return &s.Mounts[i]
		}
	}
	return nil
}

// TestVolumeMountPoints: -v (named, anonymous, bind), --mount (volume,
// tmpfs) and Config.Volumes become mount points that inspect shows as
// docker 28 does; the volumes are created, referenced, mounted at start
// (events), bound in the spec, unmounted at stop; ps filters on them; an
// in-use volume cannot be removed; rm -v removes only the anonymous ones;
// prune takes anonymous ones only unless all=true.
func TestVolumeMountPoints(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	cleanVolumeMounts(t, cfg)
	d := newTestDaemon(t, cfg, newFakeLauncher())
	ev := recordEvents(t, d)
	ctx := context.Background()
	host := t.TempDir()
	id := create(t, d, "c1", []string{"sleep", "1000"}, func(c *containertypes.Config, h *containertypes.HostConfig) {
		c.Volumes = map[string]struct{}{"/img": {}, "/data": {}}
		h.Binds = []string{"named:/data", host + ":/h:ro", "/anon"}
		h.Mounts = []mount.Mount{
			{Type: mount.TypeVolume, Target: "/m", VolumeOptions: &mount.VolumeOptions{Labels: map[string]string{"a": "b"}}},
			{Type: mount.TypeTmpfs, Target: "/t"},
		}
	})
	mounts := inspect(t, d, id).Mounts
	if len(mounts) != 6 {
		t.Fatalf("mounts: %+v", mounts)
	}
	volDir := func(name string) string { return filepath.Join(cfg.DataRoot, "volumes", name, "_data") }
	anon, img, m := mounts[0].Name, mounts[3].Name, mounts[4].Name
	want := []containertypes.MountPoint{
		{Type: "volume", Name: anon, Source: volDir(anon), Destination: "/anon", Driver: "local", Mode: "z", RW: true},
		{Type: "volume", Name: "named", Source: volDir("named"), Destination: "/data", Driver: "local", Mode: "z", RW: true},
		{Type: "bind", Source: host, Destination: "/h", Mode: "ro", RW: false, Propagation: "rprivate"},
		{Type: "volume", Name: img, Source: volDir(img), Destination: "/img", Driver: "local", Mode: "", RW: true},
		{Type: "volume", Name: m, Source: volDir(m), Destination: "/m", Driver: "local", Mode: "z", RW: true},
		{Type: "tmpfs", Destination: "/t", RW: true},
	}
	if !reflect.DeepEqual(mounts, want) {
		t.Fatalf("mounts:\n got %+v\nwant %+v", mounts, want)
	}
	for _, name := range []string{anon, img, m} {
		if len(name) != 64 {
			t.Errorf("anonymous volume name %q", name)
		}
	}
	if got := volumeNames(t, d, nil); len(got) != 4 || !slices.Contains(got, "named") {
		t.Fatalf("volumes %v", got)
	}
	if v, err := d.VolumeInspect(ctx, m); err != nil || v.Labels["a"] != "b" || v.Labels["com.docker.volume.anonymous"] != "" {
		t.Fatalf("volume %s: %+v %v", m, v, err)
	}
	if got := volumeNames(t, d, server.Filters{"dangling": {"true"}}); len(got) != 0 {
		t.Errorf("dangling while referenced: %v", got)
	}

	if err := d.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	s := bundleSpec(t, d, id)
	for dest, src := range map[string]string{"/data": volDir("named"), "/anon": volDir(anon), "/h": host} {
		if sm := specMountAt(s, dest); sm == nil || sm.Source != src || sm.Type != "bind" {
			t.Errorf("spec mount at %s: %+v", dest, sm)
		}
	}
	if sm := specMountAt(s, "/h"); sm == nil || !slices.Contains(sm.Options, "rro") {
		t.Errorf("read-only bind: %+v", sm)
	}
	if sm := specMountAt(s, "/t"); sm == nil || sm.Type != "tmpfs" {
		t.Errorf("tmpfs: %+v", sm)
	}
	eventually(t, "mount event", func() bool { return ev.find("named", "mount") != nil })
	mountEv := ev.find("named", "mount")
	if mountEv == nil || mountEv.Actor.Attributes["container"] != id || mountEv.Actor.Attributes["destination"] != "/data" ||
		mountEv.Actor.Attributes["read/write"] != "true" || mountEv.Actor.Attributes["driver"] != "local" {
		t.Fatalf("mount event: %+v", mountEv)
	}
	eventually(t, "create event", func() bool { return ev.find("named", "create") != nil })

	// ps --filter volume=: a volume's name, a bind's source, a destination.
	for _, f := range []string{"named", host, "/t", anon} {
		l, err := d.ContainerList(ctx, server.ContainerListOptions{All: true, Filters: server.Filters{"volume": {f}}})
		if err != nil || len(l) != 1 || l[0].ID != id {
			t.Errorf("ps --filter volume=%s: %d, %v", f, len(l), err)
		}
	}
	if l, _ := d.ContainerList(ctx, server.ContainerListOptions{All: true, Filters: server.Filters{"volume": {"other"}}}); len(l) != 0 {
		t.Errorf("ps --filter volume=other: %d", len(l))
	}

	err := d.VolumeRemove(ctx, "named", true)
	if !errdefs.IsConflict(err) || err.Error() != "remove named: volume is in use - ["+id+"]" {
		t.Fatalf("remove in use: %v", err)
	}
	if rep, err := d.VolumesPrune(ctx, server.Filters{"all": {"true"}}); err != nil || len(rep.VolumesDeleted) != 0 {
		t.Fatalf("prune while in use: %+v %v", rep, err)
	}

	if err := d.ContainerStop(ctx, id, server.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "unmount event", func() bool { return ev.find("named", "unmount") != nil })
	if u := ev.find("named", "unmount"); u.Actor.Attributes["container"] != id {
		t.Errorf("unmount event: %+v", u)
	}
	// Stopped, the container still references its volumes.
	if err := d.VolumeRemove(ctx, anon, false); !errdefs.IsConflict(err) {
		t.Fatalf("remove a stopped container's volume: %v", err)
	}

	if err := d.ContainerRemove(ctx, id, server.RemoveOptions{RemoveVolumes: true}); err != nil {
		t.Fatal(err)
	}
	if got := volumeNames(t, d, nil); !reflect.DeepEqual(got, []string{"named"}) {
		t.Fatalf("after rm -v: %v", got)
	}
	eventually(t, "destroy event of the anonymous volume", func() bool { return ev.find(anon, "destroy") != nil })
	// Found again, the volume is not announced as created again.
	again := create(t, d, "again", []string{"true"}, binds("named:/n"))
	eventually(t, "create event of again", func() bool { return ev.find(again, "create") != nil })
	if n := strings.Count(strings.Join(ev.actions("named"), " "), "create"); n != 1 {
		t.Errorf("%d create events for named", n)
	}
	if err := d.ContainerRemove(ctx, again, server.RemoveOptions{RemoveVolumes: true}); err != nil {
		t.Fatal(err)
	}
	if rep, err := d.VolumesPrune(ctx, nil); err != nil || len(rep.VolumesDeleted) != 0 {
		t.Fatalf("prune of a named volume without all: %+v %v", rep, err)
	}
	if rep, err := d.VolumesPrune(ctx, server.Filters{"all": {"true"}}); err != nil || !reflect.DeepEqual(rep.VolumesDeleted, []string{"named"}) {
		t.Fatalf("prune all: %+v %v", rep, err)
	}
}

// TestVolumeCreateErrors: docker's refusals, and a refused create leaves
// no volume behind.
func TestVolumeCreateErrors(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	d := newTestDaemon(t, cfg, newFakeLauncher())
	missing := filepath.Join(t.TempDir(), "missing")
	for _, tc := range []struct {
		name  string
		mod   func(*containertypes.Config, *containertypes.HostConfig)
		class error
		msg   string
	}{
		{name: "duplicate -v", mod: func(_ *containertypes.Config, h *containertypes.HostConfig) {
			h.Binds = []string{"a1:/x", "/anon/../x"}
		},
			msg: "Duplicate mount point: /x"},
		{name: "-v and --mount", mod: func(_ *containertypes.Config, h *containertypes.HostConfig) {
			h.Binds = []string{"/d"}
			h.Mounts = []mount.Mount{{Type: mount.TypeVolume, Source: "v", Target: "/d/"}}
		}, msg: "Duplicate mount point: /d/"},
		{name: "-v and --tmpfs", mod: func(_ *containertypes.Config, h *containertypes.HostConfig) {
			h.Binds = []string{"/t"}
			h.Tmpfs = map[string]string{"/t": ""}
		}, msg: "Duplicate mount point: /t"},
		{name: "--mount bind source missing", mod: func(_ *containertypes.Config, h *containertypes.HostConfig) {
			h.Mounts = []mount.Mount{{Type: mount.TypeBind, Source: missing, Target: "/b"}}
		}, msg: `invalid mount config for type "bind": bind source path does not exist: ` + missing},
		{name: "bad spec", mod: func(_ *containertypes.Config, h *containertypes.HostConfig) { h.Binds = []string{"/a:/b:rx"} }, msg: "invalid mode: rx"},
		{name: "bad volume name after an anonymous one", mod: func(_ *containertypes.Config, h *containertypes.HostConfig) {
			h.Binds = []string{"/anon", "a/b:/x"}
		}, msg: `create a/b: "a/b" includes invalid characters for a local volume name`},
		{name: "unknown driver", mod: func(_ *containertypes.Config, h *containertypes.HostConfig) {
			h.Binds = []string{"/anon"}
			h.VolumeDriver = "nfsplugin"
		}, class: errdefs.ErrNotFound, msg: `plugin "nfsplugin" not found`},
		{name: "volumes-from unknown", mod: func(_ *containertypes.Config, h *containertypes.HostConfig) { h.VolumesFrom = []string{"nope"} },
			msg: "No such container: nope"},
		{name: "volumes-from bad mode", mod: func(_ *containertypes.Config, h *containertypes.HostConfig) { h.VolumesFrom = []string{"x:rshared"} },
			msg: "invalid mode: rshared"},
		{name: "image volume at /", mod: func(c *containertypes.Config, _ *containertypes.HostConfig) { c.Volumes = map[string]struct{}{"/": {}} },
			msg: "destination can't be '/'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &containertypes.Config{Image: "busybox", Cmd: []string{"true"}}
			host := &containertypes.HostConfig{}
			tc.mod(cfg, host)
			_, err := d.ContainerCreate(context.Background(), server.ContainerCreateRequest{Config: cfg, Host: host})
			class := tc.class
			if class == nil {
				class = errdefs.ErrInvalidParameter
			}
			if err == nil || !errdefsIs(err, class) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err %v, want %v %q", err, class, tc.msg)
			}
			if got := volumeNames(t, d, nil); len(got) != 0 {
				t.Fatalf("volumes left: %v", got)
			}
		})
	}
	if n := len(d.containers.List()); n != 0 {
		t.Fatalf("%d containers left", n)
	}
}

func errdefsIs(err, class error) bool {
	switch class {
	case errdefs.ErrNotFound:
		return errdefs.IsNotFound(err)
	case errdefs.ErrInvalidParameter:
		return errdefs.IsInvalidParameter(err)
	}
	return false
}

// TestVolumesFromFake: --volumes-from brings another container's mount
// points (read-only with :ro), references its volumes, and rm -v of the
// first leaves an anonymous volume the second still uses.
func TestVolumesFromFake(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	d := newTestDaemon(t, cfg, newFakeLauncher())
	ctx := context.Background()
	host := t.TempDir()
	first := create(t, d, "first", []string{"true"}, func(_ *containertypes.Config, h *containertypes.HostConfig) {
		h.Binds = []string{"shared:/s", "/anon", host + ":/h"}
	})
	second := create(t, d, "second", []string{"true"}, func(_ *containertypes.Config, h *containertypes.HostConfig) {
		h.VolumesFrom = []string{"first:ro"}
		h.Binds = []string{"own:/h"} // replaces first's bind at /h
	})
	got := map[string]containertypes.MountPoint{}
	for _, m := range inspect(t, d, second).Mounts {
		got[m.Destination] = m
	}
	if m := got["/s"]; m.Name != "shared" || m.RW || m.Mode != "" {
		t.Errorf("/s: %+v", m)
	}
	if m := got["/anon"]; m.Type != "volume" || m.RW {
		t.Errorf("/anon: %+v", m)
	}
	if m := got["/h"]; m.Name != "own" || !m.RW {
		t.Errorf("/h: %+v", m)
	}
	anon := got["/anon"].Name
	if err := d.ContainerRemove(ctx, first, server.RemoveOptions{RemoveVolumes: true}); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(volumeNames(t, d, nil), anon) {
		t.Fatal("rm -v removed a volume another container uses")
	}
	if err := d.VolumeRemove(ctx, "shared", false); !errdefs.IsConflict(err) {
		t.Fatalf("remove a volume in use through --volumes-from: %v", err)
	}
	if err := d.ContainerRemove(ctx, second, server.RemoveOptions{RemoveVolumes: true}); err != nil {
		t.Fatal(err)
	}
	if got := volumeNames(t, d, nil); !reflect.DeepEqual(got, []string{"own", "shared"}) {
		t.Fatalf("volumes after both rm -v: %v", got)
	}
}

// TestVolumeReferencesAfterRestart: a new daemon on the same roots knows
// who uses which volume: in-use volumes cannot be removed nor pruned,
// and a running container's volumes are unmounted at its exit.
func TestVolumeReferencesAfterRestart(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	cleanVolumeMounts(t, cfg)
	fake := newFakeLauncher()
	d := newTestDaemon(t, cfg, fake)
	ctx := context.Background()
	running := create(t, d, "running", []string{"sleep", "1000"}, func(_ *containertypes.Config, h *containertypes.HostConfig) {
		h.Binds = []string{"live:/l"}
	})
	stopped := create(t, d, "stopped", []string{"true"}, func(_ *containertypes.Config, h *containertypes.HostConfig) {
		h.Binds = []string{"/anon"}
	})
	if _, err := d.VolumeCreate(ctx, volumetypes.CreateRequest{Name: "tmp", DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs"}}); err != nil {
		t.Fatal(err)
	}
	withTmp := create(t, d, "withtmp", []string{"sleep", "1000"}, func(_ *containertypes.Config, h *containertypes.HostConfig) {
		h.Binds = []string{"tmp:/tmpvol"}
	})
	for _, id := range []string{running, withTmp} {
		if err := d.ContainerStart(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	tmpData := filepath.Join(cfg.DataRoot, "volumes", "tmp", "_data")
	if err := os.WriteFile(filepath.Join(tmpData, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	d2 := newTestDaemon(t, cfg, fake)
	ev := recordEvents(t, d2)
	for _, name := range []string{"live", "tmp"} {
		if err := d2.VolumeRemove(ctx, name, true); !errdefs.IsConflict(err) {
			t.Fatalf("remove %s after restart: %v", name, err)
		}
	}
	anon := inspect(t, d2, stopped).Mounts[0].Name
	if err := d2.VolumeRemove(ctx, anon, false); !errdefs.IsConflict(err) {
		t.Fatalf("remove a stopped container's volume after restart: %v", err)
	}
	if rep, err := d2.VolumesPrune(ctx, server.Filters{"all": {"true"}}); err != nil || len(rep.VolumesDeleted) != 0 {
		t.Fatalf("prune after restart: %+v %v", rep, err)
	}
	// The tmpfs volume stayed mounted for its running user.
	if b, err := os.ReadFile(filepath.Join(tmpData, "f")); err != nil || string(b) != "x" {
		t.Fatalf("tmpfs volume after restart: %q %v", b, err)
	}
	if err := d2.ContainerStop(ctx, withTmp, server.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "unmount of tmp", func() bool { return ev.find("tmp", "unmount") != nil })
	if _, err := os.Stat(filepath.Join(tmpData, "f")); !os.IsNotExist(err) {
		t.Fatalf("tmpfs volume still mounted after its last user stopped: %v", err)
	}
	if err := d2.ContainerRemove(ctx, running, server.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if err := d2.VolumeRemove(ctx, "live", false); err != nil {
		t.Fatalf("remove after its container: %v", err)
	}
}

// imageWithVolume loads volimg:latest: busybox plus /vol/hello, a
// symlink out of the root, and VOLUME /vol and /empty in its config.
func imageWithVolume(t *testing.T, d *Daemon) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "vol/", Typeflag: tar.TypeDir, Mode: 0o750, Uid: 1000, Gid: 1000},
		{Name: "vol/hello", Typeflag: tar.TypeReg, Mode: 0o640, Size: int64(len("from the image\n")), Uid: 1000},
		{Name: "vol/shadow", Typeflag: tar.TypeSymlink, Linkname: "/etc/shadow"},
		{Name: "file", Typeflag: tar.TypeReg, Mode: 0o644},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Name == "vol/hello" {
			_, _ = tw.Write([]byte("from the image\n"))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(imagetest.BusyboxImage(t), layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Volumes = map[string]struct{}{"/vol": {}, "/empty": {}}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "volimg.tar")
	imagetest.WriteDockerArchive(t, p, map[string]v1.Image{"volimg:latest": img}, imagetest.ArchiveOCI)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := interchange.Load(context.Background(), f, d.ImageStore()); err != nil {
		t.Fatalf("load volimg: %v", err)
	}
}

// TestVolumeCopyUpFake: an image's VOLUMEs become anonymous volumes
// seeded with the image's content (owners, modes, symlinks as links);
// a named volume is seeded only while empty, and not with nocopy; an
// image VOLUME over a file is refused.
func TestVolumeCopyUpFake(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	d := newTestDaemon(t, cfg, newFakeLauncher())
	imageWithVolume(t, d)
	ctx := context.Background()
	mk := func(binds ...string) string {
		t.Helper()
		resp, err := d.ContainerCreate(ctx, server.ContainerCreateRequest{
			Config: &containertypes.Config{Image: "volimg", Cmd: []string{"true"}},
			Host:   &containertypes.HostConfig{Binds: binds},
		})
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		return resp.ID
	}
	id := mk()
	byDest := map[string]containertypes.MountPoint{}
	for _, m := range inspect(t, d, id).Mounts {
		byDest[m.Destination] = m
	}
	src := byDest["/vol"].Source
	if b, err := os.ReadFile(filepath.Join(src, "hello")); err != nil || string(b) != "from the image\n" {
		t.Fatalf("copy-up: %q %v", b, err)
	}
	if fi, err := os.Stat(src); err != nil || fi.Mode().Perm() != 0o750 {
		t.Errorf("volume dir mode: %v %v", fi.Mode(), err)
	}
	if l, err := os.Readlink(filepath.Join(src, "shadow")); err != nil || l != "/etc/shadow" {
		t.Errorf("symlink: %q %v", l, err)
	}
	if byDest["/empty"].Type != "volume" || byDest["/empty"].Mode != "" {
		t.Errorf("/empty: %+v", byDest["/empty"])
	}

	// A named volume: seeded when new, left alone once it has data.
	mk("seeded:/vol")
	data := filepath.Join(cfg.DataRoot, "volumes", "seeded", "_data")
	if err := os.WriteFile(filepath.Join(data, "hello"), []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mk("seeded:/vol")
	if b, _ := os.ReadFile(filepath.Join(data, "hello")); string(b) != "mine\n" {
		t.Fatalf("a volume with data was seeded again: %q", b)
	}
	mk("nocopy:/vol:nocopy")
	if entries, err := os.ReadDir(filepath.Join(cfg.DataRoot, "volumes", "nocopy", "_data")); err != nil || len(entries) != 0 {
		t.Fatalf("nocopy volume: %v %v", entries, err)
	}

	_, err := d.ContainerCreate(ctx, server.ContainerCreateRequest{
		Config: &containertypes.Config{Image: "volimg", Cmd: []string{"true"}, Volumes: map[string]struct{}{"/file": {}}},
		Host:   &containertypes.HostConfig{},
	})
	if err == nil || !strings.Contains(err.Error(), "cannot mount volume over existing file, file exists /file") {
		t.Fatalf("volume over a file: %v", err)
	}
}

// TestVolumesDiskUsage: system df's volumes: sizes, reference counts,
// the active count and what removing the unused ones would free.
func TestVolumesDiskUsage(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	d := newTestDaemon(t, cfg, newFakeLauncher())
	ctx := context.Background()
	create(t, d, "user", []string{"true"}, func(_ *containertypes.Config, h *containertypes.HostConfig) { h.Binds = []string{"used:/u"} })
	if _, err := d.VolumeCreate(ctx, volumetypes.CreateRequest{Name: "unused"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.VolumeCreate(ctx, volumetypes.CreateRequest{Name: "withopts", DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs"}}); err != nil {
		t.Fatal(err)
	}
	data := func(name string) string { return filepath.Join(cfg.DataRoot, "volumes", name, "_data") }
	if err := os.WriteFile(filepath.Join(data("used"), "f"), []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(data("used"), "f"), filepath.Join(data("used"), "g")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data("unused"), "f"), []byte("12345"), 0o644); err != nil {
		t.Fatal(err)
	}
	du, err := d.DiskUsage(ctx, server.DiskUsageOptions{Types: []string{"volume"}})
	if err != nil {
		t.Fatal(err)
	}
	v := du.VolumeUsage
	if v == nil || v.TotalCount != 2 || v.ActiveCount != 1 || v.TotalSize != 8 || v.Reclaimable != 5 || len(v.Items) != 2 {
		t.Fatalf("df volumes: %+v", v)
	}
	for _, it := range v.Items {
		want := volumetypes.UsageData{Size: 3, RefCount: 1}
		if it.Name == "unused" {
			want = volumetypes.UsageData{Size: 5}
		}
		if it.UsageData == nil || *it.UsageData != want {
			t.Errorf("%s: %+v", it.Name, it.UsageData)
		}
	}
}
