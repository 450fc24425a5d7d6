package seccomp

import (
	"fmt"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const (
	retAllow   = unix.SECCOMP_RET_ALLOW
	retKillP   = unix.SECCOMP_RET_KILL_PROCESS
	retKillT   = unix.SECCOMP_RET_KILL_THREAD
	retLog     = unix.SECCOMP_RET_LOG
	retTrap    = unix.SECCOMP_RET_TRAP
	retNotify  = unix.SECCOMP_RET_USER_NOTIF
	auditX8664 = unix.AUDIT_ARCH_X86_64
	auditI386  = unix.AUDIT_ARCH_I386
	sigchld    = uint64(unix.SIGCHLD)
)

func retErrno(e unix.Errno) uint32 { return unix.SECCOMP_RET_ERRNO | uint32(e) }

func uintp(v uint) *uint { return &v }

func mustArch(t testing.TB, name specs.Arch) *arch {
	t.Helper()
	a := archByName(name)
	if a == nil {
		t.Fatalf("no arch %s", name)
	}
	return a
}

func mustCompile(t testing.TB, cfg *specs.LinuxSeccomp, native *arch) *Filter {
	t.Helper()
	f, err := compile(cfg, native)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	if err := verify(f.prog); err != nil {
		t.Fatalf("program rejected: %v", err)
	}
	return f
}

func nr(t testing.TB, a *arch, name string) uint32 {
	t.Helper()
	n, ok := lookupSyscall(a.col, name)
	if !ok {
		t.Fatalf("%s has no syscall %s", a.name, name)
	}
	return n
}

// call describes one syscall made through some ABI.
type call struct {
	arch *arch
	name string // or nr, when name is ""
	nr   uint32
	args [6]uint64
	want uint32
}

func (c call) String() string {
	n := c.name
	if n == "" {
		n = fmt.Sprintf("nr %#x", c.nr)
	}
	return fmt.Sprintf("%s %s%#x", c.arch.name, n, c.args)
}

func checkCalls(t *testing.T, f *Filter, native *arch, calls []call) {
	t.Helper()
	for _, c := range calls {
		d := seccompData{arch: c.arch.audit, nr: c.nr, args: c.args}
		if c.name != "" {
			d.nr = nr(t, c.arch, c.name)
		}
		got, _, err := run(f.prog, d, native.bigEndian)
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		if got != c.want {
			t.Errorf("%v = %#x, want %#x", c, got, c.want)
		}
	}
}

func TestDockerDefaultAMD64(t *testing.T) {
	x8664, x86, x32 := mustArch(t, specs.ArchX86_64), mustArch(t, specs.ArchX86), mustArch(t, specs.ArchX32)
	cfg := dockerProfile(t, "amd64", specs.ArchX86_64, dockerDefaultCaps, "6.18")
	f := mustCompile(t, cfg, x8664)
	t.Logf("docker default profile, amd64 (x86_64+x86+x32): %d instructions; skipped %v", len(f.prog), f.Skipped())
	if f.UsesNotify() {
		t.Error("UsesNotify")
	}
	eperm := retErrno(unix.EPERM)
	const cloneNewUser = unix.CLONE_NEWUSER
	threadFlags := uint64(unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND |
		unix.CLONE_THREAD | unix.CLONE_SYSVSEM | unix.CLONE_SETTLS | unix.CLONE_PARENT_SETTID | unix.CLONE_CHILD_CLEARTID)
	checkCalls(t, f, x8664, []call{
		{arch: x8664, name: "read", want: retAllow},
		{arch: x8664, name: "mkdir", want: retAllow},
		{arch: x8664, name: "mkdirat", want: retAllow},
		{arch: x8664, name: "arch_prctl", want: retAllow},
		{arch: x8664, name: "kexec_load", want: eperm},
		{arch: x8664, name: "mount", want: eperm},
		{arch: x8664, name: "unshare", want: eperm},
		{arch: x8664, name: "clone3", want: retErrno(unix.ENOSYS)},
		{arch: x8664, name: "personality", args: [6]uint64{0}, want: retAllow},
		{arch: x8664, name: "personality", args: [6]uint64{8}, want: retAllow},
		{arch: x8664, name: "personality", args: [6]uint64{0x20008}, want: retAllow},
		{arch: x8664, name: "personality", args: [6]uint64{0xffffffff}, want: retAllow},
		{arch: x8664, name: "personality", args: [6]uint64{0x1234}, want: eperm},
		// 64-bit ABI: the high word must match too.
		{arch: x8664, name: "personality", args: [6]uint64{0x1_0000_0008}, want: eperm},
		{arch: x8664, name: "personality", args: [6]uint64{0xffffffff_ffffffff}, want: eperm},
		{arch: x8664, name: "clone", args: [6]uint64{threadFlags}, want: retAllow},
		{arch: x8664, name: "clone", args: [6]uint64{sigchld}, want: retAllow},
		{arch: x8664, name: "clone", args: [6]uint64{cloneNewUser | sigchld}, want: eperm},
		{arch: x8664, name: "clone", args: [6]uint64{unix.CLONE_NEWNS}, want: eperm},
		{arch: x8664, name: "clone", args: [6]uint64{unix.CLONE_NEWNET | threadFlags}, want: eperm},
		// The mask has no high bits, so the high word is ignored.
		{arch: x8664, name: "clone", args: [6]uint64{0xffffffff_00000000 | sigchld}, want: retAllow},
		{arch: x8664, name: "socket", args: [6]uint64{unix.AF_INET}, want: retAllow},
		{arch: x8664, name: "socket", args: [6]uint64{unix.AF_VSOCK}, want: eperm},
		{arch: x8664, name: "socket", args: [6]uint64{1<<32 | unix.AF_VSOCK}, want: retAllow},
		{arch: x8664, nr: 335, want: eperm},  // uretprobe: not in the profile
		{arch: x8664, nr: 471, want: eperm},  // highest known
		{arch: x8664, nr: 5000, want: eperm}, // unknown high number: default action
		{arch: x8664, nr: 0x3fffffff, want: eperm},
		// x32 is in the filter: its numbers go to the x32 table.
		{arch: x32, name: "read", want: retAllow},
		{arch: x32, name: "execve", want: retAllow}, // x32-specific number 520
		{arch: x32, name: "kexec_load", want: eperm},
		{arch: x32, name: "personality", args: [6]uint64{0xffffffff}, want: retAllow},
		// x32 compares only the low word, as libseccomp does.
		{arch: x32, name: "personality", args: [6]uint64{0x1_ffffffff}, want: retAllow},
		{arch: x32, nr: x32Bit + 5000, want: eperm},
		{arch: x32, nr: 0xffffffff, want: eperm},
		// x86 (i386) calls on the amd64 filter.
		{arch: x86, name: "read", want: retAllow},
		{arch: x86, name: "socketcall", want: retAllow},
		{arch: x86, name: "ipc", want: retAllow},
		{arch: x86, name: "mmap2", want: retAllow},
		{arch: x86, name: "kexec_load", want: eperm},
		// The profile adds arch_prctl on amd64 hosts; i386 has it too (384).
		{arch: x86, name: "arch_prctl", want: retAllow},
		{arch: x86, name: "vm86", want: eperm},
		{arch: x86, name: "modify_ldt", want: retAllow},
		{arch: x86, name: "personality", args: [6]uint64{0x1_0000_0008}, want: retAllow},
		{arch: x86, name: "clone", args: [6]uint64{cloneNewUser}, want: eperm},
		{arch: x86, name: "socket", args: [6]uint64{unix.AF_VSOCK}, want: eperm},
		{arch: x86, name: "socket", args: [6]uint64{unix.AF_UNIX}, want: retAllow},
		{arch: x86, nr: 5000, want: eperm},
		// ABIs not in the filter are killed.
		{arch: mustArch(t, specs.ArchAARCH64), name: "read", want: retKillP},
		{arch: mustArch(t, specs.ArchARM), name: "read", want: retKillP},
	})
	differential(t, cfg, x8664, f)

	// The hot path: instructions executed for a native syscall.
	total, most, count := 0, 0, 0
	for _, row := range sysTable {
		if row.nr[colX86_64] < 0 {
			continue
		}
		_, steps, err := run(f.prog, seccompData{arch: auditX8664, nr: uint32(row.nr[colX86_64])}, false)
		if err != nil {
			t.Fatal(err)
		}
		total, most, count = total+steps, max(most, steps), count+1
	}
	t.Logf("x86_64 syscalls: %.1f instructions on average, at most %d", float64(total)/float64(count), most)
	if most > 32 {
		t.Errorf("a syscall takes %d instructions; the decision tree should keep this near log2", most)
	}
}

func TestX32NotListed(t *testing.T) {
	x8664, x32 := mustArch(t, specs.ArchX86_64), mustArch(t, specs.ArchX32)
	cfg := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"read", "write"}, Action: specs.ActAllow}},
	}
	f := mustCompile(t, cfg, x8664)
	checkCalls(t, f, x8664, []call{
		{arch: x8664, name: "read", want: retAllow},
		{arch: x8664, name: "close", want: retErrno(unix.EPERM)},
		{arch: x32, name: "read", want: retKillP},
		{arch: x32, name: "close", want: retKillP},
		{arch: x8664, nr: 0xffffffff, want: retKillP},
		{arch: mustArch(t, specs.ArchX86), name: "read", want: retKillP},
	})
	differential(t, cfg, x8664, f)

	// Only x32 listed, on a non-x86 host: plain x86_64 calls are bad arch.
	cfg.Architectures = []specs.Arch{specs.ArchX32}
	arm64 := mustArch(t, specs.ArchAARCH64)
	f = mustCompile(t, cfg, arm64)
	checkCalls(t, f, arm64, []call{
		{arch: x32, name: "read", want: retAllow},
		{arch: x32, name: "close", want: retErrno(unix.EPERM)},
		{arch: x8664, name: "read", want: retKillP},
		{arch: arm64, name: "read", want: retAllow},
	})
	differential(t, cfg, arm64, f)
}

func TestDockerDefaultOtherHosts(t *testing.T) {
	for _, h := range []struct {
		goarch string
		native specs.Arch
	}{
		{"arm64", specs.ArchAARCH64},
		{"s390x", specs.ArchS390X},
		{"riscv64", specs.ArchRISCV64},
		{"ppc64le", specs.ArchPPC64LE},
	} {
		t.Run(h.goarch, func(t *testing.T) {
			native := mustArch(t, h.native)
			cfg := dockerProfile(t, h.goarch, h.native, dockerDefaultCaps, "6.18")
			f := mustCompile(t, cfg, native)
			t.Logf("%s: %d instructions", h.goarch, len(f.prog))
			differential(t, cfg, native, f)
		})
	}

	arm64, arm := mustArch(t, specs.ArchAARCH64), mustArch(t, specs.ArchARM)
	f := mustCompile(t, dockerProfile(t, "arm64", specs.ArchAARCH64, dockerDefaultCaps, "6.18"), arm64)
	checkCalls(t, f, arm64, []call{
		{arch: arm64, name: "openat", want: retAllow},
		{arch: arm64, name: "personality", args: [6]uint64{0x1234}, want: retErrno(unix.EPERM)},
		{arch: arm, name: "set_tls", want: retAllow},
		{arch: arm, name: "breakpoint", want: retAllow},
		{arch: arm, name: "arm_sync_file_range", want: retAllow},
		{arch: arm, name: "open", want: retAllow},
		{arch: arm, name: "kexec_load", want: retErrno(unix.EPERM)},
		{arch: mustArch(t, specs.ArchX86_64), name: "read", want: retKillP},
	})

	// s390x is big-endian: arguments are loaded from the other word, and
	// its clone flags are argument 1.
	s390x, s390 := mustArch(t, specs.ArchS390X), mustArch(t, specs.ArchS390)
	f = mustCompile(t, dockerProfile(t, "s390x", specs.ArchS390X, dockerDefaultCaps, "6.18"), s390x)
	checkCalls(t, f, s390x, []call{
		{arch: s390x, name: "clone", args: [6]uint64{0, sigchld}, want: retAllow},
		{arch: s390x, name: "clone", args: [6]uint64{0, unix.CLONE_NEWUSER}, want: retErrno(unix.EPERM)},
		{arch: s390x, name: "personality", args: [6]uint64{0xffffffff}, want: retAllow},
		{arch: s390x, name: "personality", args: [6]uint64{0x1_ffffffff}, want: retErrno(unix.EPERM)},
		{arch: s390, name: "personality", args: [6]uint64{0x1_ffffffff}, want: retAllow},
		{arch: s390x, name: "s390_runtime_instr", want: retAllow},
	})
}

func TestArgumentOperators(t *testing.T) {
	x8664, x86 := mustArch(t, specs.ArchX86_64), mustArch(t, specs.ArchX86)
	const v = 0x00000005_00000010 // high word 5, low word 16
	rule := func(op specs.LinuxSeccompOperator, val, two uint64) specs.LinuxSyscall {
		return specs.LinuxSyscall{
			Names: []string{"getpid"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(unix.EXDEV)),
			Args: []specs.LinuxSeccompArg{{Index: 2, Op: op, Value: val, ValueTwo: two}},
		}
	}
	// The values around v: equal, and each word one above and below.
	probes := []uint64{v, v - 1, v + 1, v - 1<<32, v + 1<<32, 0x10, 0, ^uint64(0), 0x00000005_00000000, 0x00000006_00000000}
	for _, tc := range []struct {
		op       specs.LinuxSeccompOperator
		val, two uint64
		holds    func(a uint64) bool
	}{
		{specs.OpEqualTo, v, 0, func(a uint64) bool { return a == v }},
		{specs.OpNotEqual, v, 0, func(a uint64) bool { return a != v }},
		{specs.OpLessThan, v, 0, func(a uint64) bool { return a < v }},
		{specs.OpLessEqual, v, 0, func(a uint64) bool { return a <= v }},
		{specs.OpGreaterThan, v, 0, func(a uint64) bool { return a > v }},
		{specs.OpGreaterEqual, v, 0, func(a uint64) bool { return a >= v }},
		{specs.OpMaskedEqual, 0x0000000f_000000f0, 0x00000005_00000010, func(a uint64) bool { return a&0x0000000f_000000f0 == 0x00000005_00000010 }},
		// libseccomp masks the datum too: bits outside the mask are ignored.
		{specs.OpMaskedEqual, 0xf0, 0xff10, func(a uint64) bool { return a&0xf0 == 0x10 }},
	} {
		t.Run(string(tc.op), func(t *testing.T) {
			cfg := &specs.LinuxSeccomp{
				DefaultAction: specs.ActAllow,
				Architectures: []specs.Arch{specs.ArchX86},
				Syscalls:      []specs.LinuxSyscall{rule(tc.op, tc.val, tc.two)},
			}
			f := mustCompile(t, cfg, x8664)
			var calls []call
			for _, a := range probes {
				want := uint32(retAllow)
				if tc.holds(a) {
					want = retErrno(unix.EXDEV)
				}
				calls = append(calls, call{arch: x8664, name: "getpid", args: [6]uint64{0, 0, a}, want: want})
			}
			checkCalls(t, f, x8664, calls)
			differential(t, cfg, x8664, f)
		})
	}

	// i386 compares only the low words: 0x10 equals 0x5_00000010 there.
	cfg := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86},
		Syscalls:      []specs.LinuxSyscall{rule(specs.OpEqualTo, v, 0)},
	}
	f := mustCompile(t, cfg, x8664)
	checkCalls(t, f, x8664, []call{
		{arch: x8664, name: "getpid", args: [6]uint64{0, 0, 0x10}, want: retAllow},
		{arch: x86, name: "getpid", args: [6]uint64{0, 0, 0x10}, want: retErrno(unix.EXDEV)},
		{arch: x86, name: "getpid", args: [6]uint64{0, 0, 0x11}, want: retAllow},
	})
}

func BenchmarkCompileDockerDefault(b *testing.B) {
	cfg := dockerProfile(b, "amd64", specs.ArchX86_64, dockerDefaultCaps, "6.18")
	native := mustArch(b, specs.ArchX86_64)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := compile(cfg, native); err != nil {
			b.Fatal(err)
		}
	}
}
