package seccomp

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// A small classic-BPF assembler. Code is emitted with symbolic forward
// labels; assemble lays it out and resolves them. Conditional jumps have 8-bit
// offsets, so a branch whose target ends up more than 255 instructions away
// gets a trampoline right after the jump: a copy of the target when that is a
// RET (cheaper than jumping to it), else a BPF_JA, whose offset is 32 bits.

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

// assemble lays the program out. Errors mean a bug in the code generator
// (unbound label, backward jump), never bad user input.
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
	target := func(l label) int { return a.labels[l] }

	// far[i] bit 0: jt needs a trampoline; bit 1: jf does. Adding a
	// trampoline only ever moves code further apart, so iterate to a
	// fixed point.
	far := make([]uint8, n)
	pos := make([]int, n)
	for {
		p := 0
		for i := range a.insns {
			pos[i] = p
			p += 1 + int(far[i]&1) + int(far[i]>>1)
		}
		changed := false
		for i, in := range a.insns {
			if !isCond(in) {
				continue
			}
			for bit, l := range [2]label{in.jt, in.jf} {
				t := target(l)
				if t <= i {
					return nil, fmt.Errorf("seccomp: internal error: backward jump at %d", i)
				}
				if far[i]&(1<<bit) == 0 && pos[t]-pos[i]-1 > maxJump {
					far[i] |= 1 << bit
					changed = true
				}
			}
		}
		if !changed {
			break
		}
	}

	var out []unix.SockFilter
	// tramp emits what a far branch lands on: a RET copy or a long jump.
	tramp := func(l label) {
		t := a.insns[target(l)]
		if isRet(t) {
			out = append(out, unix.SockFilter{Code: t.code, K: t.k})
			return
		}
		out = append(out, unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JA, K: uint32(pos[target(l)] - len(out) - 1)})
	}
	for i, in := range a.insns {
		switch {
		case isCond(in):
			f := unix.SockFilter{Code: in.code, K: in.k}
			if far[i]&1 != 0 {
				f.Jt = 0
			} else {
				f.Jt = uint8(pos[target(in.jt)] - pos[i] - 1)
			}
			if far[i]&2 != 0 {
				f.Jf = far[i] & 1 // skip the jt trampoline, if any
			} else {
				f.Jf = uint8(pos[target(in.jf)] - pos[i] - 1)
			}
			out = append(out, f)
			if far[i]&1 != 0 {
				tramp(in.jt)
			}
			if far[i]&2 != 0 {
				tramp(in.jf)
			}
		case isJA(in):
			if t := target(in.jt); t <= i {
				return nil, fmt.Errorf("seccomp: internal error: backward jump at %d", i)
			}
			tramp(in.jt) // a jump to a RET becomes the RET itself
		default:
			out = append(out, unix.SockFilter{Code: in.code, K: in.k})
		}
	}
	return out, nil
}
