package seccomp

import (
	"encoding/json"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// FuzzCompile feeds linux.seccomp JSON to the compiler. Compile must never
// panic; errors must carry a class; a compiled program must pass the
// kernel's checks and agree with the reference semantics (on a sample of
// inputs, to keep each run fast).
//
//	go test -run '^$' -fuzz FuzzCompile -fuzztime 60s ./internal/runtime/seccomp
func FuzzCompile(f *testing.F) {
	docker, err := convertDockerProfile("amd64", specs.ArchX86_64, dockerDefaultCaps, "6.18")
	if err != nil {
		f.Fatal(err)
	}
	seed, _ := json.Marshal(docker)
	f.Add(seed)
	for _, s := range []string{
		`{"defaultAction":"SCMP_ACT_ALLOW"}`,
		`{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"architectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"],
		  "syscalls":[{"names":["socket","semop"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":40,"op":"SCMP_CMP_NE"}]}]}`,
		`{"defaultAction":"SCMP_ACT_KILL_PROCESS","flags":["SECCOMP_FILTER_FLAG_TSYNC"],"listenerPath":"/run/agent.sock",
		  "syscalls":[{"names":["getppid"],"action":"SCMP_ACT_NOTIFY"},
		              {"names":["mmap"],"action":"SCMP_ACT_TRACE","errnoRet":7,"args":[
		                {"index":2,"value":4294967296,"op":"SCMP_CMP_GE"},{"index":2,"value":12,"op":"SCMP_CMP_LT"},
		                {"index":3,"value":240,"valueTwo":16,"op":"SCMP_CMP_MASKED_EQ"}]}]}`,
		`{"defaultAction":"SCMP_ACT_LOG","architectures":["SCMP_ARCH_S390X","SCMP_ARCH_S390"],
		  "syscalls":[{"names":["clone"],"action":"SCMP_ACT_TRAP","args":[{"index":1,"value":2114060288,"op":"SCMP_CMP_MASKED_EQ"}]}]}`,
		`{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_MIPS"]}`,
		`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":[],"action":"SCMP_ACT_KILL"}]}`,
	} {
		f.Add([]byte(s))
	}
	natives := []*arch{archByName(specs.ArchX86_64), archByName(specs.ArchS390X)}
	f.Fuzz(func(t *testing.T, data []byte) {
		var cfg specs.LinuxSeccomp
		if json.Unmarshal(data, &cfg) != nil {
			return
		}
		for _, native := range natives {
			filter, err := compile(&cfg, native)
			if err != nil {
				if !errdefs.IsInvalidParameter(err) && !errdefs.IsNotImplemented(err) {
					t.Fatalf("error without a class: %v", err)
				}
				continue
			}
			if err := verify(filter.prog); err != nil {
				t.Fatalf("program rejected: %v", err)
			}
			differentialSample(t, &cfg, native, filter, 3000)
		}
	})
}
