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

// A relative cgroupsPath on a pure v2 host resolves beside the caller's
// cgroup, at its parent (as runc's v2 driver does), never inside it: the
// caller's cgroup holds the caller, and cgroup v2 lets no cgroup with
// processes hand controllers to a child. Booting pure v2 in scripts/vmtest.sh
// showed the old resolution failing: a runtime run from a service cgroup
// could set no limit on a container with the default (empty) path. On a
// hybrid host the unified directory keeps the caller's own cgroup.
func TestRelativePathOnUnifiedStartsBesideCaller(t *testing.T) {
	const mp = "/sys/fs/cgroup"
	for _, tc := range []struct {
		mode       Mode
		root, own  string // the mount's root and the caller's cgroup
		path, want string
	}{
		{Unified, "/", "/system.slice/x.service", "", "/sys/fs/cgroup/system.slice/ctr"},
		{Unified, "/", "/system.slice/x.service", "berth/c1", "/sys/fs/cgroup/system.slice/berth/c1"},
		{Unified, "/", "/system.slice/x.service", "/berth/c1", "/sys/fs/cgroup/berth/c1"},
		{Unified, "/", "/init.scope", "", "/sys/fs/cgroup/ctr"},
		{Unified, "/", "/", "", "/sys/fs/cgroup/ctr"},
		// Inside a cgroup namespace the mount's root is the namespace's:
		// never climb above the mountpoint.
		{Unified, "/ns", "/ns/svc", "", "/sys/fs/cgroup/ctr"},
		{Unified, "/ns", "/ns", "", "/sys/fs/cgroup/ctr"},
		{Unified, "/ns", "/elsewhere", "", "/sys/fs/cgroup/ctr"},
		{Hybrid, "/", "/system.slice/x.service", "", "/sys/fs/cgroup/system.slice/x.service/ctr"},
	} {
		l := &Layout{Mode: tc.mode, Unified: &UnifiedHierarchy{Mountpoint: mp, Root: tc.root, Path: tc.own}}
		m, err := New(l, Config{Path: tc.path, Name: "ctr"})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if got := m.Paths()[""]; got != tc.want {
			t.Errorf("%v host, caller in %s (mount root %s), path %q: cgroup %s, want %s", tc.mode, tc.own, tc.root, tc.path, got, tc.want)
		}
	}
}
