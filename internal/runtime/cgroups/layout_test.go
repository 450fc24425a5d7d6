package cgroups

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
)

// writeLayoutFixture writes fake mountinfo and cgroup files; "@" in
// mountinfo stands for a temporary directory under which the cgroup2 root's
// cgroup.controllers can be created.
func writeLayoutFixture(t *testing.T, mountinfo, cgroup, controllers string) (mi, cg, root string) {
	t.Helper()
	dir := t.TempDir()
	root = filepath.Join(dir, "fs")
	mi = filepath.Join(dir, "mountinfo")
	cg = filepath.Join(dir, "cgroup")
	if err := os.WriteFile(mi, []byte(strings.ReplaceAll(mountinfo, "@", root)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cg, []byte(cgroup), 0o644); err != nil {
		t.Fatal(err)
	}
	if controllers != "-" {
		for _, d := range []string{"sys/fs/cgroup", "sys/fs/cgroup/unified"} {
			if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, d, "cgroup.controllers"), []byte(controllers), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return mi, cg, root
}

func TestDetectLayout(t *testing.T) {
	tests := []struct {
		name        string
		mountinfo   string
		cgroup      string
		controllers string // the cgroup2 root's cgroup.controllers
		want        func(root string) *Layout
	}{
		{
			// The layout of the host this package was written on: every v1
			// controller on its own, cpu and cpuacct apart, a nested memory
			// cgroup, and hugetlb left to cgroup2.
			name: "hybrid, cpu and cpuacct apart",
			mountinfo: `22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / @/sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`,
			cgroup: `9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/781f05c2
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
`,
			controllers: "hugetlb\n",
			want: func(root string) *Layout {
				h := func(id int, c, mp, p string) Hierarchy {
					return Hierarchy{ID: id, Controllers: []string{c}, Mountpoint: "/sys/fs/cgroup/" + mp, Root: "/", Path: p}
				}
				return &Layout{
					Mode: Hybrid,
					V1: []Hierarchy{
						h(9, "name=systemd", "systemd", "/"),
						h(8, "pids", "pids", "/"),
						h(7, "blkio", "blkio", "/"),
						h(6, "freezer", "freezer", "/"),
						h(5, "devices", "devices", "/"),
						h(4, "memory", "memory", "/process_api/781f05c2"),
						h(3, "cpuset", "cpuset", "/"),
						h(2, "cpuacct", "cpuacct", "/"),
						h(1, "cpu", "cpu", "/"),
					},
					Unified: &UnifiedHierarchy{Mountpoint: root + "/sys/fs/cgroup/unified", Root: "/", Path: "/", Controllers: []string{"hugetlb"}},
				}
			},
		},
		{
			name: "classic v1, co-mounted cpu,cpuacct and net_cls,net_prio",
			mountinfo: `25 24 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct
30 25 0:27 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,net_cls,net_prio
31 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory
32 25 0:29 / /sys/fs/cgroup/hugetlb rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,hugetlb
`,
			cgroup: `12:hugetlb:/
11:memory:/user.slice
4:cpu,cpuacct:/user.slice
3:net_cls,net_prio:/
2:rdma:/
1:name=systemd:/user.slice/user-1000.slice/session-2.scope
`,
			controllers: "-",
			want: func(string) *Layout {
				return &Layout{
					Mode: Legacy,
					V1: []Hierarchy{
						{ID: 12, Controllers: []string{"hugetlb"}, Mountpoint: "/sys/fs/cgroup/hugetlb", Root: "/", Path: "/"},
						{ID: 11, Controllers: []string{"memory"}, Mountpoint: "/sys/fs/cgroup/memory", Root: "/", Path: "/user.slice"},
						{ID: 4, Controllers: []string{"cpu", "cpuacct"}, Mountpoint: "/sys/fs/cgroup/cpu,cpuacct", Root: "/", Path: "/user.slice"},
						{ID: 3, Controllers: []string{"net_cls", "net_prio"}, Mountpoint: "/sys/fs/cgroup/net_cls,net_prio", Root: "/", Path: "/"},
						// rdma is bound but not mounted in this namespace: absent.
						{ID: 1, Controllers: []string{"name=systemd"}, Mountpoint: "/sys/fs/cgroup/systemd", Root: "/", Path: "/user.slice/user-1000.slice/session-2.scope"},
					},
				}
			},
		},
		{
			name: "pure v2",
			mountinfo: `24 31 0:22 / @/sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`,
			cgroup:      "0::/user.slice/user-1000.slice/session-3.scope\n",
			controllers: "cpuset cpu io memory hugetlb pids rdma misc\n",
			want: func(root string) *Layout {
				return &Layout{
					Mode: Unified,
					Unified: &UnifiedHierarchy{
						Mountpoint:  root + "/sys/fs/cgroup",
						Root:        "/",
						Path:        "/user.slice/user-1000.slice/session-3.scope",
						Controllers: []string{"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"},
					},
				}
			},
		},
		{
			name: "systemd hybrid, empty unified",
			mountinfo: `25 24 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:23 / @/sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
30 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct
31 25 0:28 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,pids
`,
			cgroup: `5:pids:/system.slice/berthd.service
3:cpu,cpuacct:/system.slice/berthd.service
1:name=systemd:/system.slice/berthd.service
0::/system.slice/berthd.service
`,
			controllers: "",
			want: func(root string) *Layout {
				p := "/system.slice/berthd.service"
				return &Layout{
					Mode: Hybrid,
					V1: []Hierarchy{
						{ID: 5, Controllers: []string{"pids"}, Mountpoint: "/sys/fs/cgroup/pids", Root: "/", Path: p},
						{ID: 3, Controllers: []string{"cpu", "cpuacct"}, Mountpoint: "/sys/fs/cgroup/cpu,cpuacct", Root: "/", Path: p},
						{ID: 1, Controllers: []string{"name=systemd"}, Mountpoint: "/sys/fs/cgroup/systemd", Root: "/", Path: p},
					},
					Unified: &UnifiedHierarchy{Mountpoint: root + "/sys/fs/cgroup/unified", Root: "/", Path: p},
				}
			},
		},
		{
			// Inside a container without a cgroup namespace: the mounts show
			// the container's cgroup as their root, and a second bind mount of
			// a hierarchy elsewhere must not win over /sys/fs/cgroup.
			name: "bind-mounted sub-cgroups, escapes, duplicate mounts",
			mountinfo: `50 40 0:29 /docker/abc /mnt/other\040place rw - cgroup cgroup rw,memory
51 40 0:29 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
52 40 0:30 /docker/abc /sys/fs/cgroup/cpu\040x rw - cgroup cgroup rw,cpu
`,
			cgroup: `4:memory:/docker/abc
1:cpu:/docker/abc/sub
`,
			controllers: "-",
			want: func(string) *Layout {
				return &Layout{
					Mode: Legacy,
					V1: []Hierarchy{
						{ID: 4, Controllers: []string{"memory"}, Mountpoint: "/sys/fs/cgroup/memory", Root: "/docker/abc", Path: "/docker/abc"},
						{ID: 1, Controllers: []string{"cpu"}, Mountpoint: "/sys/fs/cgroup/cpu x", Root: "/docker/abc", Path: "/docker/abc/sub"},
					},
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mi, cg, root := writeLayoutFixture(t, tc.mountinfo, tc.cgroup, tc.controllers)
			got, err := detectLayout(mi, cg)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want(root)
			want.HugePageSizes = got.HugePageSizes // the host's, not the fixture's
			if !reflect.DeepEqual(got, want) {
				t.Errorf("layout:\n got %+v\nwant %+v", dump(got), dump(want))
			}
		})
	}
}

func dump(l *Layout) string {
	var b strings.Builder
	b.WriteString(l.Mode.String())
	for _, h := range l.V1 {
		b.WriteString("\n  v1 ")
		b.WriteString(strings.Join(h.Controllers, ",") + " " + h.Mountpoint + " root=" + h.Root + " path=" + h.Path)
	}
	if u := l.Unified; u != nil {
		b.WriteString("\n  v2 " + u.Mountpoint + " root=" + u.Root + " path=" + u.Path + " [" + strings.Join(u.Controllers, " ") + "]")
	}
	return b.String()
}

func TestOwnDir(t *testing.T) {
	for _, tc := range []struct{ mp, root, p, want string }{
		{"/sys/fs/cgroup/memory", "/", "/process_api/x", "/sys/fs/cgroup/memory/process_api/x"},
		{"/sys/fs/cgroup/memory", "/docker/abc", "/docker/abc", "/sys/fs/cgroup/memory"},
		{"/sys/fs/cgroup/cpu", "/docker/abc", "/docker/abc/sub", "/sys/fs/cgroup/cpu/sub"},
		{"/sys/fs/cgroup/cpu", "/docker/abc", "/elsewhere", "/sys/fs/cgroup/cpu"},
		{"/sys/fs/cgroup/cpu", "/docker/abc", "/docker/abcdef", "/sys/fs/cgroup/cpu"},
	} {
		if got := ownDir(tc.mp, tc.root, tc.p); got != tc.want {
			t.Errorf("ownDir(%q, %q, %q) = %q, want %q", tc.mp, tc.root, tc.p, got, tc.want)
		}
	}
}

func TestDetectLayoutErrors(t *testing.T) {
	mi, cg, _ := writeLayoutFixture(t, "1 0 0:1 / / rw - ext4 /dev/vda rw\n", "garbage\n", "-")
	if _, err := detectLayout(mi, cg); !errdefs.IsInvalidParameter(err) {
		t.Errorf("malformed /proc/self/cgroup: got %v, want InvalidParameter", err)
	}
	mi, cg, _ = writeLayoutFixture(t, "1 0 0:1 / / rw - ext4 /dev/vda rw\n", "0::/\n", "-")
	if _, err := detectLayout(mi, cg); !errdefs.IsNotImplemented(err) {
		t.Errorf("no cgroup mounts: got %v, want NotImplemented", err)
	}
}

func TestHugePageSizes(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"hugepages-2048kB", "hugepages-1048576kB", "hugepages-64kB", "junk"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	got := hugePageSizes(dir)
	want := []string{"1GB", "2MB", "64KB"} // ReadDir order: sorted by name
	if !reflect.DeepEqual(got, want) {
		t.Errorf("hugePageSizes = %v, want %v", got, want)
	}
}

func TestDetectLayoutThisHost(t *testing.T) {
	l, err := DetectLayout()
	if err != nil {
		t.Fatalf("DetectLayout: %v", err)
	}
	t.Logf("this host: %s\n  hugepage sizes %v", dump(l), l.HugePageSizes)
	again, _ := DetectLayout()
	if again != l {
		t.Error("DetectLayout did not cache its result")
	}
	for _, h := range l.V1 {
		if _, err := os.Stat(h.OwnDir()); err != nil {
			t.Errorf("v1 %v: own cgroup dir: %v", h.Controllers, err)
		}
	}
	if l.Unified != nil {
		if _, err := os.Stat(filepath.Join(l.Unified.OwnDir(), "cgroup.procs")); err != nil {
			t.Errorf("unified own cgroup: %v", err)
		}
	}
}
