package seccomp

import (
	"encoding/binary"
	"fmt"

	"github.com/berth-project/berth/internal/errdefs"
	"golang.org/x/sys/unix"
)

// The runtime compiles a filter in its own process and hands it to the
// container's init, which only loads it: the init then neither decodes the
// profile nor spends the compile time on the container's critical path.

const encodingMagic = "BSCF"

// MarshalBinary encodes a compiled filter.
func (f *Filter) MarshalBinary() ([]byte, error) {
	out := make([]byte, 0, 20+8*len(f.prog))
	out = append(out, encodingMagic...)
	var notify byte
	if f.notify {
		notify = 1
	}
	out = append(out, 1, notify, 0, 0) // version, notify, padding
	out = binary.LittleEndian.AppendUint32(out, uint32(f.flags))
	out = binary.LittleEndian.AppendUint32(out, uint32(f.implied))
	out = binary.LittleEndian.AppendUint32(out, uint32(len(f.prog)))
	for _, in := range f.prog {
		out = binary.LittleEndian.AppendUint16(out, in.Code)
		out = append(out, in.Jt, in.Jf)
		out = binary.LittleEndian.AppendUint32(out, in.K)
	}
	return out, nil
}

// UnmarshalBinary decodes what MarshalBinary wrote.
func (f *Filter) UnmarshalBinary(data []byte) error {
	bad := func(why string) error {
		return fmt.Errorf("seccomp: encoded filter: %s: %w", why, errdefs.ErrInvalidParameter)
	}
	if len(data) < 20 || string(data[:4]) != encodingMagic {
		return bad("bad header")
	}
	if data[4] != 1 {
		return bad(fmt.Sprintf("version %d", data[4]))
	}
	n := binary.LittleEndian.Uint32(data[16:])
	if n == 0 || n > unix.BPF_MAXINSNS || uint64(len(data)) != 20+8*uint64(n) {
		return bad("bad length")
	}
	prog := make([]unix.SockFilter, n)
	for i := range prog {
		p := data[20+8*i:]
		prog[i] = unix.SockFilter{Code: binary.LittleEndian.Uint16(p), Jt: p[2], Jf: p[3], K: binary.LittleEndian.Uint32(p[4:])}
	}
	*f = Filter{
		prog:    prog,
		notify:  data[5] == 1,
		flags:   uint(binary.LittleEndian.Uint32(data[8:])),
		implied: uint(binary.LittleEndian.Uint32(data[12:])),
	}
	return nil
}
