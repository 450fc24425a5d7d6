package snapshot

import (
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/mount"
)

func TestUpperDir(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mounts []mount.Mount
		want   Upper
		bad    bool
	}{
		{"overlay", []mount.Mount{{Type: "overlay", Source: "overlay", Options: []string{"upperdir=/s/1/fs", "workdir=/s/1/work", "lowerdir=/l/a:/l/b"}}},
			Upper{Dir: "/s/1/fs", Overlay: true}, false},
		{"bind", []mount.Mount{{Type: "bind", Source: "/s/2/fs", Options: []string{"rbind", "rw"}}}, Upper{Dir: "/s/2/fs"}, false},
		{"bind by option", []mount.Mount{{Type: "none", Source: "/s/3/fs", Options: []string{"bind"}}}, Upper{Dir: "/s/3/fs"}, false},
		{"read-only bind", []mount.Mount{{Type: "bind", Source: "/s/4/fs", Options: []string{"rbind", "ro"}}}, Upper{}, true},
		{"overlay view", []mount.Mount{{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=/l/a:/l/b", "ro"}}}, Upper{}, true},
		{"overlay without upper", []mount.Mount{{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=/l/a:/l/b"}}}, Upper{}, true},
		{"none", nil, Upper{}, true},
		{"two", []mount.Mount{{Type: "bind", Source: "/a"}, {Type: "bind", Source: "/b"}}, Upper{}, true},
		{"tmpfs", []mount.Mount{{Type: "tmpfs", Source: "tmpfs"}}, Upper{}, true},
	} {
		got, err := UpperDir(tc.mounts)
		if tc.bad {
			if !errdefs.IsInvalidParameter(err) {
				t.Errorf("%s: UpperDir = %+v, %v; want InvalidParameter", tc.name, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: UpperDir = %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
}
