package runtime

import (
	"testing"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestFinalizeEarlyAllowed(t *testing.T) {
	base := func() *specs.Spec {
		return &specs.Spec{
			Process: &specs.Process{Args: []string{"true"}, Capabilities: &specs.LinuxCapabilities{
				Bounding: []string{"CAP_CHOWN", "CAP_KILL"}}},
			Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.PIDNamespace}}},
		}
	}
	withDefault := func(t *testing.T) *specs.Spec {
		s := base()
		p, err := seccomp.GetDefaultProfile(s)
		if err != nil {
			t.Fatal(err)
		}
		s.Linux.Seccomp = p
		return s
	}
	errno := func(names ...string) *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: names, Action: specs.ActErrno},
		}}
	}
	for _, tc := range []struct {
		name string
		spec func(t *testing.T) *specs.Spec
		want bool
	}{
		{"no filter", func(*testing.T) *specs.Spec { return base() }, true},
		{"docker's default profile", withDefault, true},
		{"a filter that refuses something else", func(*testing.T) *specs.Spec {
			s := base()
			s.Linux.Seccomp = errno("mkdirat")
			return s
		}, true},
		{"a filter that refuses accept4", func(*testing.T) *specs.Spec {
			s := base()
			s.Linux.Seccomp = errno("accept4")
			return s
		}, false},
		{"an allowlist without accept4", func(*testing.T) *specs.Spec {
			s := base()
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
				{Names: waitingSyscalls[1:], Action: specs.ActAllow}, // not accept4
			}}
			return s
		}, false},
		{"read allowed only for some arguments", func(*testing.T) *specs.Spec {
			s := base()
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
				{Names: append(append([]string(nil), waitingSyscalls...), waitingSyscallsAMD64...), Action: specs.ActAllow},
				{Names: []string{"read"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 5, Op: specs.OpEqualTo}}},
			}}
			return s
		}, false},
		{"a notify rule", func(*testing.T) *specs.Spec {
			s := base()
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/run/agent.sock",
				Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdirat"}, Action: specs.ActNotify}}}
			return s
		}, false},
		{"startContainer hooks", func(*testing.T) *specs.Spec {
			s := base()
			s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/true"}}}
			return s
		}, false},
		{"a low pids limit", func(*testing.T) *specs.Spec {
			s := base()
			limit := int64(4)
			s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}}
			return s
		}, false},
		{"a high pids limit", func(*testing.T) *specs.Spec {
			s := base()
			limit := int64(4096)
			s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}}
			return s
		}, true},
		{"few processes (RLIMIT_NPROC)", func(*testing.T) *specs.Spec {
			s := base()
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NPROC", Hard: 8, Soft: 8}}
			return s
		}, false},
		{"an address space limit", func(*testing.T) *specs.Spec {
			s := base()
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_AS", Hard: 1 << 30, Soft: 1 << 30}}
			return s
		}, false},
		{"few open files", func(*testing.T) *specs.Spec {
			s := base()
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 16, Soft: 16}}
			return s
		}, false},
		{"docker's open files", func(*testing.T) *specs.Spec {
			s := base()
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1048576, Soft: 1048576}}
			return s
		}, true},
		{"a mount namespace joined", func(*testing.T) *specs.Spec {
			s := base()
			s.Linux.Namespaces[0].Path = "/proc/1/ns/mnt"
			return s
		}, false},
		{"the host's mount namespace", func(*testing.T) *specs.Spec {
			s := base()
			s.Linux.Namespaces = s.Linux.Namespaces[1:]
			return s
		}, false},
		{"no process", func(*testing.T) *specs.Spec {
			s := base()
			s.Process = nil
			return s
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := finalizeEarly(tc.spec(t)); got != tc.want {
				t.Errorf("finalizeEarly = %v, want %v", got, tc.want)
			}
		})
	}
}
