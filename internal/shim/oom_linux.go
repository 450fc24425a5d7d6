package shim

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// oomCounter reads how many processes the OOM killer killed in the
// container's memory cgroup: memory.oom_control's oom_kill on cgroup v1,
// memory.events' oom_kill on v2. The runtime is not asked: it has no
// daemon watching events, and the counter holds the answer.
type oomCounter struct {
	file string // "" when the host has no memory controller for the container
	base uint64 // the count when the container was created
}

// newOOMCounter finds the memory cgroup of pid (the container's init,
// just created) from the shim's view of the hierarchy.
func newOOMCounter(pid int) *oomCounter {
	o := &oomCounter{}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return o
	}
	var v1, v2 string
	haveV2 := false
	for line := range strings.SplitSeq(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2, haveV2 = parts[2], true
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "memory" {
				v1 = parts[2]
			}
		}
	}
	switch {
	case v1 != "":
		o.file = cgroupFile("cgroup", "memory", []string{"/sys/fs/cgroup/memory"}, v1, "memory.oom_control")
	case haveV2:
		o.file = cgroupFile("cgroup2", "", []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}, v2, "memory.events")
	}
	o.base, _ = o.count()
	return o
}

// cgroupFile is the path of file in the cgroup path of a hierarchy: where
// the hierarchy is usually mounted (one of usual) if the file is there on
// a cgroup file system, else where mountinfo says. The usual place spares
// reading mountinfo, which on a host with a thousand containers holds
// thousands of lines: time, and garbage an idle shim would keep.
func cgroupFile(fstype, opt string, usual []string, path, file string) string {
	magic := int64(unix.CGROUP_SUPER_MAGIC)
	if fstype == "cgroup2" {
		magic = unix.CGROUP2_SUPER_MAGIC
	}
	for _, mnt := range usual {
		var st unix.Statfs_t
		if unix.Statfs(mnt, &st) != nil || st.Type != magic {
			continue
		}
		p := filepath.Join(mnt, path, file)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if mnt := cgroupMount(fstype, opt); mnt != "" {
		return filepath.Join(mnt, path, file)
	}
	return ""
}

// count reads the oom_kill counter.
func (o *oomCounter) count() (uint64, bool) {
	if o.file == "" {
		return 0, false
	}
	data, err := os.ReadFile(o.file)
	if err != nil {
		return 0, false
	}
	for line := range bytes.SplitSeq(data, []byte{'\n'}) {
		if v, ok := bytes.CutPrefix(line, []byte("oom_kill ")); ok {
			n, err := strconv.ParseUint(string(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// killed reports whether the OOM killer struck since the container was
// created.
func (o *oomCounter) killed() bool {
	n, ok := o.count()
	return ok && n > o.base
}

// cgroupMount finds where a cgroup hierarchy is mounted: the v1 one with
// controller opt, or the cgroup2 one.
func cgroupMount(fstype, opt string) string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent maj:min root mountpoint opts... - fstype source superopts
		line := sc.Text()
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if len(fields) < 5 || len(tail) < 3 || tail[0] != fstype || fields[3] != "/" {
			continue
		}
		if opt == "" {
			return fields[4]
		}
		for _, o := range strings.Split(tail[2], ",") {
			if o == opt {
				return fields[4]
			}
		}
	}
	return ""
}
