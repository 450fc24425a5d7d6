package seccomp

import (
	"sort"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Program layout:
//
//	ld arch; jeq AUDIT_ARCH_x -> section x; ...; ret KILL_PROCESS
//	section (one per AUDIT_ARCH value, native first):
//	  ld nr; a binary decision tree over syscall-number intervals
//	  argument-checking blocks for syscalls with conditional rules
//	  the section's RET instructions, one per distinct action
//
// The tree compares against interval boundaries, not single numbers: runs of
// consecutive syscalls with the same action (common in allow-lists) and the
// gaps between them cost one node each. Docker's default profile needs about
// seven comparisons per syscall.

// seccomp_data offsets (linux/seccomp.h).
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

type emitter struct {
	a      assembler
	native *arch
	def    uint32
	rets   map[uint32]label // the current section's RET pool
}

// region is a range of syscall numbers within a section, served by one ABI
// (nil: a syscall from an ABI the filter does not list).
type region struct {
	lo, hi uint64 // [lo, hi)
	arch   *arch
	rules  map[uint32]*sysRules
}

func (e *emitter) program(filterArches []*arch, rules []rule) {
	// Group ABIs by the AUDIT_ARCH value the kernel reports; only x86_64
	// and x32 share one, split by the x32 bit of the syscall number.
	type section struct {
		audit   uint32
		regions []region
		l       label
	}
	var sections []*section
	byAudit := map[uint32]*section{}
	for _, a := range filterArches {
		s := byAudit[a.audit]
		if s == nil {
			s = &section{audit: a.audit, l: e.a.newLabel()}
			if a.audit == unix.AUDIT_ARCH_X86_64 {
				s.regions = []region{{lo: 0, hi: x32Bit}, {lo: x32Bit, hi: 1 << 32}}
			} else {
				s.regions = []region{{lo: 0, hi: 1 << 32}}
			}
			byAudit[a.audit] = s
			sections = append(sections, s)
		}
		i := 0
		if a.name == specs.ArchX32 {
			i = 1
		}
		s.regions[i].arch = a
		s.regions[i].rules = a.resolve(rules, e.def)
	}

	e.a.ldAbs(offArch)
	for _, s := range sections {
		next := e.a.newLabel()
		e.a.jmp(unix.BPF_JEQ, s.audit, s.l, next)
		e.a.bind(next)
	}
	e.a.ret(badArchAction)
	for _, s := range sections {
		e.a.bind(s.l)
		e.section(s.regions)
	}
}

// seg is an interval of syscall numbers starting at start (up to the next
// seg) and where it goes.
type seg struct {
	start uint64
	to    label
}

type block struct {
	l     label
	arch  *arch
	rules *sysRules
}

func (e *emitter) section(regions []region) {
	e.rets = map[uint32]label{}
	var segs []seg
	add := func(start uint64, to label) {
		if n := len(segs); n > 0 && segs[n-1].start == start {
			segs = segs[:n-1] // a later, more specific entry
		}
		if n := len(segs); n > 0 && segs[n-1].to == to {
			return
		}
		segs = append(segs, seg{start, to})
	}
	var blocks []block
	for _, r := range regions {
		var background label
		if r.arch == nil {
			background = e.ret(badArchAction)
		} else {
			background = e.ret(e.def)
		}
		add(r.lo, background)
		nrs := make([]uint32, 0, len(r.rules))
		for nr := range r.rules {
			if uint64(nr) >= r.lo && uint64(nr) < r.hi {
				nrs = append(nrs, nr)
			}
		}
		sort.Slice(nrs, func(i, j int) bool { return nrs[i] < nrs[j] })
		for _, nr := range nrs {
			s := r.rules[nr]
			var to label
			if len(s.conds) == 0 {
				to = e.ret(s.fallback)
			} else {
				to = e.a.newLabel()
				blocks = append(blocks, block{to, r.arch, s})
			}
			add(uint64(nr), to)
			if uint64(nr)+1 < r.hi {
				add(uint64(nr)+1, background)
			}
		}
	}

	if len(segs) == 1 {
		e.a.ja(segs[0].to)
	} else {
		e.a.ldAbs(offNr)
		e.tree(segs)
	}
	for _, b := range blocks {
		e.a.bind(b.l)
		e.block(b.arch, b.rules)
	}
	acts := make([]uint32, 0, len(e.rets))
	for act := range e.rets {
		acts = append(acts, act)
	}
	sort.Slice(acts, func(i, j int) bool { return acts[i] < acts[j] })
	for _, act := range acts {
		e.a.bind(e.rets[act])
		e.a.ret(act)
	}
}

// ret returns the label of the section's RET for act.
func (e *emitter) ret(act uint32) label {
	l, ok := e.rets[act]
	if !ok {
		l = e.a.newLabel()
		e.rets[act] = l
	}
	return l
}

// tree emits a balanced decision tree over segs (len >= 2) with A holding
// the syscall number. Each node is one jge; children follow their parent, so
// all jumps go forward.
func (e *emitter) tree(segs []seg) {
	mid := len(segs) / 2
	left, right := e.subtree(segs[:mid]), e.subtree(segs[mid:])
	e.a.jmp(unix.BPF_JGE, uint32(segs[mid].start), right, left)
	if mid > 1 {
		e.a.bind(left)
		e.tree(segs[:mid])
	}
	if len(segs)-mid > 1 {
		e.a.bind(right)
		e.tree(segs[mid:])
	}
}

func (e *emitter) subtree(segs []seg) label {
	if len(segs) == 1 {
		return segs[0].to
	}
	return e.a.newLabel()
}

// block emits the conditional rules of one syscall: the first rule whose
// conditions all hold decides, else the fallback.
func (e *emitter) block(a *arch, s *sysRules) {
	for i, r := range s.conds {
		lastRule := i+1 == len(s.conds)
		fail := e.ret(s.fallback)
		if !lastRule {
			fail = e.a.newLabel() // the next rule
		}
		for j, c := range r.conds {
			lastCond := j+1 == len(r.conds)
			pass := e.ret(r.act)
			if !lastCond {
				pass = e.a.newLabel() // the next condition
			}
			e.cond(a, c, pass, fail)
			if !lastCond {
				e.a.bind(pass)
			}
		}
		if !lastRule {
			e.a.bind(fail)
		}
	}
}

// argOffsets returns where the low and high 32-bit words of argument i are
// in seccomp_data, which uses the kernel's byte order.
func (e *emitter) argOffsets(i uint) (lo, hi uint32) {
	off := uint32(offArgs + 8*i)
	if e.native.bigEndian {
		return off + 4, off
	}
	return off, off + 4
}

// cond emits a test of c that continues at t when it holds and at f when
// not. 64-bit ABIs compare both words (high first, as libseccomp does);
// 32-bit ABIs only the low word.
func (e *emitter) cond(a *arch, c cond, t, f label) {
	lo, hi := e.argOffsets(c.arg)
	vlo, vhi := uint32(c.value), uint32(c.value>>32)
	mlo, mhi := uint32(c.mask), uint32(c.mask>>32)
	const jeq, jgt, jge = unix.BPF_JEQ, unix.BPF_JGT, unix.BPF_JGE

	if !a.bits64 {
		e.a.ldAbs(lo)
		switch c.op {
		case specs.OpEqualTo:
			e.a.jmp(jeq, vlo, t, f)
		case specs.OpNotEqual:
			e.a.jmp(jeq, vlo, f, t)
		case specs.OpGreaterThan:
			e.a.jmp(jgt, vlo, t, f)
		case specs.OpGreaterEqual:
			e.a.jmp(jge, vlo, t, f)
		case specs.OpLessThan:
			e.a.jmp(jge, vlo, f, t)
		case specs.OpLessEqual:
			e.a.jmp(jgt, vlo, f, t)
		case specs.OpMaskedEqual:
			e.a.and(mlo)
			e.a.jmp(jeq, vlo, t, f)
		}
		return
	}

	switch c.op {
	case specs.OpEqualTo, specs.OpNotEqual:
		if c.op == specs.OpNotEqual {
			t, f = f, t
		}
		e.a.ldAbs(hi)
		next := e.a.newLabel()
		e.a.jmp(jeq, vhi, next, f)
		e.a.bind(next)
		e.a.ldAbs(lo)
		e.a.jmp(jeq, vlo, t, f)
	case specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpLessThan, specs.OpLessEqual:
		// GT and GE: high word greater, or equal and low word greater
		// (or equal). LT and LE are the negations of GE and GT.
		low := uint16(jgt)
		switch c.op {
		case specs.OpGreaterEqual:
			low = jge
		case specs.OpLessThan:
			low = jge
			t, f = f, t
		case specs.OpLessEqual:
			t, f = f, t
		}
		e.a.ldAbs(hi)
		eq := e.a.newLabel()
		e.a.jmp(jgt, vhi, t, eq)
		e.a.bind(eq)
		next := e.a.newLabel()
		e.a.jmp(jeq, vhi, next, f)
		e.a.bind(next)
		e.a.ldAbs(lo)
		e.a.jmp(low, vlo, t, f)
	case specs.OpMaskedEqual:
		if mhi != 0 {
			e.a.ldAbs(hi)
			e.a.and(mhi)
			next := e.a.newLabel()
			e.a.jmp(jeq, vhi, next, f)
			e.a.bind(next)
		}
		if mlo != 0 {
			e.a.ldAbs(lo)
			e.a.and(mlo)
			e.a.jmp(jeq, vlo, t, f)
		} else {
			e.a.ja(t)
		}
	}
}
