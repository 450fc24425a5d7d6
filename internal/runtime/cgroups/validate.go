package cgroups

import (
	"errors"
	"fmt"
	"math"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/errdefs"
)

// validateResources runs every check on r before anything is written, so
// that a bad value never leaves a half-applied cgroup. Checks only look at
// values; whether the host can provide a controller is the managers' call.
func validateResources(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	checks := []func(*specs.LinuxResources) error{
		checkMemory,
		checkCPU,
		checkBlockIO,
		checkHugepages,
		checkNetwork,
		checkRdma,
		checkDevices,
		checkUnified,
	}
	var errs []error
	for _, c := range checks {
		if err := c(r); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("cgroup resources: %w", errors.Join(errs...))
	}
	return nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, errdefs.ErrInvalidParameter)...)
}

func checkMemory(r *specs.LinuxResources) error {
	m := r.Memory
	if m == nil {
		return nil
	}
	for name, v := range map[string]*int64{"limit": m.Limit, "reservation": m.Reservation, "swap": m.Swap} {
		if v != nil && *v < -1 {
			return invalid("memory %s %d: must be -1 (unlimited) or a byte count", name, *v)
		}
	}
	if m.Swappiness != nil && *m.Swappiness > 100 {
		return invalid("memory swappiness %d: must be 0 to 100", *m.Swappiness)
	}
	// swap is memory+swap, so it cannot be below the memory limit.
	if m.Swap != nil && *m.Swap > 0 && m.Limit != nil && *m.Limit > 0 && *m.Swap < *m.Limit {
		return invalid("memory swap %d (memory+swap) is below the memory limit %d", *m.Swap, *m.Limit)
	}
	if m.Swap != nil && *m.Swap > 0 && m.Limit != nil && *m.Limit == -1 {
		return invalid("memory swap %d with an unlimited memory limit", *m.Swap)
	}
	return nil
}

// isCPUList reports whether s is in the kernel's list format, "0-3,5,7-8",
// white space around it allowed. (Not a regexp: package regexp brings
// unicode's tables, which every start of the runtime binary, the
// container's init included, would build.)
func isCPUList(s string) bool {
	s = strings.Trim(s, " \t\n\f\r")
	if s == "" {
		return false
	}
	for item := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(item, "-")
		if !isDigits(lo) || (isRange && !isDigits(hi)) {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func checkCPU(r *specs.LinuxResources) error {
	c := r.CPU
	if c == nil {
		return nil
	}
	if c.Quota != nil && *c.Quota < -1 {
		return invalid("cpu quota %d: must be -1 (unlimited) or microseconds", *c.Quota)
	}
	if c.Idle != nil && *c.Idle != 0 && *c.Idle != 1 {
		return invalid("cpu idle %d: must be 0 or 1", *c.Idle)
	}
	if c.Cpus != "" && !isCPUList(c.Cpus) {
		return invalid("cpuset cpus %q: not a list such as 0-3,5", c.Cpus)
	}
	if c.Mems != "" && !isCPUList(c.Mems) {
		return invalid("cpuset mems %q: not a list such as 0-1", c.Mems)
	}
	return nil
}

func checkBlockIO(r *specs.LinuxResources) error {
	b := r.BlockIO
	if b == nil {
		return nil
	}
	checkWeight := func(what string, w *uint16) error {
		if w != nil && *w > 1000 {
			return invalid("blkio %s %d: must be 1 to 1000 (0 leaves it alone)", what, *w)
		}
		return nil
	}
	if err := checkWeight("weight", b.Weight); err != nil {
		return err
	}
	if err := checkWeight("leaf weight", b.LeafWeight); err != nil {
		return err
	}
	for _, d := range b.WeightDevice {
		if err := checkDev(d.Major, d.Minor); err != nil {
			return err
		}
		if err := checkWeight("device weight", d.Weight); err != nil {
			return err
		}
		if err := checkWeight("device leaf weight", d.LeafWeight); err != nil {
			return err
		}
	}
	for _, list := range [][]specs.LinuxThrottleDevice{b.ThrottleReadBpsDevice, b.ThrottleWriteBpsDevice, b.ThrottleReadIOPSDevice, b.ThrottleWriteIOPSDevice} {
		for _, d := range list {
			if err := checkDev(d.Major, d.Minor); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkDev(major, minor int64) error {
	if major < 0 || minor < 0 || major > math.MaxUint32 || minor > math.MaxUint32 {
		return invalid("device %d:%d: not a device number", major, minor)
	}
	return nil
}

// isPageSize reports whether s is in the runtime-spec's hugepage size
// format: 2MB, 1GB, 64KB (a number without leading zeros, a unit, "B").
func isPageSize(s string) bool {
	n := len(s)
	if n < 3 || s[0] == '0' || s[n-1] != 'B' || strings.IndexByte("KMGT", s[n-2]) < 0 {
		return false
	}
	return isDigits(s[:n-2])
}

func checkHugepages(r *specs.LinuxResources) error {
	for _, h := range r.HugepageLimits {
		if !isPageSize(h.Pagesize) {
			return invalid("hugepage size %q: want a size such as 2MB or 1GB", h.Pagesize)
		}
	}
	return nil
}

func checkNetwork(r *specs.LinuxResources) error {
	if r.Network == nil {
		return nil
	}
	for _, p := range r.Network.Priorities {
		if p.Name == "" || strings.ContainsAny(p.Name, " \t\n/") {
			return invalid("network priority interface %q: not an interface name", p.Name)
		}
	}
	return nil
}

func checkRdma(r *specs.LinuxResources) error {
	for dev := range r.Rdma {
		if dev == "" || strings.ContainsAny(dev, " \t\n") {
			return invalid("rdma device %q: not a device name", dev)
		}
	}
	return nil
}

func checkDevices(r *specs.LinuxResources) error {
	for _, d := range r.Devices {
		switch d.Type {
		case "", "a", "b", "c":
		default:
			return invalid("device rule type %q: want a, b or c", d.Type)
		}
		if strings.Trim(d.Access, "rwm") != "" {
			return invalid("device rule access %q: want letters of rwm", d.Access)
		}
		for _, n := range []*int64{d.Major, d.Minor} {
			// Linux device numbers have 12 (major) and 20 (minor) bits;
			// the eBPF filter compares them as 32-bit immediates.
			if n != nil && (*n < -1 || *n > math.MaxInt32) {
				return invalid("device rule number %d: not a device number", *n)
			}
		}
	}
	return nil
}

func checkUnified(r *specs.LinuxResources) error {
	for k, v := range r.Unified {
		// The key is a file name in the container's cgroup: it must not
		// reach another directory.
		if k == "" || k == "." || k == ".." || strings.ContainsAny(k, "/\x00") || !strings.Contains(k, ".") {
			return invalid("unified key %q: not a cgroup file name", k)
		}
		// These move, kill or stop processes rather than limit them; the
		// runtime does that through Apply, Kill and Freeze.
		switch k {
		case "cgroup.procs", "cgroup.threads", "cgroup.kill", "cgroup.freeze":
			return invalid("unified key %q: not a resource limit", k)
		}
		if strings.ContainsRune(v, 0) {
			return invalid("unified %s value %q: contains a NUL byte", k, v)
		}
	}
	return nil
}
