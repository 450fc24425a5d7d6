package spec

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/moby/moby/api/types/mount"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestBinds(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	for _, tc := range []struct {
		name        string
		binds       []string
		mounts      []mount.Mount
		runtime     string
		want        specs.Mount
		propagation string
	}{
		{name: "rw", binds: []string{src + ":/data"},
			want: specs.Mount{Destination: "/data", Type: "bind", Source: src, Options: []string{"rbind", "rprivate"}}},
		{name: "ro", binds: []string{src + ":/data/:ro"},
			want: specs.Mount{Destination: "/data", Type: "bind", Source: src, Options: []string{"rbind", "rro", "rprivate"}}},
		{name: "ro on runc", binds: []string{src + ":/data:ro,Z"}, runtime: "runc",
			want: specs.Mount{Destination: "/data", Type: "bind", Source: src, Options: []string{"rbind", "ro", "rprivate"}}},
		{name: "shared", binds: []string{src + ":/data:rshared"}, propagation: "shared",
			want: specs.Mount{Destination: "/data", Type: "bind", Source: src, Options: []string{"rbind", "rshared"}}},
		{name: "slave", binds: []string{src + ":/data:slave,rw"}, propagation: "rslave",
			want: specs.Mount{Destination: "/data", Type: "bind", Source: src, Options: []string{"rbind", "slave"}}},
		{name: "mount bind", mounts: []mount.Mount{{Type: mount.TypeBind, Source: src, Target: "/m", ReadOnly: true, BindOptions: &mount.BindOptions{NonRecursive: true}}},
			want: specs.Mount{Destination: "/m", Type: "bind", Source: src, Options: []string{"bind", "ro", "rprivate"}}},
		{name: "mount bind ro non-recursive", mounts: []mount.Mount{{Type: mount.TypeBind, Source: src, Target: "/m", ReadOnly: true, BindOptions: &mount.BindOptions{ReadOnlyNonRecursive: true}}},
			want: specs.Mount{Destination: "/m", Type: "bind", Source: src, Options: []string{"rbind", "ro", "rprivate"}}},
		{name: "mount tmpfs", mounts: []mount.Mount{{Type: mount.TypeTmpfs, Target: "/t", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1 << 20, Mode: 0o1770}}},
			want: specs.Mount{Destination: "/t", Type: "tmpfs", Source: "tmpfs", Options: []string{"noexec", "nosuid", "nodev", "rprivate", "size=1048576", "mode=1770"}}},
		{name: "bind over /etc/hosts", binds: []string{src + ":/etc/hosts"},
			want: specs.Mount{Destination: "/etc/hosts", Type: "bind", Source: src, Options: []string{"rbind", "rprivate"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := generate(t, func(in *Input) {
				in.Host.Binds, in.Host.Mounts, in.Runtime = tc.binds, tc.mounts, tc.runtime
			})
			m := mountAt(s, tc.want.Destination)
			if m == nil || !reflect.DeepEqual(*m, tc.want) {
				t.Errorf("mount %+v, want %+v", m, tc.want)
			}
			n := 0
			for _, m := range s.Mounts {
				if m.Destination == tc.want.Destination {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%d mounts at %s", n, tc.want.Destination)
			}
			if s.Linux.RootfsPropagation != tc.propagation {
				t.Errorf("rootfs propagation %q, want %q", s.Linux.RootfsPropagation, tc.propagation)
			}
		})
	}
	file := filepath.Join(src, "f")
	os.WriteFile(file, nil, 0o644)
	runErrCases(t, []errCase{
		{name: "named volume", mutate: func(in *Input) { in.Host.Binds = []string{"myvol:/data"} }, class: errdefs.ErrNotImplemented, msg: `volume "myvol" at /data: volumes are resolved by the daemon`},
		{name: "anonymous volume", mutate: func(in *Input) { in.Host.Binds = []string{"/data"} }, class: errdefs.ErrNotImplemented, msg: "volumes are resolved by the daemon"},
		{name: "volume mount", mutate: func(in *Input) { in.Host.Mounts = []mount.Mount{{Type: mount.TypeVolume, Source: "v", Target: "/v"}} }, class: errdefs.ErrNotImplemented, msg: "volumes are resolved by the daemon"},
		{name: "missing source", mutate: func(in *Input) { in.Host.Binds = []string{"/no/such/dir:/data"} }, msg: "bind source path does not exist: /no/such/dir"},
		{name: "relative target", mutate: func(in *Input) { in.Host.Binds = []string{src + ":data"} }, msg: "invalid volume specification"},
		{name: "root target", mutate: func(in *Input) { in.Host.Binds = []string{src + ":/"} }, msg: "destination can't be '/'"},
		{name: "bad mode", mutate: func(in *Input) { in.Host.Binds = []string{src + ":/data:rx"} }, msg: "invalid mode: rx"},
		{name: "too many fields", mutate: func(in *Input) { in.Host.Binds = []string{src + ":/a:ro:x"} }, msg: "invalid volume specification"},
		{name: "duplicate", mutate: func(in *Input) {
			in.Host.Binds = []string{src + ":/data", file + ":/data/"}
		}, msg: "Duplicate mount point: /data"},
		{name: "duplicate with tmpfs", mutate: func(in *Input) {
			in.Host.Binds = []string{src + ":/run"}
			in.Host.Tmpfs = map[string]string{"/run": ""}
		}, msg: "Duplicate mount point: /run"},
		{name: "tmpfs mount with source", mutate: func(in *Input) { in.Host.Mounts = []mount.Mount{{Type: mount.TypeTmpfs, Source: "x", Target: "/t"}} }, msg: "Source must not be specified"},
		{name: "unknown type", mutate: func(in *Input) { in.Host.Mounts = []mount.Mount{{Type: "weird", Target: "/t"}} }, msg: "mount type unknown"},
	})
}
