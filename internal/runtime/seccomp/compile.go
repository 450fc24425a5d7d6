package seccomp

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// badArchAction is returned for syscalls made through an ABI the filter does
// not list. libseccomp's default is SCMP_ACT_KILL (the thread); we kill the
// whole process so that no half-dead process is left behind.
const badArchAction = unix.SECCOMP_RET_KILL_PROCESS

// maxInsns is BPF_MAXINSNS, the kernel's limit on a classic BPF program.
const maxInsns = 4096

// Filter is a compiled, ready-to-load seccomp program. It is immutable and
// may be loaded any number of times (each Load installs it on the calling
// thread, or on all threads with SECCOMP_FILTER_FLAG_TSYNC).
type Filter struct {
	prog    []unix.SockFilter
	flags   uint // seccomp(2) flags, including NEW_LISTENER when notify is used
	implied uint // flags added by default, dropped if the kernel lacks them
	notify  bool
	skipped []string
}

// Program returns a copy of the BPF instructions, for tests and debugging.
func (f *Filter) Program() []unix.SockFilter { return slices.Clone(f.prog) }

// UsesNotify reports whether any rule uses SCMP_ACT_NOTIFY, that is whether
// Load returns a listener fd that the runtime must pass to listenerPath.
func (f *Filter) UsesNotify() bool { return f.notify }

// Skipped returns the syscall names (sorted) that no architecture in the
// filter knows. Their rules were left out, as runc and libseccomp do for
// syscalls unknown to the kernel headers they were built with.
func (f *Filter) Skipped() []string { return slices.Clone(f.skipped) }

// Compile compiles cfg for the native architecture plus cfg.Architectures. It
// does all validation: errors wrap errdefs.ErrInvalidParameter for bad input
// and errdefs.ErrNotImplemented for valid input we cannot serve (an
// architecture without a syscall table). See the package documentation for
// the exact semantics.
func Compile(cfg *specs.LinuxSeccomp) (*Filter, error) {
	native := nativeArch()
	if native == nil {
		return nil, fmt.Errorf("seccomp: no syscall table for GOARCH %s: %w", runtime.GOARCH, errdefs.ErrNotImplemented)
	}
	return compile(cfg, native)
}

// rule is one syscall name with one action and the conditions that must
// all hold (after runc's split, see splitArgs).
type rule struct {
	name  syscallName
	act   uint32
	conds []specs.LinuxSeccompArg
}

// syscallName is a name looked up once: its row in sysTable, and the
// multiplexer that can also reach it.
type syscallName struct {
	row  int    // -1: no ABI has a syscall of this name
	mux  string // "socketcall", "ipc" or ""
	call uint32 // sub-call number for mux
}

func lookupName(name string) syscallName {
	n := syscallName{row: findRow(name)}
	if c, ok := findMuxCall(socketcalls, name); ok {
		n.mux, n.call = "socketcall", c
	} else if c, ok := findMuxCall(ipccalls, name); ok {
		n.mux, n.call = "ipc", c
	}
	return n
}

// cond is a condition as one ABI sees it: for 32-bit ABIs value and mask are
// already truncated to the low word.
type cond struct {
	arg   uint
	op    specs.LinuxSeccompOperator
	value uint64 // for MASKED_EQ: valueTwo & mask, as libseccomp compares
	mask  uint64 // MASKED_EQ only
}

type archRule struct {
	act   uint32
	conds []cond
}

// sysRules is what one syscall number does on one ABI: the conditional
// rules in order, then the fallback (the first unconditional rule's action,
// else the default action).
type sysRules struct {
	conds     []archRule
	fallback  uint32
	hasUncond bool
}

func compile(cfg *specs.LinuxSeccomp, native *arch) (*Filter, error) {
	if err := validate(cfg, native); err != nil {
		return nil, err
	}
	def := actionValue(cfg.DefaultAction, cfg.DefaultErrnoRet)

	filterArches := []*arch{native}
	for _, name := range cfg.Architectures {
		if a := archByName(name); !slices.Contains(filterArches, a) {
			filterArches = append(filterArches, a)
		}
	}

	f := &Filter{}
	var rules []rule
	names := map[string]syscallName{}
	for _, sc := range cfg.Syscalls {
		act := actionValue(sc.Action, sc.ErrnoRet)
		if sc.Action == specs.ActNotify {
			f.notify = true
		}
		for _, name := range sc.Names {
			n, seen := names[name]
			if !seen {
				n = lookupName(name)
				names[name] = n
				if !slices.ContainsFunc(filterArches, func(a *arch) bool { return a.resolves(n) }) {
					f.skipped = append(f.skipped, name)
				}
			}
			// runc drops rules that repeat the default action (libseccomp
			// refuses them); with first-match-wins this matters, so we
			// do the same.
			if act == def {
				continue
			}
			for _, conds := range splitArgs(sc.Args) {
				rules = append(rules, rule{name: n, act: act, conds: conds})
			}
		}
	}
	sort.Strings(f.skipped)

	e := &emitter{native: native, def: def}
	e.program(filterArches, rules)
	prog, err := e.a.assemble()
	var big errTooLarge
	if errors.As(err, &big) {
		return nil, fmt.Errorf("seccomp: filter needs more than %d BPF instructions (at least %d), the kernel's limit: %w",
			maxInsns, big.n, errdefs.ErrInvalidParameter)
	}
	if err != nil {
		return nil, err
	}
	f.prog = prog

	for _, fl := range cfg.Flags {
		f.flags |= flagBit(fl)
	}
	if f.notify {
		f.flags |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
		// The kernel only accepts TSYNC with a listener if a failed
		// sync is reported as ESRCH (it cannot return both a thread id
		// and an fd).
		if f.flags&unix.SECCOMP_FILTER_FLAG_TSYNC != 0 {
			f.flags |= unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH
		}
	} else {
		// Only meaningful with a listener, and EINVAL without one;
		// libseccomp ignores it likewise.
		f.flags &^= unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
	}
	if cfg.Flags == nil {
		// runc's default when no flags are given at all: do not force
		// the Speculative Store Bypass mitigation on the container.
		f.implied = unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
	}
	return f, nil
}

// actionValue is the SECCOMP_RET_* value of a validated action.
func actionValue(a specs.LinuxSeccompAction, errnoRet *uint) uint32 {
	def := lookupAction(a)
	v := def.ret
	if def.errno {
		if errnoRet != nil {
			v |= uint32(*errnoRet)
		} else {
			v |= uint32(unix.EPERM)
		}
	}
	return v
}

// splitArgs returns the condition sets of one rule. Like runc, when two or
// more conditions test the same argument index the rule becomes one rule per
// condition (so they are ORed, not ANDed): old libseccomp could not AND
// several comparisons of one argument, and profiles were written for that
// behaviour, for example to allow a few distinct values of one flag.
func splitArgs(args []specs.LinuxSeccompArg) [][]specs.LinuxSeccompArg {
	var seen [6]bool
	repeated := false
	for _, a := range args {
		if seen[a.Index] {
			repeated = true
		}
		seen[a.Index] = true
	}
	if !repeated {
		return [][]specs.LinuxSeccompArg{args}
	}
	out := make([][]specs.LinuxSeccompArg, len(args))
	for i := range args {
		out[i] = args[i : i+1]
	}
	return out
}

// resolves reports whether n means anything on a: a syscall of its own or a
// sub-call of socketcall(2)/ipc(2).
func (a *arch) resolves(n syscallName) bool {
	if _, ok := rowNr(n.row, a.col); ok {
		return true
	}
	_, _, ok := a.muxed(n)
	return ok
}

// muxed returns the multiplexer syscall number and sub-call for n, when a
// reaches it through socketcall(2) or ipc(2).
func (a *arch) muxed(n syscallName) (nr, call uint32, ok bool) {
	if !a.multiplexed || n.mux == "" {
		return 0, 0, false
	}
	nr, ok = lookupSyscall(a.col, n.mux)
	return nr, n.call, ok
}

// convert turns a spec condition into what a compares. Conditions that are
// always true (a MASKED_EQ whose mask is 0 on this ABI) are dropped, as
// libseccomp does.
func (a *arch) convert(args []specs.LinuxSeccompArg) []cond {
	var out []cond
	for _, s := range args {
		c := cond{arg: s.Index, op: s.Op, value: s.Value}
		if s.Op == specs.OpMaskedEqual {
			c.mask, c.value = s.Value, s.ValueTwo&s.Value
		}
		if !a.bits64 {
			c.value &= 0xffffffff
			c.mask &= 0xffffffff
		}
		if c.op == specs.OpMaskedEqual && c.mask == 0 {
			continue
		}
		out = append(out, c)
	}
	return out
}

// resolve collects the rules that apply to each syscall number of a.
func (a *arch) resolve(rules []rule, def uint32) map[uint32]*sysRules {
	bynr := make(map[uint32]*sysRules, len(rules))
	// At most two entries per rule (direct and multiplexed), so the arena
	// never grows and the pointers into it stay put.
	arena := make([]sysRules, 0, 2*len(rules))
	add := func(nr uint32, act uint32, conds []cond) {
		s := bynr[nr]
		if s == nil {
			arena = append(arena, sysRules{fallback: def})
			s = &arena[len(arena)-1]
			bynr[nr] = s
		}
		switch {
		case len(conds) > 0:
			s.conds = append(s.conds, archRule{act: act, conds: conds})
		case !s.hasUncond:
			// The first unconditional rule wins; later ones for the
			// same syscall are unreachable.
			s.fallback, s.hasUncond = act, true
		}
	}
	for _, r := range rules {
		if nr, ok := rowNr(r.name.row, a.col); ok {
			add(nr, r.act, a.convert(r.conds))
		}
		// On multiplexed ABIs libseccomp mirrors the rule onto the
		// multiplexer with argument 0 replaced by the sub-call number:
		// the sub-call's own arguments are in user memory, out of BPF's
		// reach, so a deny on socket(2) must also deny socketcall(SYS_SOCKET).
		if r.name.mux == "" || !a.multiplexed {
			continue
		}
		if nr, call, ok := a.muxed(r.name); ok {
			args := []specs.LinuxSeccompArg{{Index: 0, Op: specs.OpEqualTo, Value: uint64(call)}}
			for _, c := range r.conds {
				if c.Index != 0 {
					args = append(args, c)
				}
			}
			add(nr, r.act, a.convert(args))
		}
	}
	for nr, s := range bynr {
		// A trailing conditional rule with the fallback's action cannot
		// change the outcome.
		for n := len(s.conds); n > 0 && s.conds[n-1].act == s.fallback; n-- {
			s.conds = s.conds[:n-1]
		}
		if len(s.conds) == 0 && s.fallback == def {
			delete(bynr, nr)
		}
	}
	return bynr
}
