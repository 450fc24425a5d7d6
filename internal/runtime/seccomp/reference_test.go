package seccomp

import (
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// reference is the documented semantics written as plainly as possible,
// straight from the configuration, with no code shared with the compiler
// beyond the syscall tables and arch definitions. Tests compare the compiled
// program against it.
func reference(cfg *specs.LinuxSeccomp, native *arch, d seccompData) uint32 {
	act := func(a specs.LinuxSeccompAction, errnoRet *uint) uint32 {
		for _, def := range actionDefs {
			if def.name != a {
				continue
			}
			if !def.errno {
				return def.ret
			}
			if errnoRet != nil {
				return def.ret | uint32(*errnoRet)
			}
			return def.ret | 1 // EPERM
		}
		panic("bad action " + a)
	}
	def := act(cfg.DefaultAction, cfg.DefaultErrnoRet)

	// Which ABI made the call?
	var abi *arch
	candidates := []*arch{native}
	for _, n := range cfg.Architectures {
		candidates = append(candidates, archByName(n))
	}
	for _, a := range candidates {
		if a.audit != d.arch {
			continue
		}
		if a.audit == unix.AUDIT_ARCH_X86_64 && (a.name == specs.ArchX32) != (d.nr >= 0x40000000) {
			continue
		}
		abi = a
	}
	if abi == nil {
		return unix.SECCOMP_RET_KILL_PROCESS
	}

	matches := func(c specs.LinuxSeccompArg) bool {
		a, v, v2 := d.args[c.Index], c.Value, c.ValueTwo
		if !abi.bits64 {
			a, v, v2 = a&0xffffffff, v&0xffffffff, v2&0xffffffff
		}
		switch c.Op {
		case specs.OpEqualTo:
			return a == v
		case specs.OpNotEqual:
			return a != v
		case specs.OpLessThan:
			return a < v
		case specs.OpLessEqual:
			return a <= v
		case specs.OpGreaterThan:
			return a > v
		case specs.OpGreaterEqual:
			return a >= v
		case specs.OpMaskedEqual:
			return a&v == v2&v
		}
		panic("bad op")
	}
	// noop: a comparison that cannot fail on this ABI.
	noop := func(c specs.LinuxSeccompArg) bool {
		m := c.Value
		if !abi.bits64 {
			m &= 0xffffffff
		}
		return c.Op == specs.OpMaskedEqual && m == 0
	}

	var uncond *uint32
	for _, sc := range cfg.Syscalls {
		a := act(sc.Action, sc.ErrnoRet)
		if a == def {
			continue // runc drops these
		}
		// runc: several conditions on one argument index -> one rule each.
		sets := [][]specs.LinuxSeccompArg{sc.Args}
		count := map[uint]int{}
		for _, c := range sc.Args {
			count[c.Index]++
		}
		for _, n := range count {
			if n > 1 {
				sets = nil
				for _, c := range sc.Args {
					sets = append(sets, []specs.LinuxSeccompArg{c})
				}
				break
			}
		}
		for _, name := range sc.Names {
			for _, set := range sets {
				var variants [][]specs.LinuxSeccompArg
				if nr, ok := lookupSyscall(abi.col, name); ok && nr == d.nr {
					variants = append(variants, set)
				}
				if nr, call, ok := abi.muxed(lookupName(name)); ok && nr == d.nr {
					v := []specs.LinuxSeccompArg{{Index: 0, Op: specs.OpEqualTo, Value: uint64(call)}}
					for _, c := range set {
						if c.Index != 0 {
							v = append(v, c)
						}
					}
					variants = append(variants, v)
				}
				for _, v := range variants {
					conditional, all := false, true
					for _, c := range v {
						if noop(c) {
							continue
						}
						conditional = true
						all = all && matches(c)
					}
					if !conditional {
						if uncond == nil {
							uncond = &a
						}
						continue
					}
					if all {
						// Conditional rules are checked in order before
						// any unconditional one: the first match wins.
						return a
					}
				}
			}
		}
	}
	if uncond != nil {
		return *uncond
	}
	return def
}
