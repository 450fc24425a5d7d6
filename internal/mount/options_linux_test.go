package mount

import (
	"reflect"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/linux"
)

func TestParseOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []string
		want options
	}{
		{"empty", nil, options{}},
		{"ro bind", []string{"rbind", "ro"}, options{flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY}},
		{"last of ro and rw wins", []string{"ro", "nosuid", "rw"}, options{flags: unix.MS_NOSUID}},
		{"data keeps its order", []string{"lowerdir=/a:/b", "ro", "upperdir=/u", "workdir=/w", "index=off"},
			options{flags: unix.MS_RDONLY, data: []string{"lowerdir=/a:/b", "upperdir=/u", "workdir=/w", "index=off"}}},
		{"propagation in order", []string{"rprivate", "bind", "slave"},
			options{flags: unix.MS_BIND, propagation: []uintptr{unix.MS_PRIVATE | unix.MS_REC, unix.MS_SLAVE}}},
		{"defaults is nothing", []string{"defaults", "size=64m"}, options{data: []string{"size=64m"}}},
		{"unknown words are data", []string{"userxattr", "volatile"}, options{data: []string{"userxattr", "volatile"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseOptions(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parseOptions(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestSplitLowerdir(t *testing.T) {
	for _, tc := range []struct {
		in          string
		lower, data []string
	}{
		{"/a", []string{"/a"}, nil},
		{"/a:/b:/c", []string{"/a", "/b", "/c"}, nil},
		{`/a\:b:/c`, []string{"/a:b", "/c"}, nil},
		{"/a:/b::/d1:/d2", []string{"/a", "/b"}, []string{"/d1", "/d2"}},
	} {
		lower, data := splitLowerdir(tc.in)
		if !reflect.DeepEqual(lower, tc.lower) || !reflect.DeepEqual(data, tc.data) {
			t.Errorf("splitLowerdir(%q) = %q, %q; want %q, %q", tc.in, lower, data, tc.lower, tc.data)
		}
	}
}

func TestMountAttr(t *testing.T) {
	got := mountAttr(unix.MS_RDONLY | unix.MS_NOEXEC | unix.MS_NOATIME | unix.MS_BIND)
	want := uint64(unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOEXEC | unix.MOUNT_ATTR_NOATIME)
	if got != want {
		t.Errorf("mountAttr = %s, want %s", linux.MountAttrNames(got), linux.MountAttrNames(want))
	}
}

func TestReadOnly(t *testing.T) {
	for _, tc := range []struct {
		opts []string
		want bool
	}{
		{nil, false},
		{[]string{"rbind", "ro"}, true},
		{[]string{"ro", "rw"}, false},
		{[]string{"lowerdir=/a:/b", "ro"}, true},
	} {
		if got := (Mount{Options: tc.opts}).ReadOnly(); got != tc.want {
			t.Errorf("ReadOnly(%q) = %v, want %v", tc.opts, got, tc.want)
		}
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	if got, want := unescapeMountinfo(`/tmp/a\040b\134c`), `/tmp/a b\c`; got != want {
		t.Errorf("unescapeMountinfo = %q, want %q", got, want)
	}
}
