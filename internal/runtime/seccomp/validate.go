package seccomp

import (
	"fmt"
	"slices"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// maxErrnoRet is the largest errnoRet that fits SECCOMP_RET_DATA. (The
// kernel caps ERRNO at MAX_ERRNO, 4095; TRACE passes all 16 bits to the
// tracer.)
const maxErrnoRet = 0xffff

// checks run in order before any code is generated; the first failure is
// returned. Each is a small named function so the list reads as the spec.
var checks = []func(cfg *specs.LinuxSeccomp, native *arch) error{
	checkDefaultAction,
	checkArchitectures,
	checkFlags,
	checkListener,
	checkSyscalls,
}

func validate(cfg *specs.LinuxSeccomp, native *arch) error {
	if cfg == nil {
		return fmt.Errorf("seccomp: no configuration: %w", errdefs.ErrInvalidParameter)
	}
	for _, check := range checks {
		if err := check(cfg, native); err != nil {
			return err
		}
	}
	return nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("seccomp: "+format+": %w", append(args, errdefs.ErrInvalidParameter)...)
}

func lookupAction(a specs.LinuxSeccompAction) *actionDef {
	for i := range actionDefs {
		if actionDefs[i].name == a {
			return &actionDefs[i]
		}
	}
	return nil
}

// checkAction validates an action and its errnoRet; where names the field.
func checkAction(where string, a specs.LinuxSeccompAction, errnoRet *uint) error {
	if a == "" {
		return invalid("%s: action is required", where)
	}
	def := lookupAction(a)
	if def == nil {
		return invalid("%s: unknown action %q", where, a)
	}
	if errnoRet != nil {
		// The spec requires an error when the action carries no errno.
		if !def.errno {
			return invalid("%s: errnoRet is only valid with SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not %s", where, a)
		}
		if *errnoRet > maxErrnoRet {
			return invalid("%s: errnoRet %d does not fit in 16 bits", where, *errnoRet)
		}
	}
	return nil
}

func checkDefaultAction(cfg *specs.LinuxSeccomp, _ *arch) error {
	if err := checkAction("defaultAction", cfg.DefaultAction, cfg.DefaultErrnoRet); err != nil {
		return err
	}
	// Every syscall would wait for the agent, including the ones the
	// runtime needs to hand the listener fd over: the container would hang
	// (runc refuses this too).
	if cfg.DefaultAction == specs.ActNotify {
		return invalid("defaultAction: SCMP_ACT_NOTIFY cannot be the default action")
	}
	return nil
}

func checkArchitectures(cfg *specs.LinuxSeccomp, native *arch) error {
	for i, name := range cfg.Architectures {
		a := archByName(name)
		if a == nil {
			if slices.Contains(knownArches, name) {
				return fmt.Errorf("seccomp: architectures[%d]: %s has no syscall table in this build: %w",
					i, name, errdefs.ErrNotImplemented)
			}
			return invalid("architectures[%d]: unknown architecture %q", i, name)
		}
		// seccomp_data is in the kernel's byte order, so a filter can
		// only serve ABIs of one endianness (libseccomp refuses too).
		if a.bigEndian != native.bigEndian {
			return invalid("architectures[%d]: %s has a different byte order than %s", i, name, native.name)
		}
	}
	return nil
}

func checkFlags(cfg *specs.LinuxSeccomp, _ *arch) error {
	for i, f := range cfg.Flags {
		if flagBit(f) == 0 {
			return invalid("flags[%d]: unknown flag %q", i, f)
		}
	}
	return nil
}

func flagBit(f specs.LinuxSeccompFlag) uint {
	for _, d := range flagDefs {
		if d.name == f {
			return d.bit
		}
	}
	return 0
}

func checkListener(cfg *specs.LinuxSeccomp, _ *arch) error {
	if cfg.ListenerMetadata != "" && cfg.ListenerPath == "" {
		return invalid("listenerMetadata requires listenerPath")
	}
	// Without an agent to hand the listener to, notifying calls could
	// never be answered; runc fails the container start for this, we fail
	// earlier.
	if cfg.ListenerPath == "" {
		for i, sc := range cfg.Syscalls {
			if sc.Action == specs.ActNotify {
				return invalid("syscalls[%d]: SCMP_ACT_NOTIFY requires listenerPath", i)
			}
		}
	}
	return nil
}

func checkSyscalls(cfg *specs.LinuxSeccomp, _ *arch) error {
	for i, sc := range cfg.Syscalls {
		where := fmt.Sprintf("syscalls[%d]", i)
		if len(sc.Names) == 0 {
			return invalid("%s: names must contain at least one syscall", where)
		}
		for j, n := range sc.Names {
			if n == "" {
				return invalid("%s: names[%d] is empty", where, j)
			}
			// After Load the runtime still has to pass the listener fd
			// on, over a pipe or socket; notifying on write(2) could
			// deadlock it. runc refuses this, so profiles behave alike.
			if n == "write" && sc.Action == specs.ActNotify {
				return invalid("%s: SCMP_ACT_NOTIFY cannot be used for the write syscall", where)
			}
		}
		if err := checkAction(where, sc.Action, sc.ErrnoRet); err != nil {
			return err
		}
		for j, arg := range sc.Args {
			if arg.Index > 5 {
				return invalid("%s: args[%d]: index %d out of range (syscalls have 6 arguments, 0-5)", where, j, arg.Index)
			}
			if !slices.Contains(operators, arg.Op) {
				return invalid("%s: args[%d]: unknown operator %q", where, j, arg.Op)
			}
		}
	}
	return nil
}
