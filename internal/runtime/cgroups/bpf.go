package cgroups

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// A minimal eBPF assembler: the device filter needs nine instructions and
// symbolic jumps, and a general BPF library (cilium/ebpf) brought some 70
// packages' initializers into every start of the runtime binary, the
// container's init included. Encodings follow include/uapi/linux/bpf.h
// and Documentation/bpf/standardization/instruction-set.rst.

// bpfReg is an eBPF register. R0 holds the return value, R1 the program's
// context (struct bpf_cgroup_dev_ctx *), R6 to R9 survive calls (we make
// none).
type bpfReg uint8

const (
	bpfR0 bpfReg = iota
	bpfR1
	bpfR2
	bpfR3
	bpfR4
	bpfR5
	bpfR6
	bpfR7
)

// Opcodes: class | operation | source (K: the immediate, X: a register).
const (
	opLdxMemW  = unix.BPF_LDX | unix.BPF_MEM | unix.BPF_W
	opMovImm   = unix.BPF_ALU64 | unix.BPF_MOV | unix.BPF_K
	opMovReg   = unix.BPF_ALU64 | unix.BPF_MOV | unix.BPF_X
	opAndImm   = unix.BPF_ALU64 | unix.BPF_AND | unix.BPF_K
	opRshImm   = unix.BPF_ALU64 | unix.BPF_RSH | unix.BPF_K
	opJeqImm   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	opJneImm   = unix.BPF_JMP | unix.BPF_JNE | unix.BPF_K
	opExit     = unix.BPF_JMP | unix.BPF_EXIT
	bpfInsnLen = 8
)

// bpfInsn is one instruction (struct bpf_insn) before assembly: a jump
// names its target label, resolved into an offset by assemble.
type bpfInsn struct {
	op       uint8
	dst, src bpfReg
	off      int16
	imm      int32
	label    string // this instruction's label, if a jump targets it
	target   string // a jump's target label
}

// ldxW loads the 32-bit word at src+off into dst, zero-extended.
func ldxW(dst, src bpfReg, off int16) bpfInsn {
	return bpfInsn{op: opLdxMemW, dst: dst, src: src, off: off}
}

func movImm(dst bpfReg, imm int32) bpfInsn { return bpfInsn{op: opMovImm, dst: dst, imm: imm} }
func movReg(dst, src bpfReg) bpfInsn       { return bpfInsn{op: opMovReg, dst: dst, src: src} }
func andImm(dst bpfReg, imm int32) bpfInsn { return bpfInsn{op: opAndImm, dst: dst, imm: imm} }
func rshImm(dst bpfReg, imm int32) bpfInsn { return bpfInsn{op: opRshImm, dst: dst, imm: imm} }

// jeqImm and jneImm compare dst (all 64 bits) with the sign-extended
// immediate and jump to the label to when equal, or not equal.
func jeqImm(dst bpfReg, imm int32, to string) bpfInsn {
	return bpfInsn{op: opJeqImm, dst: dst, imm: imm, target: to}
}

func jneImm(dst bpfReg, imm int32, to string) bpfInsn {
	return bpfInsn{op: opJneImm, dst: dst, imm: imm, target: to}
}

// exit returns R0.
func exit() bpfInsn { return bpfInsn{op: opExit} }

// at labels the instruction.
func (i bpfInsn) at(label string) bpfInsn {
	i.label = label
	return i
}

// assemble resolves the labels and encodes the program as the kernel
// reads it, in the host's byte order.
func assemble(prog []bpfInsn) ([]byte, error) {
	return assembleOrder(prog, binary.NativeEndian)
}

// assembleOrder encodes for a byte order: 8 bytes per instruction, the
// opcode, the registers' byte, then off and imm. The registers are a pair
// of 4-bit bitfields (dst_reg, then src_reg), which a little-endian
// compiler packs from the low bits and a big-endian one from the high.
func assembleOrder(prog []bpfInsn, order binary.AppendByteOrder) ([]byte, error) {
	little := order.AppendUint16(nil, 1)[0] == 1
	labels := make(map[string]int, len(prog))
	for pc, ins := range prog {
		if ins.label == "" {
			continue
		}
		if _, dup := labels[ins.label]; dup {
			return nil, fmt.Errorf("bpf: label %q defined twice", ins.label)
		}
		labels[ins.label] = pc
	}
	out := make([]byte, 0, len(prog)*bpfInsnLen)
	for pc, ins := range prog {
		off := ins.off
		if ins.target != "" {
			to, ok := labels[ins.target]
			if !ok {
				return nil, fmt.Errorf("bpf: instruction %d jumps to undefined label %q", pc, ins.target)
			}
			// Offsets count from the next instruction; the filter
			// only jumps forward, which also rules out loops, as
			// the verifier does.
			rel := to - (pc + 1)
			if rel < 0 || rel > 1<<15-1 {
				return nil, fmt.Errorf("bpf: instruction %d: jump to %q out of range (%d)", pc, ins.target, rel)
			}
			off = int16(rel)
		}
		regs := uint8(ins.dst)&0xf | uint8(ins.src)<<4
		if !little {
			regs = uint8(ins.dst)<<4 | uint8(ins.src)&0xf
		}
		out = append(out, ins.op, regs)
		out = order.AppendUint16(out, uint16(off))
		out = order.AppendUint32(out, uint32(ins.imm))
	}
	return out, nil
}
