package seccomp

import (
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// Docker ships its default profile in its own format (archMap, per-rule
// includes/excludes by arch, capability and kernel version); the daemon turns
// it into an OCI linux.seccomp for each container. This is that conversion,
// enough to feed the compiler in tests.

type mobyProfile struct {
	DefaultAction   specs.LinuxSeccompAction `json:"defaultAction"`
	DefaultErrnoRet *uint                    `json:"defaultErrnoRet"`
	ArchMap         []struct {
		Arch specs.Arch   `json:"architecture"`
		Sub  []specs.Arch `json:"subArchitectures"`
	} `json:"archMap"`
	Syscalls []struct {
		specs.LinuxSyscall
		Includes mobyFilter `json:"includes"`
		Excludes mobyFilter `json:"excludes"`
	} `json:"syscalls"`
}

type mobyFilter struct {
	Arches    []string `json:"arches"`
	Caps      []string `json:"caps"`
	MinKernel string   `json:"minKernel"`
}

// dockerDefaultCaps is the capability set of a container started without
// --cap-add/--cap-drop.
var dockerDefaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// dockerProfile converts testdata/moby-default.json for a host of the given
// GOARCH whose native seccomp arch is native, as docker would for a container
// with caps on a kernel of the given version.
func dockerProfile(t testing.TB, goarch string, native specs.Arch, caps []string, kernel string) *specs.LinuxSeccomp {
	t.Helper()
	cfg, err := convertDockerProfile(goarch, native, caps, kernel)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func convertDockerProfile(goarch string, native specs.Arch, caps []string, kernel string) (*specs.LinuxSeccomp, error) {
	b, err := os.ReadFile("testdata/moby-default.json")
	if err != nil {
		return nil, err
	}
	var p mobyProfile
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, err
	}
	cfg := &specs.LinuxSeccomp{DefaultAction: p.DefaultAction, DefaultErrnoRet: p.DefaultErrnoRet}
	for _, m := range p.ArchMap {
		if m.Arch == native {
			cfg.Architectures = append([]specs.Arch{m.Arch}, m.Sub...)
		}
	}
	atLeast := func(v string) bool { return kernelVersion(kernel) >= kernelVersion(v) }
	for _, sc := range p.Syscalls {
		ex, in := sc.Excludes, sc.Includes
		if slices.Contains(ex.Arches, goarch) ||
			slices.ContainsFunc(ex.Caps, func(c string) bool { return slices.Contains(caps, c) }) ||
			ex.MinKernel != "" && atLeast(ex.MinKernel) {
			continue
		}
		if len(in.Arches) > 0 && !slices.Contains(in.Arches, goarch) ||
			slices.ContainsFunc(in.Caps, func(c string) bool { return !slices.Contains(caps, c) }) ||
			in.MinKernel != "" && !atLeast(in.MinKernel) {
			continue
		}
		cfg.Syscalls = append(cfg.Syscalls, sc.LinuxSyscall)
	}
	return cfg, nil
}

// kernelVersion orders "major.minor" strings; the fixture's are well formed.
func kernelVersion(v string) int {
	major, minor, _ := strings.Cut(v, ".")
	a, _ := strconv.Atoi(major)
	b, _ := strconv.Atoi(minor)
	return a<<16 | b
}
