package seccomp

import (
	"errors"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"
)

func TestCompileErrors(t *testing.T) {
	ok := specs.LinuxSyscall{Names: []string{"read"}, Action: specs.ActAllow}
	withArgs := func(args ...specs.LinuxSeccompArg) []specs.LinuxSyscall {
		return []specs.LinuxSyscall{ok, {Names: []string{"getpid"}, Action: specs.ActErrno, Args: args}}
	}
	for _, tc := range []struct {
		name    string
		cfg     *specs.LinuxSeccomp
		class   error
		mention string // the message must point at the culprit
	}{
		{"nil", nil, errdefs.ErrInvalidParameter, "no configuration"},
		{"no default action", &specs.LinuxSeccomp{}, errdefs.ErrInvalidParameter, "defaultAction"},
		{"unknown default action", &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_MAYBE"}, errdefs.ErrInvalidParameter, "SCMP_ACT_MAYBE"},
		{"notify default", &specs.LinuxSeccomp{DefaultAction: specs.ActNotify}, errdefs.ErrInvalidParameter, "default action"},
		{"defaultErrnoRet with allow", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, DefaultErrnoRet: uintp(1)},
			errdefs.ErrInvalidParameter, "errnoRet"},
		{"errnoRet too large", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uintp(1 << 16)},
			errdefs.ErrInvalidParameter, "65536"},
		{"unknown action", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno,
			Syscalls: []specs.LinuxSyscall{ok, {Names: []string{"getpid"}, Action: "SCMP_ACT_ALLOW "}}},
			errdefs.ErrInvalidParameter, "syscalls[1]: unknown action"},
		{"missing action", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"getpid"}}}},
			errdefs.ErrInvalidParameter, "syscalls[0]: action is required"},
		{"errnoRet with kill", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActKill, ErrnoRet: uintp(1)}}},
			errdefs.ErrInvalidParameter, "syscalls[0]: errnoRet"},
		{"bad operator", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: withArgs(specs.LinuxSeccompArg{Index: 0, Op: "SCMP_CMP_LIKE"})},
			errdefs.ErrInvalidParameter, "syscalls[1]: args[0]: unknown operator"},
		{"empty operator", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: withArgs(specs.LinuxSeccompArg{Index: 0})},
			errdefs.ErrInvalidParameter, "unknown operator"},
		{"arg index 6", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: withArgs(specs.LinuxSeccompArg{Index: 1, Op: specs.OpEqualTo}, specs.LinuxSeccompArg{Index: 6, Op: specs.OpEqualTo})},
			errdefs.ErrInvalidParameter, "syscalls[1]: args[1]: index 6"},
		{"unknown arch", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86, "SCMP_ARCH_Z80"}},
			errdefs.ErrInvalidParameter, "architectures[1]: unknown architecture \"SCMP_ARCH_Z80\""},
		{"arch without table", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchMIPS64}},
			errdefs.ErrNotImplemented, "SCMP_ARCH_MIPS64"},
		{"other byte order", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchPPC64}},
			errdefs.ErrInvalidParameter, "byte order"},
		{"no names", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Action: specs.ActErrno}}},
			errdefs.ErrInvalidParameter, "syscalls[0]: names"},
		{"empty name", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"read", ""}, Action: specs.ActErrno}}},
			errdefs.ErrInvalidParameter, "syscalls[0]: names[1] is empty"},
		{"notify without listener", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{ok, {Names: []string{"getppid"}, Action: specs.ActNotify}}},
			errdefs.ErrInvalidParameter, "syscalls[1]: SCMP_ACT_NOTIFY requires listenerPath"},
		{"notify on write", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/run/agent.sock",
			Syscalls: []specs.LinuxSyscall{{Names: []string{"read", "write"}, Action: specs.ActNotify}}},
			errdefs.ErrInvalidParameter, "write"},
		{"unknown flag", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_FAST"}},
			errdefs.ErrInvalidParameter, "flags[0]"},
		{"metadata without listener", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerMetadata: "x"},
			errdefs.ErrInvalidParameter, "listenerPath"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := compile(tc.cfg, mustArch(t, specs.ArchX86_64))
			if err == nil {
				t.Fatalf("compiled to %d instructions, want an error", len(f.prog))
			}
			if !errors.Is(err, tc.class) {
				t.Errorf("error %q is not of class %v", err, tc.class)
			}
			if !strings.Contains(err.Error(), tc.mention) || !strings.HasPrefix(err.Error(), "seccomp: ") {
				t.Errorf("error %q should start with \"seccomp: \" and mention %q", err, tc.mention)
			}
		})
	}
}

func TestCompileNative(t *testing.T) {
	// The exported entry point picks the host's ABI.
	f, err := Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow})
	if nativeArch() == nil {
		if !errdefs.IsNotImplemented(err) {
			t.Fatalf("err = %v on a host without tables", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Program()) == 0 || f.UsesNotify() || len(f.Skipped()) != 0 {
		t.Errorf("unexpected filter: %d instructions, notify %v, skipped %v", len(f.Program()), f.UsesNotify(), f.Skipped())
	}
}
