package seccomp

import (
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// actionDef maps a runtime-spec action to the SECCOMP_RET_* value.
type actionDef struct {
	name specs.LinuxSeccompAction
	ret  uint32
	// errno: the action carries 16 bits of data (errnoRet). runc defaults
	// the data of both ERRNO and TRACE to EPERM; we do the same.
	errno bool
}

var actionDefs = []actionDef{
	{specs.ActAllow, unix.SECCOMP_RET_ALLOW, false},
	{specs.ActErrno, unix.SECCOMP_RET_ERRNO, true},
	{specs.ActKill, unix.SECCOMP_RET_KILL_THREAD, false}, // libseccomp's SCMP_ACT_KILL is KILL_THREAD
	{specs.ActKillProcess, unix.SECCOMP_RET_KILL_PROCESS, false},
	{specs.ActKillThread, unix.SECCOMP_RET_KILL_THREAD, false},
	{specs.ActLog, unix.SECCOMP_RET_LOG, false},
	{specs.ActNotify, unix.SECCOMP_RET_USER_NOTIF, false},
	{specs.ActTrace, unix.SECCOMP_RET_TRACE, true},
	{specs.ActTrap, unix.SECCOMP_RET_TRAP, false},
}

var operators = []specs.LinuxSeccompOperator{
	specs.OpEqualTo, specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpLessEqual,
	specs.OpLessThan, specs.OpMaskedEqual, specs.OpNotEqual,
}

// flagTsync is missing from specs-go's constants.
const flagTsync specs.LinuxSeccompFlag = "SECCOMP_FILTER_FLAG_TSYNC"

var flagDefs = []struct {
	name specs.LinuxSeccompFlag
	bit  uint
}{
	{specs.LinuxSeccompFlagLog, unix.SECCOMP_FILTER_FLAG_LOG},
	{specs.LinuxSeccompFlagSpecAllow, unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW},
	{flagTsync, unix.SECCOMP_FILTER_FLAG_TSYNC},
	{specs.LinuxSeccompFlagWaitKillableRecv, unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV},
}

// SupportedActions lists the runtime-spec action names Compile accepts, for
// the runtime's `features` command.
func SupportedActions() []string {
	out := make([]string, len(actionDefs))
	for i, a := range actionDefs {
		out[i] = string(a.name)
	}
	return out
}

// SupportedOperators lists the argument comparison operators Compile accepts.
func SupportedOperators() []string {
	out := make([]string, len(operators))
	for i, o := range operators {
		out[i] = string(o)
	}
	return out
}

// SupportedArchs lists the architectures Compile has syscall tables for.
// Other names from the runtime-spec are rejected as not implemented.
func SupportedArchs() []string {
	out := make([]string, len(arches))
	for i, a := range arches {
		out[i] = string(a.name)
	}
	return out
}

// SupportedFlags lists the flags Compile accepts and Load passes to
// seccomp(2). Whether the running kernel supports each one is only known when
// Load runs (all of them since Linux 5.19).
func SupportedFlags() []string {
	out := make([]string, len(flagDefs))
	for i, f := range flagDefs {
		out[i] = string(f.name)
	}
	return out
}
