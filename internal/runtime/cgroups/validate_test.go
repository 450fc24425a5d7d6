package cgroups

import (
	"regexp"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/errdefs"
)

func TestValidateResources(t *testing.T) {
	bad := []*specs.LinuxResources{
		{Memory: &specs.LinuxMemory{Limit: i64(-2)}},
		{Memory: &specs.LinuxMemory{Limit: i64(100), Swap: i64(50)}},
		{Memory: &specs.LinuxMemory{Swappiness: u64(101)}},
		{CPU: &specs.LinuxCPU{Quota: i64(-5)}},
		{CPU: &specs.LinuxCPU{Idle: i64(2)}},
		{CPU: &specs.LinuxCPU{Cpus: "0-3;rm -rf"}},
		{CPU: &specs.LinuxCPU{Mems: "a"}},
		{BlockIO: &specs.LinuxBlockIO{Weight: u16(1001)}},
		{BlockIO: &specs.LinuxBlockIO{ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: -1}}}}},
		{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2M"}}},
		{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "../2MB"}}},
		{Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "eth0 1"}}}},
		{Rdma: map[string]specs.LinuxRdma{"": {}}},
		{Devices: []specs.LinuxDeviceCgroup{{Type: "x"}}},
		{Devices: []specs.LinuxDeviceCgroup{{Type: "c", Access: "rwx"}}},
		{Devices: []specs.LinuxDeviceCgroup{{Type: "c", Major: devn(1 << 40)}}},
		{Unified: map[string]string{"../memory.max": "1"}},
		{Unified: map[string]string{"memory.max/x": "1"}},
		{Unified: map[string]string{"..": "1"}},
		{Unified: map[string]string{"nodot": "1"}},
		{Unified: map[string]string{"cgroup.procs": "1"}},
		{Unified: map[string]string{"cgroup.kill": "1"}},
	}
	for i, r := range bad {
		if err := validateResources(r); !errdefs.IsInvalidParameter(err) {
			t.Errorf("case %d: validateResources = %v, want InvalidParameter", i, err)
		}
	}
	good := &specs.LinuxResources{
		Memory:         &specs.LinuxMemory{Limit: i64(100), Swap: i64(-1), Swappiness: u64(60)},
		CPU:            &specs.LinuxCPU{Cpus: "0-1,3", Mems: "0", Quota: i64(-1), Idle: i64(0)},
		BlockIO:        &specs.LinuxBlockIO{Weight: u16(500)},
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 21}},
		Devices:        []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, {Allow: true, Type: "c", Major: devn(1), Minor: devn(-1), Access: "rw"}},
		Unified:        map[string]string{"memory.high": "100", "cgroup.max.depth": "3"},
	}
	if err := validateResources(good); err != nil {
		t.Errorf("validateResources(good) = %v", err)
	}
}

// The list and page-size checks against the regular expressions they
// replaced (not used at run time: see isCPUList).
func TestListAndPageSizeFormats(t *testing.T) {
	cpuList := regexp.MustCompile(`^\s*([0-9]+(-[0-9]+)?)(,[0-9]+(-[0-9]+)?)*\s*$`)
	pageSize := regexp.MustCompile(`^[1-9][0-9]*[KMGT]B$`)
	inputs := []string{
		"", " ", "0", "7", "0-3", "0-3,5", "0-3,5,7-8", " 1,2 ", "\t1\n", "1,", ",1", "1,,2", "1-", "-1",
		"1-2-3", "a", "1 ,2", "0-3;rm -rf", "\v1", "12345678901234567890", "1 2",
		"2MB", "1GB", "64KB", "1TB", "0MB", "02MB", "2M", "2mb", "MB", "2PB", "../2MB", "10KB ", "1B",
	}
	// Every string over a small alphabet up to length 4 as well.
	alphabet := []string{"0", "1", "-", ",", " ", "M", "B", "x"}
	var gen func(prefix string, n int)
	gen = func(prefix string, n int) {
		inputs = append(inputs, prefix)
		if n == 0 {
			return
		}
		for _, a := range alphabet {
			gen(prefix+a, n-1)
		}
	}
	gen("", 4)
	for _, s := range inputs {
		if got, want := isCPUList(s), cpuList.MatchString(s); got != want {
			t.Errorf("isCPUList(%q) = %v, the regexp says %v", s, got, want)
		}
		if got, want := isPageSize(s), pageSize.MatchString(s); got != want {
			t.Errorf("isPageSize(%q) = %v, the regexp says %v", s, got, want)
		}
	}
}
