package seccomp

import (
	"runtime"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// x32Bit marks x32 syscalls: they arrive as AUDIT_ARCH_X86_64 with this bit
// set in the number (the x32 column of sysTable already includes it).
const x32Bit = 0x40000000

// arch is one syscall ABI a filter can match.
type arch struct {
	name      specs.Arch
	audit     uint32 // AUDIT_ARCH_* value the kernel puts in seccomp_data.arch
	col       int    // column of sysTable
	bits64    bool   // false: only the low 32 bits of arguments are compared
	bigEndian bool
	// multiplexed: socket and SysV IPC calls can also be made through
	// socketcall(2) and ipc(2), so rules on them are mirrored there.
	multiplexed bool
}

// arches lists every ABI we have a syscall table for. bits64 follows
// libseccomp, which treats x32 as a 32-bit ABI for argument comparisons.
var arches = []arch{
	{name: specs.ArchX86_64, audit: unix.AUDIT_ARCH_X86_64, col: colX86_64, bits64: true},
	{name: specs.ArchX86, audit: unix.AUDIT_ARCH_I386, col: colX86, multiplexed: true},
	{name: specs.ArchX32, audit: unix.AUDIT_ARCH_X86_64, col: colX32},
	{name: specs.ArchAARCH64, audit: unix.AUDIT_ARCH_AARCH64, col: colAARCH64, bits64: true},
	{name: specs.ArchARM, audit: unix.AUDIT_ARCH_ARM, col: colARM},
	{name: specs.ArchRISCV64, audit: unix.AUDIT_ARCH_RISCV64, col: colRISCV64, bits64: true},
	{name: specs.ArchPPC64LE, audit: unix.AUDIT_ARCH_PPC64LE, col: colPPC64, bits64: true, multiplexed: true},
	{name: specs.ArchPPC64, audit: unix.AUDIT_ARCH_PPC64, col: colPPC64, bits64: true, bigEndian: true, multiplexed: true},
	{name: specs.ArchPPC, audit: unix.AUDIT_ARCH_PPC, col: colPPC, bigEndian: true, multiplexed: true},
	{name: specs.ArchS390X, audit: unix.AUDIT_ARCH_S390X, col: colS390X, bits64: true, bigEndian: true, multiplexed: true},
	{name: specs.ArchS390, audit: unix.AUDIT_ARCH_S390, col: colS390, bigEndian: true, multiplexed: true},
}

// knownArches are names the runtime-spec defines that we have no syscall
// table for: they are valid input but not implemented.
var knownArches = []specs.Arch{
	specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchMIPSEL,
	specs.ArchMIPSEL64, specs.ArchMIPSEL64N32, specs.ArchPARISC, specs.ArchPARISC64,
	specs.ArchLOONGARCH64, specs.ArchM68K, specs.ArchSH, specs.ArchSHEB,
}

func archByName(name specs.Arch) *arch {
	for i := range arches {
		if arches[i].name == name {
			return &arches[i]
		}
	}
	return nil
}

// nativeArch maps the Go architecture we were built for to its ABI; nil when
// there is no table for it.
func nativeArch() *arch {
	switch runtime.GOARCH {
	case "amd64":
		return archByName(specs.ArchX86_64)
	case "386":
		return archByName(specs.ArchX86)
	case "arm64":
		return archByName(specs.ArchAARCH64)
	case "arm":
		return archByName(specs.ArchARM)
	case "riscv64":
		return archByName(specs.ArchRISCV64)
	case "ppc64le":
		return archByName(specs.ArchPPC64LE)
	case "ppc64":
		return archByName(specs.ArchPPC64)
	case "s390x":
		return archByName(specs.ArchS390X)
	}
	return nil
}

// muxCall is a call reachable through socketcall(2) or ipc(2), with its
// sub-call number (linux/net.h SYS_*, linux/ipc.h). Slices rather than maps
// so that nothing runs at process start.
type muxCall struct {
	name string
	call uint32
}

var (
	socketcalls = []muxCall{
		{"socket", 1}, {"bind", 2}, {"connect", 3}, {"listen", 4}, {"accept", 5},
		{"getsockname", 6}, {"getpeername", 7}, {"socketpair", 8}, {"send", 9},
		{"recv", 10}, {"sendto", 11}, {"recvfrom", 12}, {"shutdown", 13},
		{"setsockopt", 14}, {"getsockopt", 15}, {"sendmsg", 16}, {"recvmsg", 17},
		{"accept4", 18}, {"recvmmsg", 19}, {"sendmmsg", 20},
	}
	ipccalls = []muxCall{
		{"semop", 1}, {"semget", 2}, {"semctl", 3}, {"semtimedop", 4},
		{"msgsnd", 11}, {"msgrcv", 12}, {"msgget", 13}, {"msgctl", 14},
		{"shmat", 21}, {"shmdt", 22}, {"shmget", 23}, {"shmctl", 24},
	}
)

func findMuxCall(calls []muxCall, name string) (uint32, bool) {
	for _, c := range calls {
		if c.name == name {
			return c.call, true
		}
	}
	return 0, false
}
