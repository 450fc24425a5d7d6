package runtime

import (
	"encoding/json"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/runtime/cgroups"
)

// Prewarm does, ahead of a create, the work that depends on nothing but
// the state root: the write-protected view of this binary, the host's
// cgroup layout, and encoding/json's decoders for the spec's types. All
// are cached for the process, so a runtime process started before its
// command is known (a shim's warm runtime) has them ready when the command
// comes. Errors are left for the create to meet.
func (rt *Runtime) Prewarm() {
	_, _ = cgroups.DetectLayout()
	_, _ = protectedSelf(filepath.Join(rt.root, spareDirName))
	warmSpecDecoding()
}

// warmSpecDecoding decodes a spec that has every section a container
// engine's carries: encoding/json builds its decoders per type on first
// use, and for a docker-like config.json (its seccomp profile alone is
// some 300 rules) that first decode costs a cold process about two
// milliseconds of the create.
func warmSpecDecoding() {
	s := DefaultSpec(false)
	limit, shares, pids := int64(1<<30), uint64(1024), int64(100)
	weight := uint16(500)
	s.Linux.Resources = &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}},
		Memory:  &specs.LinuxMemory{Limit: &limit, Swap: &limit},
		CPU:     &specs.LinuxCPU{Shares: &shares, Quota: &pids, Cpus: "0"},
		Pids:    &specs.LinuxPids{Limit: &pids},
		BlockIO: &specs.LinuxBlockIO{Weight: &weight},
	}
	s.Linux.Seccomp = &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Architectures: []specs.Arch{specs.ArchX86_64},
		Syscalls: []specs.LinuxSyscall{{
			Names: []string{"read", "write"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: specs.OpEqualTo}},
		}},
	}
	s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
	s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/true", Args: []string{"true"}}}}
	s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}}
	s.Annotations = map[string]string{"a": "b"}
	b, err := json.Marshal(s)
	if err != nil {
		return
	}
	var out specs.Spec
	_ = json.Unmarshal(b, &out)
}
