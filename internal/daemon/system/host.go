package system

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// hostInfo is what docker info says about the machine.
type hostInfo struct {
	kernel    string // uname release
	machine   string // uname machine: x86_64, aarch64
	osName    string // PRETTY_NAME of os-release
	osVersion string // VERSION_ID
	ncpu      int
	memTotal  int64
	cgroups   cgroupFeatures
}

func readHost() hostInfo {
	h := hostInfo{ncpu: runtime.NumCPU(), machine: runtime.GOARCH}
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		h.kernel = unix.ByteSliceToString(u.Release[:])
		h.machine = unix.ByteSliceToString(u.Machine[:])
	}
	h.osName, h.osVersion = osRelease("/etc/os-release", "/usr/lib/os-release")
	h.memTotal = memTotal("/proc/meminfo")
	h.cgroups = detectCgroups("/sys/fs/cgroup")
	return h
}

// osRelease reads PRETTY_NAME and VERSION_ID from the first os-release
// file that exists, as docker does ("<unknown>" without one).
func osRelease(paths ...string) (name, version string) {
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		vals := map[string]string{}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
			if !ok || strings.HasPrefix(k, "#") {
				continue
			}
			if uq, err := strconv.Unquote(v); err == nil {
				v = uq
			} else {
				v = strings.Trim(v, `'"`)
			}
			vals[k] = v
		}
		name = vals["PRETTY_NAME"]
		if name == "" {
			name = strings.TrimSpace(vals["NAME"] + " " + vals["VERSION"])
		}
		if name == "" {
			name = "Linux"
		}
		return name, vals["VERSION_ID"]
	}
	return "<unknown>", ""
}

// memTotal is /proc/meminfo's MemTotal in bytes.
func memTotal(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}

// cgroupFeatures are the resource controls the host's cgroups offer, as
// docker info reports them.
type cgroupFeatures struct {
	version                             string // "1" or "2"
	memory, swap, oomKillDisable        bool
	cfsPeriod, cfsQuota, shares, cpuset bool
	pids                                bool
}

// detectCgroups looks at the cgroup mount: a cgroup2 filesystem there is
// the unified layout ("2"); anything else (a tmpfs of v1 hierarchies,
// with or without a cgroup2 mount beside them: the hybrid layout) is
// "1", whose controllers live in their own hierarchies.
func detectCgroups(root string) cgroupFeatures {
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return detectV2(root)
	}
	exists := func(p ...string) bool {
		_, err := os.Stat(filepath.Join(append([]string{root}, p...)...))
		return err == nil
	}
	return cgroupFeatures{
		version:        "1",
		memory:         exists("memory", "memory.limit_in_bytes"),
		swap:           exists("memory", "memory.memsw.limit_in_bytes"),
		oomKillDisable: exists("memory", "memory.oom_control"),
		cfsPeriod:      exists("cpu", "cpu.cfs_period_us"),
		cfsQuota:       exists("cpu", "cpu.cfs_quota_us"),
		shares:         exists("cpu", "cpu.shares"),
		cpuset:         exists("cpuset", "cpuset.cpus"),
		// The root of the pids hierarchy has no pids.max: the
		// hierarchy being there is what counts.
		pids: exists("pids", "cgroup.procs"),
	}
}

// detectV2 reads the controllers the root offers; swap limits need
// memory.swap.max, which only non-root cgroups have, so the daemon's own
// cgroup is asked.
func detectV2(root string) cgroupFeatures {
	f := cgroupFeatures{version: "2"}
	b, err := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
	if err != nil {
		return f
	}
	for _, c := range strings.Fields(string(b)) {
		switch c {
		case "memory":
			f.memory = true
		case "cpu":
			f.cfsPeriod, f.cfsQuota, f.shares = true, true, true
		case "cpuset":
			f.cpuset = true
		case "pids":
			f.pids = true
		}
	}
	if f.memory {
		f.swap = true
		if own := ownCgroupV2(); own != "" && own != "/" {
			_, err := os.Stat(filepath.Join(root, own, "memory.swap.max"))
			f.swap = err == nil
		}
	}
	return f
}

// ownCgroupV2 is the "0::" path of /proc/self/cgroup.
func ownCgroupV2() string {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			return p
		}
	}
	return ""
}

// backingFilesystem names the filesystem under dir as docker's overlay2
// driver status does.
func backingFilesystem(dir string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "<unknown>"
	}
	switch st.Type {
	case unix.EXT4_SUPER_MAGIC:
		return "extfs"
	case unix.XFS_SUPER_MAGIC:
		return "xfs"
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlayfs"
	case 0x2fc12fc1: // ZFS_SUPER_MAGIC, not in x/sys
		return "zfs"
	case unix.NFS_SUPER_MAGIC:
		return "nfs"
	case unix.F2FS_SUPER_MAGIC:
		return "f2fs"
	}
	return "0x" + strconv.FormatInt(int64(st.Type), 16)
}

// ipv4Forwarding reads net.ipv4.ip_forward.
func ipv4Forwarding() bool {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	return err == nil && strings.TrimSpace(string(b)) == "1"
}

// openFiles counts the daemon's open file descriptors (docker info NFd).
func openFiles() int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(entries)
}
