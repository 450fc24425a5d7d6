package cgroups

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

var errnoENOENT = unix.ENOENT

// A fake cgroupfs: plain directories and files in t.TempDir() holding what
// a kernel would show. Managers write through a recorder, which writes
// only to files that exist (as cgroupfs, which never creates files) and
// keeps the sequence of writes, since the kernel keeps several lines of
// some files (devices.allow, io.max) where the fake keeps the last.

type recorder struct {
	root   string
	mu     sync.Mutex
	writes []string         // "rel/path=value", in order
	fail   map[string]error // rel/path → error to return instead of writing
}

func newRecorder(root string) *recorder { return &recorder{root: root, fail: map[string]error{}} }

func (r *recorder) write(p, v string) error {
	rel, _ := filepath.Rel(r.root, p)
	r.mu.Lock()
	r.writes = append(r.writes, rel+"="+v)
	err := r.fail[rel]
	r.mu.Unlock()
	if err != nil {
		return err
	}
	return writeFile(p, v)
}

// to returns the writes to one file (relative path), in order.
func (r *recorder) to(rel string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, w := range r.writes {
		if f, v, _ := strings.Cut(w, "="); f == rel {
			out = append(out, v)
		}
	}
	return out
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.writes = nil
	r.mu.Unlock()
}

// mkfiles creates dir and its files with their contents.
func mkfiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// cat reads a fake file, trimmed.
func cat(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// expectFiles checks the contents of files under dir.
func expectFiles(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	for _, name := range sortedKeys(want) {
		if got := cat(t, filepath.Join(dir, name)); got != want[name] {
			t.Errorf("%s = %q, want %q", name, got, want[name])
		}
	}
}

func expectWrites(t *testing.T, rec *recorder, rel string, want ...string) {
	t.Helper()
	if got := rec.to(rel); !slices.Equal(got, want) {
		t.Errorf("writes to %s = %q, want %q", rel, got, want)
	}
}

// useRecorder points every part of a manager at rec.
func useRecorder(m Manager, rec *recorder) {
	switch m := m.(type) {
	case *v1Manager:
		m.write = rec.write
	case *v2Manager:
		m.write = rec.write
	case *hybridManager:
		m.v1.write = rec.write
		m.v2.write = rec.write
	}
}

const v1Max = "9223372036854771712"

// v1Files are the files a v1 kernel shows in a new cgroup, per controller.
var v1Files = map[string]map[string]string{
	"memory": {
		"memory.limit_in_bytes": v1Max, "memory.memsw.limit_in_bytes": v1Max,
		"memory.soft_limit_in_bytes": v1Max, "memory.swappiness": "60",
		"memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n", "memory.use_hierarchy": "1",
		"memory.usage_in_bytes": "4096000", "memory.memsw.usage_in_bytes": "4196000",
		"memory.max_usage_in_bytes": "8192000", "memory.failcnt": "3",
		"memory.stat":                "cache 1000\nrss 2000\ntotal_inactive_file 300\n",
		"memory.kmem.limit_in_bytes": v1Max,
	},
	"cpu": {
		"cpu.shares": "1024", "cpu.cfs_quota_us": "-1", "cpu.cfs_period_us": "100000",
		"cpu.cfs_burst_us": "0", "cpu.rt_period_us": "1000000", "cpu.rt_runtime_us": "0", "cpu.idle": "0",
		"cpu.stat": "nr_periods 10\nnr_throttled 4\nthrottled_time 5000\nnr_bursts 0\n",
	},
	"cpuacct": {
		"cpuacct.usage_all": "cpu user system\n0 100 10\n1 200 20\n",
	},
	"cpuset": {"cpuset.cpus": "", "cpuset.mems": ""},
	"pids":   {"pids.max": "max", "pids.current": "3"},
	"blkio": {
		// BFQ only, as on kernels since 5.0: no blkio.weight.
		"blkio.bfq.weight": "100", "blkio.bfq.weight_device": "",
		"blkio.throttle.read_bps_device": "", "blkio.throttle.write_bps_device": "",
		"blkio.throttle.read_iops_device": "", "blkio.throttle.write_iops_device": "",
		"blkio.throttle.io_service_bytes_recursive": "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Discard 0\n8:0 Total 12288\n253:1 Read 1\n253:1 Write 2\nTotal 12291\n",
		"blkio.throttle.io_serviced_recursive":      "8:0 Read 1\n8:0 Write 2\n8:0 Total 3\nTotal 3\n",
	},
	"hugetlb": {
		"hugetlb.2MB.limit_in_bytes": v1Max, "hugetlb.2MB.rsvd.limit_in_bytes": v1Max,
		"hugetlb.2MB.usage_in_bytes": "2097152", "hugetlb.2MB.max_usage_in_bytes": "4194304", "hugetlb.2MB.failcnt": "1",
		// 1GB without reservation files, as before Linux 5.7.
		"hugetlb.1GB.limit_in_bytes": v1Max, "hugetlb.1GB.usage_in_bytes": "0",
		"hugetlb.1GB.max_usage_in_bytes": "0", "hugetlb.1GB.failcnt": "0",
	},
	"net_cls":      {"net_cls.classid": "0"},
	"net_prio":     {"net_prio.ifpriomap": ""},
	"rdma":         {"rdma.max": ""},
	"devices":      {"devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm"},
	"freezer":      {"freezer.state": "THAWED"},
	"name=systemd": {},
}

// fakeV1 builds a v1 host under a temp dir: one hierarchy per entry of
// mounts (co-mounted controllers joined by commas), the process in
// ownPath of every hierarchy. It returns the layout and the fake root.
func fakeV1(t *testing.T, ownPath string, mounts ...string) (*Layout, string) {
	t.Helper()
	root := t.TempDir()
	l := &Layout{Mode: Legacy, HugePageSizes: []string{"2MB", "1GB"}}
	for i, m := range mounts {
		mp := filepath.Join(root, strings.TrimPrefix(m, "name="))
		files := map[string]string{"cgroup.procs": ""}
		for _, c := range strings.Split(m, ",") {
			for k, v := range v1Files[c] {
				files[k] = v
			}
		}
		if m == "cpuset" {
			files["cpuset.cpus"], files["cpuset.mems"] = "0-3", "0"
		}
		mkfiles(t, mp, files)
		l.V1 = append(l.V1, Hierarchy{ID: i + 1, Controllers: strings.Split(m, ","), Mountpoint: mp, Root: "/", Path: ownPath})
	}
	return l, root
}

// fakeV1Cgroup creates a container cgroup in every hierarchy of l with the
// files a kernel would show.
func fakeV1Cgroup(t *testing.T, l *Layout, dirOf func(h *Hierarchy) string) {
	t.Helper()
	for i := range l.V1 {
		h := &l.V1[i]
		files := map[string]string{"cgroup.procs": ""}
		for _, c := range h.Controllers {
			for k, v := range v1Files[c] {
				files[k] = v
			}
		}
		mkfiles(t, dirOf(h), files)
	}
}

// v2Files are the files of a v2 cgroup with every controller enabled.
var v2Files = map[string]string{
	"cgroup.procs": "", "cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc",
	"cgroup.subtree_control": "", "cgroup.freeze": "0", "cgroup.kill": "", "cgroup.max.depth": "max",
	"cgroup.events": "populated 1\nfrozen 0\n",
	"memory.max":    "max", "memory.low": "0", "memory.high": "max", "memory.swap.max": "max",
	"memory.current": "4096000", "memory.peak": "8192000", "memory.swap.current": "100",
	"memory.events": "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n",
	"memory.stat":   "anon 2000\nfile 1000\ninactive_file 300\n",
	"cpu.weight":    "100", "cpu.max": "max 100000", "cpu.max.burst": "0", "cpu.idle": "0",
	"cpu.stat":    "usage_usec 330\nuser_usec 300\nsystem_usec 30\nnr_periods 10\nnr_throttled 4\nthrottled_usec 5\n",
	"cpuset.cpus": "", "cpuset.mems": "",
	"pids.max": "max", "pids.current": "3",
	"io.weight": "default 100", "io.max": "",
	"io.stat":         "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n253:1 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=5 dios=6\n",
	"hugetlb.2MB.max": "max", "hugetlb.2MB.rsvd.max": "max", "hugetlb.2MB.current": "2097152",
	"hugetlb.2MB.events": "max 1\n",
	"hugetlb.1GB.max":    "max", "hugetlb.1GB.current": "0", "hugetlb.1GB.events": "max 0\n",
	"rdma.max": "",
}
