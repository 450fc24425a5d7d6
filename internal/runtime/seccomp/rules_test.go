package seccomp

import (
	"slices"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestRuleSemantics(t *testing.T) {
	x8664 := mustArch(t, specs.ArchX86_64)
	arg := func(i uint, op specs.LinuxSeccompOperator, v uint64) specs.LinuxSeccompArg {
		return specs.LinuxSeccompArg{Index: i, Op: op, Value: v}
	}
	eq := specs.OpEqualTo
	for _, tc := range []struct {
		name     string
		def      specs.LinuxSeccompAction
		syscalls []specs.LinuxSyscall
		calls    []call
	}{
		{
			name: "conditions on different arguments are ANDed",
			def:  specs.ActAllow,
			syscalls: []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActErrno,
				Args: []specs.LinuxSeccompArg{arg(0, eq, 1), arg(1, eq, 2)}}},
			calls: []call{
				{name: "getpid", args: [6]uint64{1, 2}, want: retErrno(unix.EPERM)},
				{name: "getpid", args: [6]uint64{1, 3}, want: retAllow},
				{name: "getpid", args: [6]uint64{0, 2}, want: retAllow},
			},
		},
		{
			name: "conditions on the same argument are ORed (runc)",
			def:  specs.ActAllow,
			syscalls: []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActErrno,
				Args: []specs.LinuxSeccompArg{arg(0, eq, 1), arg(0, eq, 2), arg(1, eq, 7)}}},
			calls: []call{
				{name: "getpid", args: [6]uint64{1}, want: retErrno(unix.EPERM)},
				{name: "getpid", args: [6]uint64{2}, want: retErrno(unix.EPERM)},
				// The split applies to every condition of the rule.
				{name: "getpid", args: [6]uint64{0, 7}, want: retErrno(unix.EPERM)},
				{name: "getpid", args: [6]uint64{3, 3}, want: retAllow},
			},
		},
		{
			name: "conditional rules first, then the first unconditional rule",
			def:  specs.ActErrno,
			syscalls: []specs.LinuxSyscall{
				{Names: []string{"getpid"}, Action: specs.ActAllow},
				{Names: []string{"getpid"}, Action: specs.ActLog},
				{Names: []string{"getpid"}, Action: specs.ActTrap, Args: []specs.LinuxSeccompArg{arg(0, eq, 5)}},
				{Names: []string{"getpid"}, Action: specs.ActKillProcess, Args: []specs.LinuxSeccompArg{arg(0, specs.OpGreaterEqual, 5)}},
			},
			calls: []call{
				{name: "getpid", args: [6]uint64{5}, want: retTrap},
				{name: "getpid", args: [6]uint64{6}, want: retKillP},
				{name: "getpid", args: [6]uint64{4}, want: retAllow},
			},
		},
		{
			name: "rules with the default action are dropped (runc)",
			def:  specs.ActErrno,
			syscalls: []specs.LinuxSyscall{
				{Names: []string{"getpid"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{arg(0, eq, 1)}},
				{Names: []string{"getpid"}, Action: specs.ActAllow},
				// Same action, different errno: not the default.
				{Names: []string{"getppid"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(unix.EXDEV))},
			},
			calls: []call{
				{name: "getpid", args: [6]uint64{1}, want: retAllow},
				{name: "getppid", want: retErrno(unix.EXDEV)},
				{name: "gettid", want: retErrno(unix.EPERM)},
			},
		},
		{
			name: "actions and their data",
			def:  specs.ActAllow,
			syscalls: []specs.LinuxSyscall{
				{Names: []string{"getpid"}, Action: specs.ActKill},
				{Names: []string{"getppid"}, Action: specs.ActKillThread},
				{Names: []string{"gettid"}, Action: specs.ActKillProcess},
				{Names: []string{"getuid"}, Action: specs.ActTrap},
				{Names: []string{"geteuid"}, Action: specs.ActTrace},
				{Names: []string{"getgid"}, Action: specs.ActTrace, ErrnoRet: uintp(1234)},
				{Names: []string{"getegid"}, Action: specs.ActLog},
				{Names: []string{"getpgrp"}, Action: specs.ActNotify},
				{Names: []string{"getsid"}, Action: specs.ActErrno, ErrnoRet: uintp(0)},
				{Names: []string{"sync"}, Action: specs.ActErrno, ErrnoRet: uintp(0xffff)},
			},
			calls: []call{
				{name: "getpid", want: retKillT},
				{name: "getppid", want: retKillT},
				{name: "gettid", want: retKillP},
				{name: "getuid", want: retTrap},
				{name: "geteuid", want: unix.SECCOMP_RET_TRACE | uint32(unix.EPERM)},
				{name: "getgid", want: unix.SECCOMP_RET_TRACE | 1234},
				{name: "getegid", want: retLog},
				{name: "getpgrp", want: retNotify},
				{name: "getsid", want: unix.SECCOMP_RET_ERRNO},
				{name: "sync", want: unix.SECCOMP_RET_ERRNO | 0xffff},
				{name: "read", want: retAllow},
			},
		},
		{
			name: "64-bit values whose high word differs",
			def:  specs.ActAllow,
			syscalls: []specs.LinuxSyscall{
				{Names: []string{"mmap"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{arg(1, specs.OpGreaterThan, 0xffffffff)}},
				{Names: []string{"munmap"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{arg(1, specs.OpLessThan, 0x1_00000000)}},
			},
			calls: []call{
				{name: "mmap", args: [6]uint64{0, 0xffffffff}, want: retAllow},
				{name: "mmap", args: [6]uint64{0, 0x1_00000000}, want: retErrno(unix.EPERM)},
				{name: "mmap", args: [6]uint64{0, 0x2_00000000}, want: retErrno(unix.EPERM)},
				{name: "munmap", args: [6]uint64{0, 0xffffffff}, want: retErrno(unix.EPERM)},
				{name: "munmap", args: [6]uint64{0, 0x1_00000000}, want: retAllow},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &specs.LinuxSeccomp{DefaultAction: tc.def, Syscalls: tc.syscalls, ListenerPath: "/run/agent.sock"}
			f := mustCompile(t, cfg, x8664)
			for i := range tc.calls {
				tc.calls[i].arch = x8664
			}
			checkCalls(t, f, x8664, tc.calls)
			differential(t, cfg, x8664, f)
		})
	}
}

func TestMultiplexedCalls(t *testing.T) {
	x8664, x86 := mustArch(t, specs.ArchX86_64), mustArch(t, specs.ArchX86)
	// A deny-list: socket(AF_VSOCK) and semop are refused; on i386 they
	// must be refused through socketcall(2)/ipc(2) too.
	cfg := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"socket"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{
				{Index: 0, Op: specs.OpEqualTo, Value: unix.AF_VSOCK}}},
			{Names: []string{"semop", "send"}, Action: specs.ActErrno},
		},
	}
	f := mustCompile(t, cfg, x8664)
	eperm := retErrno(unix.EPERM)
	checkCalls(t, f, x8664, []call{
		{arch: x86, name: "socket", args: [6]uint64{unix.AF_VSOCK}, want: eperm},
		{arch: x86, name: "socket", args: [6]uint64{unix.AF_INET}, want: retAllow},
		// Through the multiplexer the family is out of reach: all
		// socket sub-calls are refused, as with libseccomp.
		{arch: x86, name: "socketcall", args: [6]uint64{1}, want: eperm},
		{arch: x86, name: "socketcall", args: [6]uint64{2}, want: retAllow},
		{arch: x86, name: "socketcall", args: [6]uint64{9}, want: eperm}, // send has no direct syscall on i386
		{arch: x86, name: "ipc", args: [6]uint64{1}, want: eperm},        // semop neither
		{arch: x86, name: "ipc", args: [6]uint64{2}, want: retAllow},
		{arch: x8664, name: "semop", want: eperm},
		{arch: x8664, name: "socket", args: [6]uint64{unix.AF_VSOCK}, want: eperm},
	})
	if s := f.Skipped(); len(s) != 0 {
		t.Errorf("Skipped = %v; send and semop resolve through the multiplexers", s)
	}
	differential(t, cfg, x8664, f)
}

func TestSkipped(t *testing.T) {
	cfg := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "no_such_call", "breakpoint", "arch_prctl"}, Action: specs.ActAllow},
			{Names: []string{"also_unknown", "no_such_call"}, Action: specs.ActErrno}, // default action
		},
	}
	f := mustCompile(t, cfg, mustArch(t, specs.ArchX86_64))
	// breakpoint is ARM-only, arch_prctl x86 only: skipped on one
	// host, not on the other.
	if got, want := f.Skipped(), []string{"also_unknown", "breakpoint", "no_such_call"}; !slices.Equal(got, want) {
		t.Errorf("amd64 Skipped = %v, want %v", got, want)
	}
	cfg.Architectures = []specs.Arch{specs.ArchARM}
	f = mustCompile(t, cfg, mustArch(t, specs.ArchAARCH64))
	if got, want := f.Skipped(), []string{"also_unknown", "arch_prctl", "no_such_call"}; !slices.Equal(got, want) {
		t.Errorf("arm64 Skipped = %v, want %v", got, want)
	}
}

func TestFlags(t *testing.T) {
	x8664 := mustArch(t, specs.ArchX86_64)
	notify := []specs.LinuxSyscall{{Names: []string{"getppid"}, Action: specs.ActNotify}}
	for _, tc := range []struct {
		name      string
		flags     []specs.LinuxSeccompFlag
		syscalls  []specs.LinuxSyscall
		want      uint
		implied   uint
		useNotify bool
	}{
		{name: "absent: SPEC_ALLOW implied", flags: nil, implied: unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW},
		{name: "empty: nothing", flags: []specs.LinuxSeccompFlag{}},
		{name: "explicit", flags: []specs.LinuxSeccompFlag{flagTsync, specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow},
			want: unix.SECCOMP_FILTER_FLAG_TSYNC | unix.SECCOMP_FILTER_FLAG_LOG | unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW},
		{name: "wait killable without listener is dropped",
			flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}},
		{name: "notify adds a listener", flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}, syscalls: notify,
			want: unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, useNotify: true},
		{name: "notify with tsync reports ESRCH", flags: []specs.LinuxSeccompFlag{flagTsync}, syscalls: notify,
			want: unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_TSYNC | unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH, useNotify: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := mustCompile(t, &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: tc.flags, Syscalls: tc.syscalls,
				ListenerPath: "/run/agent.sock"}, x8664)
			if f.flags != tc.want || f.implied != tc.implied || f.UsesNotify() != tc.useNotify {
				t.Errorf("flags %s implied %s notify %v, want %s %s %v", flagNames(f.flags), flagNames(f.implied),
					f.UsesNotify(), flagNames(tc.want), flagNames(tc.implied), tc.useNotify)
			}
		})
	}
}

func TestFeatures(t *testing.T) {
	for _, tc := range []struct {
		got  []string
		want []string
	}{
		{SupportedActions(), []string{"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
			"SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"}},
		{SupportedOperators(), []string{"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
			"SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"}},
		{SupportedFlags(), []string{"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
			"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"}},
	} {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("got %v, want %v", tc.got, tc.want)
		}
	}
	// Every supported arch compiles (as an extra ABI of a host of its
	// byte order).
	for _, name := range SupportedArchs() {
		a := mustArch(t, specs.Arch(name))
		native := mustArch(t, specs.ArchX86_64)
		if a.bigEndian {
			native = mustArch(t, specs.ArchS390X)
		}
		cfg := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Architectures: []specs.Arch{a.name},
			Syscalls: []specs.LinuxSyscall{{Names: []string{"read", "socket"}, Action: specs.ActAllow}}}
		f := mustCompile(t, cfg, native)
		checkCalls(t, f, native, []call{{arch: a, name: "read", want: retAllow}})
		differential(t, cfg, native, f)
	}
}

// TestLongJumps builds a filter whose branches cannot all reach their
// targets within 255 instructions, so the assembler must add trampolines.
func TestLongJumps(t *testing.T) {
	x8664 := mustArch(t, specs.ArchX86_64)
	cfg := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86}}
	// Every syscall gets rules with several conditions; values differ so
	// nothing can be merged.
	for i, row := range sysTable[:120] {
		cfg.Syscalls = append(cfg.Syscalls, specs.LinuxSyscall{
			Names: []string{row.name}, Action: specs.ActErrno, ErrnoRet: uintp(uint(i + 1)),
			Args: []specs.LinuxSeccompArg{
				{Index: 0, Op: specs.OpGreaterThan, Value: uint64(i) << 31},
				{Index: 1, Op: specs.OpNotEqual, Value: uint64(i)},
			},
		})
	}
	f := mustCompile(t, cfg, x8664)
	long := 0
	for _, in := range f.prog {
		if in.Code == unix.BPF_JMP|unix.BPF_JA && in.K > 255 {
			long++
		}
	}
	t.Logf("%d instructions, %d long jumps", len(f.prog), long)
	if long == 0 {
		t.Error("expected long jumps in a program this size")
	}
	differential(t, cfg, x8664, f)
}

func TestProgramTooLarge(t *testing.T) {
	cfg := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
	var args []specs.LinuxSeccompArg
	for i := range 3000 {
		args = append(args, specs.LinuxSeccompArg{Index: uint(i % 6), Op: specs.OpEqualTo, Value: uint64(i)})
	}
	cfg.Syscalls = []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActErrno, Args: args}}
	_, err := compile(cfg, mustArch(t, specs.ArchX86_64))
	if !errdefs.IsInvalidParameter(err) {
		t.Fatalf("err = %v, want an invalid-parameter error", err)
	}
	t.Log(err)
}
