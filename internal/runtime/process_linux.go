package runtime

import (
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

var rlimitResources = table[string, int]{
	{"RLIMIT_AS", unix.RLIMIT_AS},
	{"RLIMIT_CORE", unix.RLIMIT_CORE},
	{"RLIMIT_CPU", unix.RLIMIT_CPU},
	{"RLIMIT_DATA", unix.RLIMIT_DATA},
	{"RLIMIT_FSIZE", unix.RLIMIT_FSIZE},
	{"RLIMIT_LOCKS", unix.RLIMIT_LOCKS},
	{"RLIMIT_MEMLOCK", unix.RLIMIT_MEMLOCK},
	{"RLIMIT_MSGQUEUE", unix.RLIMIT_MSGQUEUE},
	{"RLIMIT_NICE", unix.RLIMIT_NICE},
	{"RLIMIT_NOFILE", unix.RLIMIT_NOFILE},
	{"RLIMIT_NPROC", unix.RLIMIT_NPROC},
	{"RLIMIT_RSS", unix.RLIMIT_RSS},
	{"RLIMIT_RTPRIO", unix.RLIMIT_RTPRIO},
	{"RLIMIT_RTTIME", unix.RLIMIT_RTTIME},
	{"RLIMIT_SIGPENDING", unix.RLIMIT_SIGPENDING},
	{"RLIMIT_STACK", unix.RLIMIT_STACK},
}

var ioPrioClasses = table[specs.IOPriorityClass, int]{
	{specs.IOPRIO_CLASS_RT, 1},
	{specs.IOPRIO_CLASS_BE, 2},
	{specs.IOPRIO_CLASS_IDLE, 3},
}

var schedPolicies = table[specs.LinuxSchedulerPolicy, uint32]{
	{specs.SchedOther, 0},
	{specs.SchedFIFO, 1},
	{specs.SchedRR, 2},
	{specs.SchedBatch, 3},
	{specs.SchedISO, 4},
	{specs.SchedIdle, 5},
	{specs.SchedDeadline, 6},
}

var schedFlags = table[specs.LinuxSchedulerFlag, uint64]{
	{specs.SchedFlagResetOnFork, 0x01},
	{specs.SchedFlagReclaim, 0x02},
	{specs.SchedFlagDLOverrun, 0x04},
	{specs.SchedFlagKeepPolicy, 0x08},
	{specs.SchedFlagKeepParams, 0x10},
	{specs.SchedFlagUtilClampMin, 0x20},
	{specs.SchedFlagUtilClampMax, 0x40},
}

// parseCPUList parses a cpuset list such as "0-3,7".
func parseCPUList(s string) (*unix.CPUSet, error) {
	var set unix.CPUSet
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("bad cpu %q", part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("bad cpu range %q", part)
			}
		}
		if b >= 1024 {
			return nil, fmt.Errorf("cpu %d out of range", b)
		}
		for c := a; c <= b; c++ {
			set.Set(c)
		}
	}
	return &set, nil
}
