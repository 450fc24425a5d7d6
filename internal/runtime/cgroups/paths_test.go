package cgroups

import (
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
)

func TestParseCgroupsPath(t *testing.T) {
	const mp, own = "/sys/fs/cgroup/memory", "/sys/fs/cgroup/memory/process_api/x"
	tests := []struct {
		path, name string
		want       string // resolved directory, or "" for an error
		class      func(error) bool
	}{
		{"/berth/abc", "", "/sys/fs/cgroup/memory/berth/abc", nil},
		{"berth/abc", "", "/sys/fs/cgroup/memory/process_api/x/berth/abc", nil},
		{"", "abc", "/sys/fs/cgroup/memory/process_api/x/abc", nil},
		{"/a/./b//c/", "", "/sys/fs/cgroup/memory/a/b/c", nil},
		{"/a/b/../c", "", "/sys/fs/cgroup/memory/a/c", nil},
		{"a/../b", "", "/sys/fs/cgroup/memory/process_api/x/b", nil},
		{"/../etc", "", "", errdefs.IsInvalidParameter},
		{"/a/../../etc", "", "", errdefs.IsInvalidParameter},
		{"../sibling", "", "", errdefs.IsInvalidParameter},
		{"", "../x", "", errdefs.IsInvalidParameter},
		{"/", "", "", errdefs.IsInvalidParameter},
		{".", "", "", errdefs.IsInvalidParameter},
		{"a/..", "", "", errdefs.IsInvalidParameter},
		{"", "", "", errdefs.IsInvalidParameter},
		{"a\x00b", "", "", errdefs.IsInvalidParameter},
		{"system.slice:berth:abc", "", "", errdefs.IsNotImplemented},
		{":berth:abc", "", "", errdefs.IsNotImplemented},
	}
	for _, tc := range tests {
		cp, err := parseCgroupsPath(tc.path, tc.name)
		if tc.class != nil {
			if !tc.class(err) {
				t.Errorf("parseCgroupsPath(%q, %q): error %v, want another class", tc.path, tc.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseCgroupsPath(%q, %q): %v", tc.path, tc.name, err)
			continue
		}
		if got := cp.dir(mp, own); got != tc.want {
			t.Errorf("parseCgroupsPath(%q, %q) resolves to %q, want %q", tc.path, tc.name, got, tc.want)
		}
	}
}

func TestCheckLoadedDir(t *testing.T) {
	const mp = "/sys/fs/cgroup/memory"
	for _, tc := range []struct {
		dir string
		ok  bool
	}{
		{"/sys/fs/cgroup/memory/berth/abc", true},
		{"/sys/fs/cgroup/memory", false},
		{"/sys/fs/cgroup/memoryx/abc", false},
		{"/sys/fs/cgroup/memory/../cpu/abc", false},
		{"relative/abc", false},
		{"/etc", false},
	} {
		err := checkLoadedDir("memory", tc.dir, mp)
		if (err == nil) != tc.ok {
			t.Errorf("checkLoadedDir(%q) = %v, want ok=%v", tc.dir, err, tc.ok)
		}
		if err != nil && !errdefs.IsInvalidParameter(err) {
			t.Errorf("checkLoadedDir(%q): class of %v", tc.dir, err)
		}
	}
}
