package spec

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/mount"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/errdefs"
)

// TestParseBind: -v values become docker's mount points (what inspect
// shows: Type, Name, Source, Destination, Mode, RW, Propagation).
func TestParseBind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw  string
		want container.MountPoint
		copy bool
	}{
		{raw: "/data", copy: true, want: container.MountPoint{Type: mount.TypeVolume, Destination: "/data", Mode: "z", RW: true,
			Spec: mount.Mount{Type: mount.TypeVolume, Target: "/data"}}},
		{raw: "vol:/data", copy: true, want: container.MountPoint{Type: mount.TypeVolume, Name: "vol", Destination: "/data", Mode: "z", RW: true,
			Spec: mount.Mount{Type: mount.TypeVolume, Source: "vol", Target: "/data"}}},
		{raw: "vol:/data/:ro", copy: true, want: container.MountPoint{Type: mount.TypeVolume, Name: "vol", Destination: "/data", Mode: "ro",
			Spec: mount.Mount{Type: mount.TypeVolume, Source: "vol", Target: "/data/", ReadOnly: true}}},
		{raw: "vol:/data:nocopy,rw", want: container.MountPoint{Type: mount.TypeVolume, Name: "vol", Destination: "/data", Mode: "nocopy,rw", RW: true,
			Spec: mount.Mount{Type: mount.TypeVolume, Source: "vol", Target: "/data", VolumeOptions: &mount.VolumeOptions{NoCopy: true}}}},
		{raw: "/host:/ctr", want: container.MountPoint{Type: mount.TypeBind, Source: "/host", Destination: "/ctr", RW: true, Propagation: "rprivate",
			Spec: mount.Mount{Type: mount.TypeBind, Source: "/host", Target: "/ctr"}}},
		{raw: "/host/:/ctr:ro,rshared,Z", want: container.MountPoint{Type: mount.TypeBind, Source: "/host", Destination: "/ctr", Mode: "ro,rshared,Z", Propagation: "rshared",
			Spec: mount.Mount{Type: mount.TypeBind, Source: "/host/", Target: "/ctr", ReadOnly: true, BindOptions: &mount.BindOptions{Propagation: "rshared"}}}},
	} {
		mp, err := ParseBind(tc.raw)
		if err != nil {
			t.Errorf("%s: %v", tc.raw, err)
			continue
		}
		if mp.CopyData != tc.copy {
			t.Errorf("%s: CopyData %v, want %v", tc.raw, mp.CopyData, tc.copy)
		}
		mp.CopyData = false
		if !reflect.DeepEqual(*mp, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.raw, *mp, tc.want)
		}
	}
}

func TestParseBindErrors(t *testing.T) {
	t.Parallel()
	for raw, msg := range map[string]string{
		"":                       "invalid volume specification: ''",
		":/x":                    "invalid volume specification: ':/x'",
		"/x:rw":                  "invalid volume specification: '/x:rw'",
		"/a:/b:ro:x":             "invalid volume specification: '/a:/b:ro:x'",
		"/a:/b:rx":               "invalid mode: rx",
		"/a:/b:ro,rw":            "invalid mode: ro,rw",
		"/a:/b:z,Z":              "invalid mode: z,Z",
		"/a:/":                   `invalid volume specification: '/a:/': invalid mount config for type "bind": invalid specification: destination can't be '/'`,
		"/a:b":                   `invalid volume specification: '/a:b': invalid mount config for type "bind": invalid mount path: 'b' mount path must be absolute`,
		"vol:/x:rshared":         `invalid volume specification: 'vol:/x:rshared': invalid mount config for type "volume": field BindOptions must not be specified`,
		"/host:/x:nocopy":        `invalid volume specification: '/host:/x:nocopy': invalid mount config for type "bind": field VolumeOptions must not be specified`,
		"vol:relative":           `invalid mount path: 'relative' mount path must be absolute`,
		"/a:/b:nocopy,nocopy,ro": "invalid mode: nocopy,nocopy,ro",
	} {
		_, err := ParseBind(raw)
		if err == nil || !errdefs.IsInvalidParameter(err) || err.Error() != msg && !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want InvalidParameter %q", raw, err, msg)
		}
	}
}

func TestParseMount(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mp, err := ParseMount(mount.Mount{Type: mount.TypeVolume, Source: "v", Target: "/v/",
		VolumeOptions: &mount.VolumeOptions{NoCopy: true, Subpath: "a/b", DriverConfig: &mount.Driver{Name: "local", Options: map[string]string{"type": "tmpfs"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if mp.Name != "v" || mp.Destination != "/v" || mp.Mode != "z" || !mp.RW || mp.CopyData || mp.Driver != "local" || mp.Propagation != "" {
		t.Errorf("volume: %+v", mp)
	}
	mp, err = ParseMount(mount.Mount{Type: mount.TypeBind, Source: dir, Target: "/b", ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if mp.Source != dir || mp.Mode != "" || mp.RW || mp.Propagation != "rprivate" || !mp.SkipMountpointCreation {
		t.Errorf("bind: %+v", mp)
	}
	missing := filepath.Join(dir, "missing")
	if mp, err := ParseMount(mount.Mount{Type: mount.TypeBind, Source: missing, Target: "/b", BindOptions: &mount.BindOptions{CreateMountpoint: true}}); err != nil || mp.SkipMountpointCreation {
		t.Errorf("CreateMountpoint: %+v, %v", mp, err)
	}
	mp, err = ParseMount(mount.Mount{Type: mount.TypeTmpfs, Target: "/t"})
	if err != nil || mp.Type != mount.TypeTmpfs || !mp.RW || mp.Mode != "" {
		t.Errorf("tmpfs: %+v, %v", mp, err)
	}

	for _, tc := range []struct {
		m     mount.Mount
		msg   string
		class error
	}{
		{m: mount.Mount{Type: mount.TypeBind, Source: missing, Target: "/b"},
			msg: `invalid mount config for type "bind": bind source path does not exist: ` + missing},
		{m: mount.Mount{Type: mount.TypeBind, Target: "/b"}, msg: `invalid mount config for type "bind": field Source must not be empty`},
		{m: mount.Mount{Type: mount.TypeBind, Source: "rel", Target: "/b"}, msg: `invalid mount config for type "bind": invalid mount path: 'rel' mount path must be absolute`},
		{m: mount.Mount{Type: mount.TypeBind, Source: dir, Target: "/b", BindOptions: &mount.BindOptions{Propagation: "weird"}}, msg: "invalid propagation mode: weird"},
		{m: mount.Mount{Type: mount.TypeVolume, Source: "v"}, msg: `invalid mount config for type "volume": field Target must not be empty`},
		{m: mount.Mount{Type: mount.TypeVolume, Source: "v", Target: "/"}, msg: `invalid mount config for type "volume": invalid specification: destination can't be '/'`},
		{m: mount.Mount{Type: mount.TypeVolume, Target: "/v", ReadOnly: true}, msg: `invalid mount config for type "volume": must not set ReadOnly mode when using anonymous volumes`},
		{m: mount.Mount{Type: mount.TypeVolume, Target: "/v", VolumeOptions: &mount.VolumeOptions{Subpath: "x"}}, msg: "must not set Subpath when using anonymous volumes"},
		{m: mount.Mount{Type: mount.TypeVolume, Source: "v", Target: "/v", VolumeOptions: &mount.VolumeOptions{Subpath: "../x"}}, msg: "subpath must be a relative path within the volume"},
		{m: mount.Mount{Type: mount.TypeVolume, Source: "v", Target: "/v", VolumeOptions: &mount.VolumeOptions{Subpath: "/x"}}, msg: "subpath must be a relative path within the volume"},
		{m: mount.Mount{Type: mount.TypeVolume, Source: "v", Target: "/v", BindOptions: &mount.BindOptions{}}, msg: "field BindOptions must not be specified"},
		{m: mount.Mount{Type: mount.TypeTmpfs, Source: "x", Target: "/t"}, msg: `invalid mount config for type "tmpfs": field Source must not be specified`},
		{m: mount.Mount{Type: mount.TypeTmpfs, Target: "/t", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: -1}}, msg: "invalid tmpfs size -1"},
		{m: mount.Mount{Type: "weird", Target: "/t"}, msg: `invalid mount config for type "weird": mount type unknown`},
		{m: mount.Mount{Type: mount.TypeImage, Source: "busybox", Target: "/i"}, msg: `mount type "image" is not supported yet`, class: errdefs.ErrNotImplemented},
	} {
		_, err := ParseMount(tc.m)
		class := tc.class
		if class == nil {
			class = errdefs.ErrInvalidParameter
		}
		if err == nil || !errors.Is(err, class) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%+v: %v, want %v %q", tc.m, err, class, tc.msg)
		}
	}
}

func TestParseVolumesFrom(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][2]string{"c": {"c", "rw"}, "c:ro": {"c", "ro"}, "c:rw,z": {"c", "rw,z"}} {
		name, mode, err := ParseVolumesFrom(in)
		if err != nil || name != want[0] || mode != want[1] {
			t.Errorf("%q: %q %q %v", in, name, mode, err)
		}
	}
	for in, msg := range map[string]string{"": "volumes-from specification cannot be an empty string", "c:rshared": "invalid mode: rshared", "c:nocopy": "invalid mode: nocopy", "c:x": "invalid mode: x"} {
		if _, _, err := ParseVolumesFrom(in); err == nil || !errdefs.IsInvalidParameter(err) || err.Error() != msg {
			t.Errorf("%q: %v, want %q", in, err, msg)
		}
	}
	if ReadWrite("ro,z") || !ReadWrite("rw") || !ReadWrite("") || ReadWrite("bad") {
		t.Error("ReadWrite")
	}
}

// TestResolvedMounts: Input.Mounts replaces Host.Binds and Host.Mounts;
// volumes arrive as binds of their directories (MountFor).
func TestResolvedMounts(t *testing.T) {
	t.Parallel()
	vol, host := t.TempDir(), t.TempDir()
	mps := []*container.MountPoint{
		{Type: mount.TypeVolume, Name: "v", Destination: "/v", RW: true},
		{Type: mount.TypeVolume, Name: "w", Destination: "/w"},
		{Type: mount.TypeBind, Source: host, Destination: "/h", Propagation: "rslave", RW: true,
			Spec: mount.Mount{BindOptions: &mount.BindOptions{NonRecursive: true, CreateMountpoint: true}}},
		{Type: mount.TypeTmpfs, Destination: "/t", Spec: mount.Mount{TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 4096}}},
	}
	s := generate(t, func(in *Input) {
		in.Host.Binds = []string{"ignored:/ignored"}
		for _, mp := range mps {
			src := mp.Source
			if mp.Type == mount.TypeVolume {
				src = vol
			}
			in.Mounts = append(in.Mounts, MountFor(mp, src))
		}
	})
	for _, want := range []specs.Mount{
		{Destination: "/v", Type: "bind", Source: vol, Options: []string{"rbind", "rprivate"}},
		{Destination: "/w", Type: "bind", Source: vol, Options: []string{"rbind", "rro", "rprivate"}},
		{Destination: "/h", Type: "bind", Source: host, Options: []string{"bind", "rslave"}},
		{Destination: "/t", Type: "tmpfs", Source: "tmpfs", Options: []string{"noexec", "nosuid", "nodev", "rprivate", "size=4096", "ro"}},
	} {
		if m := mountAt(s, want.Destination); m == nil || !reflect.DeepEqual(*m, want) {
			t.Errorf("mount %+v, want %+v", m, want)
		}
	}
	if mountAt(s, "/ignored") != nil {
		t.Error("Host.Binds read although Mounts were given")
	}
	err := generateErr(t, func(in *Input) {
		in.Mounts = []mount.Mount{MountFor(mps[0], vol), MountFor(mps[0], host)}
	})
	if !strings.Contains(err.Error(), "Duplicate mount point: /v") {
		t.Errorf("duplicate: %v", err)
	}
}
