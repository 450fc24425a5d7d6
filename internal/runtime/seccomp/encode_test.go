package seccomp

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestEncodeRoundTrip(t *testing.T) {
	f, err := Compile(&specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Flags:         []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog},
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno}},
	})
	if err != nil {
		t.Fatal(err)
	}
	data, err := f.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var g Filter
	if err := g.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.prog, g.prog) || f.flags != g.flags || f.implied != g.implied || f.notify != g.notify {
		t.Fatal("round trip changed the filter")
	}
	for _, bad := range [][]byte{nil, []byte("BSCF"), data[:len(data)-1], append([]byte("XXXX"), data[4:]...)} {
		var h Filter
		if err := h.UnmarshalBinary(bad); err == nil {
			t.Errorf("accepted %d bytes of garbage", len(bad))
		}
	}
}
