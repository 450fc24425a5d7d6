package spec

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// hostFacts is what Generate needs to know about the host. None of it
// changes while the daemon runs, so it is probed once per process.
type hostFacts struct {
	// cgroup2Only: /sys/fs/cgroup is a cgroup2 mount (no v1 hierarchies).
	cgroup2Only bool
	hostname    string
	// capabilities the daemon itself holds (effective set): "all" for a
	// privileged container, and the only ones --cap-add may name.
	currentCaps map[string]bool
	apparmor    bool
	seccomp     bool
	numCPU      int
	// cpus and mems are the online CPUs and memory nodes, as cpuset lists.
	cpus, mems string
	// thermalThrottle are the per-CPU thermal_throttle directories docker
	// masks (GHSA-6fw5-f8r9-fgfm).
	thermalThrottle []string
	// sysctls that exist on this kernel among those docker sets by default.
	pingGroupRange, unprivilegedPortStart bool
}

var probeHost = sync.OnceValue(func() hostFacts {
	f := hostFacts{numCPU: runtime.NumCPU()}
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err == nil {
		f.cgroup2Only = st.Type == unix.CGROUP2_SUPER_MAGIC
	}
	f.hostname, _ = os.Hostname()
	f.currentCaps = currentCapabilities()
	if b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled"); err == nil {
		f.apparmor = len(b) > 0 && b[0] == 'Y'
	}
	f.seccomp = seccompSupported()
	f.cpus = readTrimmed("/sys/devices/system/cpu/online", fmt.Sprintf("0-%d", f.numCPU-1))
	f.mems = readTrimmed("/sys/devices/system/node/online", "0")
	if cpus, err := parseCPUSet(f.cpus); err == nil {
		for _, c := range cpus {
			p := fmt.Sprintf("/sys/devices/system/cpu/cpu%d/thermal_throttle", c)
			if _, err := os.Stat(p); err == nil {
				f.thermalThrottle = append(f.thermalThrottle, p)
			}
		}
	}
	f.pingGroupRange = sysctlExists("net.ipv4.ping_group_range")
	f.unprivilegedPortStart = sysctlExists("net.ipv4.ip_unprivileged_port_start")
	return f
})

func readTrimmed(path, fallback string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return fallback
	}
	return string(bytes.TrimSpace(b))
}

func sysctlExists(name string) bool {
	_, err := os.Stat(filepath.Join("/proc/sys", strings.ReplaceAll(name, ".", "/")))
	return err == nil
}

// currentCapabilities reads the daemon's effective capability set. If it
// cannot, every known capability counts as available (the runtime or the
// kernel still refuses what is not), as docker does.
func currentCapabilities() map[string]bool {
	out := map[string]bool{}
	mask, err := statusMask("CapEff")
	for i, name := range knownCapabilities {
		if err != nil || mask&(1<<uint(i)) != 0 {
			out[name] = true
		}
	}
	return out
}

func statusMask(field string) (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if ok && k == field {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no %s in /proc/self/status", field)
}

// seccompSupported: the kernel was built with seccomp filters, which shows
// as a Seccomp line in /proc/self/status.
func seccompSupported() bool {
	_, err := statusMask("Seccomp")
	return err == nil
}
