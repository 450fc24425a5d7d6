package seccomp

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// A tiny seccomp-BPF interpreter over struct seccomp_data, written from the
// kernel's rules (kernel/seccomp.c seccomp_check_filter and
// net/core/filter.c bpf_check_classic): it rejects what the kernel would
// reject, so tests catch bad programs before a load does.

// seccompData mirrors struct seccomp_data.
type seccompData struct {
	nr   uint32
	arch uint32
	ip   uint64
	args [6]uint64
}

func (d seccompData) bytes(bigEndian bool) []byte {
	var bo binary.ByteOrder = binary.LittleEndian
	if bigEndian {
		bo = binary.BigEndian
	}
	b := make([]byte, 64)
	bo.PutUint32(b[0:], d.nr)
	bo.PutUint32(b[4:], d.arch)
	bo.PutUint64(b[8:], d.ip)
	for i, a := range d.args {
		bo.PutUint64(b[16+8*i:], a)
	}
	return b
}

// verify applies the kernel's load-time checks to the instructions we emit.
func verify(prog []unix.SockFilter) error {
	if len(prog) == 0 || len(prog) > maxInsns {
		return fmt.Errorf("program length %d", len(prog))
	}
	for pc, in := range prog {
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			if in.K%4 != 0 || in.K+4 > 64 {
				return fmt.Errorf("pc %d: load at offset %d", pc, in.K)
			}
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K, unix.BPF_RET | unix.BPF_K:
		case unix.BPF_JMP | unix.BPF_JA:
			if uint64(pc)+1+uint64(in.K) >= uint64(len(prog)) {
				return fmt.Errorf("pc %d: ja out of range", pc)
			}
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K,
			unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			if pc+1+int(in.Jt) >= len(prog) || pc+1+int(in.Jf) >= len(prog) {
				return fmt.Errorf("pc %d: conditional jump out of range", pc)
			}
		default:
			return fmt.Errorf("pc %d: unexpected opcode %#x", pc, in.Code)
		}
	}
	if last := prog[len(prog)-1]; last.Code != unix.BPF_RET|unix.BPF_K {
		return fmt.Errorf("last instruction is not RET")
	}
	return nil
}

// run executes prog, which verify accepted, on d and returns the seccomp
// action and the number of instructions executed.
func run(prog []unix.SockFilter, d seccompData, bigEndian bool) (ret uint32, steps int, err error) {
	var bo binary.ByteOrder = binary.LittleEndian
	if bigEndian {
		bo = binary.BigEndian
	}
	data := d.bytes(bigEndian)
	var acc uint32
	for pc := 0; ; pc++ {
		steps++
		in := prog[pc]
		jump := func(cond bool) {
			if cond {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		}
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			acc = bo.Uint32(data[in.K:])
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			acc &= in.K
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(in.K)
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			jump(acc == in.K)
		case unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K:
			jump(acc > in.K)
		case unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			jump(acc >= in.K)
		case unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			jump(acc&in.K != 0)
		case unix.BPF_RET | unix.BPF_K:
			return in.K, steps, nil
		default:
			return 0, steps, fmt.Errorf("pc %d: unexpected opcode %#x", pc, in.Code)
		}
		if pc+1 >= len(prog) {
			return 0, steps, fmt.Errorf("pc %d: jumped past the end", pc)
		}
	}
}
