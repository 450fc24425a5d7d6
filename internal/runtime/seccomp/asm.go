package seccomp

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// A small classic-BPF assembler. Code is emitted with symbolic forward
// labels; assemble lays it out and resolves them. Conditional jumps have 8-bit
// offsets, so a branch whose target ends up more than 255 instructions away
// is sent to a trampoline: an equal RET within reach, or a copy of the RET
// placed right after the jump, or a BPF_JA there (32-bit offset).

// label names a position in the program; it is bound to the next
// instruction emitted after bind.
type label int

type insn struct {
	code   uint16
	k      uint32
	jt, jf label // conditional jumps; BPF_JA uses jt
}

const maxJump = 255

type assembler struct {
	insns  []insn
	labels []int // label -> index in insns, -1 while unbound
}

func (a *assembler) newLabel() label {
	a.labels = append(a.labels, -1)
	return label(len(a.labels) - 1)
}

func (a *assembler) bind(l label) { a.labels[l] = len(a.insns) }

func (a *assembler) ldAbs(off uint32) {
	a.insns = append(a.insns, insn{code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, k: off})
}

func (a *assembler) and(k uint32) {
	a.insns = append(a.insns, insn{code: unix.BPF_ALU | unix.BPF_AND | unix.BPF_K, k: k})
}

// jmp emits a conditional jump (op is BPF_JEQ, BPF_JGT, BPF_JGE or BPF_JSET).
func (a *assembler) jmp(op uint16, k uint32, jt, jf label) {
	a.insns = append(a.insns, insn{code: unix.BPF_JMP | op | unix.BPF_K, k: k, jt: jt, jf: jf})
}

func (a *assembler) ja(l label) {
	a.insns = append(a.insns, insn{code: unix.BPF_JMP | unix.BPF_JA, jt: l})
}

func (a *assembler) ret(k uint32) {
	a.insns = append(a.insns, insn{code: unix.BPF_RET | unix.BPF_K, k: k})
}

func isCond(in insn) bool {
	return in.code&0x07 == unix.BPF_JMP && in.code&0xf0 != unix.BPF_JA
}

func isJA(in insn) bool { return in.code == unix.BPF_JMP|unix.BPF_JA }

func isRet(in insn) bool { return in.code&0x07 == unix.BPF_RET }

// node is an instruction during layout; jump targets are nodes, so
// trampolines can be inserted without renumbering anything.
type node struct {
	code   uint16
	k      uint32
	jt, jf *node
	pos    int
}

// errTooLarge reports a program longer than maxInsns; layout stops early
// (code only grows), so hostile input cannot make it loop for long.
type errTooLarge struct{ n int }

func (e errTooLarge) Error() string { return fmt.Sprintf("program has %d instructions", e.n) }

// assemble lays the program out. Errors other than errTooLarge mean a bug in
// the code generator (unbound label, backward jump), never bad user input.
func (a *assembler) assemble() ([]unix.SockFilter, error) {
	n := len(a.insns)
	if n == 0 || !isRet(a.insns[n-1]) {
		return nil, fmt.Errorf("seccomp: internal error: program does not end in RET")
	}
	for l, at := range a.labels {
		if at < 0 || at >= n {
			return nil, fmt.Errorf("seccomp: internal error: label %d unbound", l)
		}
	}
	nodes := make([]*node, n)
	for i, in := range a.insns {
		nodes[i] = &node{code: in.code, k: in.k}
	}
	for i, in := range a.insns {
		if isCond(in) || isJA(in) {
			nodes[i].jt = nodes[a.labels[in.jt]]
			if a.labels[in.jt] <= i {
				return nil, fmt.Errorf("seccomp: internal error: backward jump at %d", i)
			}
		}
		if isCond(in) {
			nodes[i].jf = nodes[a.labels[in.jf]]
			if a.labels[in.jf] <= i {
				return nil, fmt.Errorf("seccomp: internal error: backward jump at %d", i)
			}
		}
	}
	nodes = threadJumps(nodes)
	if len(nodes) > maxInsns {
		return nil, errTooLarge{len(nodes)}
	}

	// Lay out until every conditional branch reaches its target. A far
	// branch to a RET is pointed at an equal RET within reach if there is
	// one, else gets a copy of it right after the jump (nothing falls
	// through past a conditional jump, so that slot is free) where later
	// branches can reuse it too; any other far branch gets a BPF_JA there.
	// Code only grows, so this terminates.
	for {
		for i, nd := range nodes {
			nd.pos = i
		}
		out := make([]*node, 0, len(nodes))
		changed := false
		for _, nd := range nodes {
			out = append(out, nd)
			if !isCondCode(nd.code) {
				continue
			}
			for _, br := range []**node{&nd.jt, &nd.jf} {
				t := *br
				if t.pos-nd.pos-1 <= maxJump {
					continue
				}
				changed = true
				if isRetCode(t.code) {
					if c := nearbyRet(nodes, nd.pos, t.k); c != nil {
						*br = c
						continue
					}
					*br = &node{code: t.code, k: t.k}
				} else {
					*br = &node{code: unix.BPF_JMP | unix.BPF_JA, jt: t}
				}
				out = append(out, *br)
			}
		}
		nodes = out
		if len(nodes) > maxInsns {
			return nil, errTooLarge{len(nodes)}
		}
		if !changed {
			break
		}
	}

	for i, nd := range nodes {
		nd.pos = i
	}
	prog := make([]unix.SockFilter, len(nodes))
	for i, nd := range nodes {
		f := unix.SockFilter{Code: nd.code, K: nd.k}
		switch {
		case isCondCode(nd.code):
			f.Jt, f.Jf = uint8(nd.jt.pos-i-1), uint8(nd.jf.pos-i-1)
		case nd.code == unix.BPF_JMP|unix.BPF_JA:
			if isRetCode(nd.jt.code) {
				f = unix.SockFilter{Code: nd.jt.code, K: nd.jt.k} // cheaper than jumping to it
			} else {
				f.K = uint32(nd.jt.pos - i - 1)
			}
		}
		prog[i] = f
	}
	return prog, nil
}

// threadJumps points branches that land on a BPF_JA at the jump's target, and
// drops jumps to the next instruction.
func threadJumps(nodes []*node) []*node {
	final := func(t *node) *node {
		for t.code == unix.BPF_JMP|unix.BPF_JA {
			t = t.jt
		}
		return t
	}
	for _, nd := range nodes {
		switch {
		case isCondCode(nd.code):
			nd.jt, nd.jf = final(nd.jt), final(nd.jf)
		case nd.code == unix.BPF_JMP|unix.BPF_JA:
			nd.jt = final(nd.jt)
		}
	}
	out := nodes[:0]
	for i, nd := range nodes {
		if nd.code == unix.BPF_JMP|unix.BPF_JA && i+1 < len(nodes) && final(nd.jt) == final(nodes[i+1]) {
			continue
		}
		out = append(out, nd)
	}
	return out
}

// nearbyRet finds a RET k that a branch at from can reach.
func nearbyRet(nodes []*node, from int, k uint32) *node {
	for i := from + 1; i < len(nodes) && i-from-1 <= maxJump; i++ {
		if isRetCode(nodes[i].code) && nodes[i].k == k {
			return nodes[i]
		}
	}
	return nil
}

func isCondCode(code uint16) bool { return isCond(insn{code: code}) }

func isRetCode(code uint16) bool { return isRet(insn{code: code}) }
