package cgroups

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The kernel cannot test-run BPF_PROG_TYPE_CGROUP_DEVICE programs
// (BPF_PROG_TEST_RUN is not implemented for them), so the generated code
// runs here on a tiny interpreter of the instructions deviceFilter emits,
// and against the kernel for real in TestRealDevices.

// runFilter assembles prog and executes it for one access, decoding the
// instructions from their encoding as the kernel would, and returns the
// verdict.
func runFilter(t *testing.T, prog []bpfInsn, typ, access, major, minor uint32) bool {
	t.Helper()
	code, err := assembleOrder(prog, binary.LittleEndian)
	if err != nil {
		t.Fatalf("assemble: %v", err)
	}
	ctx := make([]byte, 12)
	binary.LittleEndian.PutUint32(ctx[0:], access<<16|typ)
	binary.LittleEndian.PutUint32(ctx[4:], major)
	binary.LittleEndian.PutUint32(ctx[8:], minor)
	var reg [11]uint64 // R1 holds the ctx "address" 0
	n := len(code) / bpfInsnLen
	for pc, steps := 0, 0; ; pc, steps = pc+1, steps+1 {
		if pc < 0 || pc >= n || steps > 10000 {
			t.Fatalf("pc %d out of the program (%d instructions)", pc, n)
		}
		ins := code[pc*bpfInsnLen:]
		op, dst, src := ins[0], ins[1]&0xf, ins[1]>>4
		off := int16(binary.LittleEndian.Uint16(ins[2:]))
		imm := int64(int32(binary.LittleEndian.Uint32(ins[4:]))) // sign-extended, as eBPF does
		operand := func() uint64 {
			if op&0x08 == unix.BPF_X {
				return reg[src]
			}
			return uint64(imm)
		}
		switch op & 0x07 {
		case unix.BPF_LDX:
			if op != opLdxMemW || src != uint8(bpfR1) {
				t.Fatalf("unexpected load %#x", op)
			}
			reg[dst] = uint64(binary.LittleEndian.Uint32(ctx[reg[bpfR1]+uint64(off):]))
		case unix.BPF_ALU64:
			switch op & 0xf0 {
			case unix.BPF_MOV:
				reg[dst] = operand()
			case unix.BPF_AND:
				reg[dst] &= operand()
			case unix.BPF_RSH:
				reg[dst] >>= operand()
			default:
				t.Fatalf("unexpected ALU op %#x", op)
			}
		case unix.BPF_JMP:
			var jump bool
			switch op & 0xf0 {
			case unix.BPF_EXIT:
				return reg[bpfR0] == 1
			case unix.BPF_JA:
				jump = true
			case unix.BPF_JEQ:
				jump = reg[dst] == operand()
			case unix.BPF_JNE:
				jump = reg[dst] != operand()
			default:
				t.Fatalf("unexpected jump %#x", op)
			}
			if jump {
				pc += int(off)
			}
		default:
			t.Fatalf("unexpected instruction %#x", op)
		}
	}
}

// modelAllows is the documented semantics, written plainly: per access
// bit, the last matching rule that names it decides; default deny.
func modelAllows(rules []specs.LinuxDeviceCgroup, typ byte, major, minor int64, access string) bool {
	need := map[rune]bool{}
	for _, c := range access {
		need[c] = true
	}
	for i := len(rules) - 1; i >= 0; i-- {
		r := rules[i]
		if r.Type != "" && r.Type != "a" && r.Type[0] != typ {
			continue
		}
		if (r.Major != nil && *r.Major != -1 && *r.Major != major) || (r.Minor != nil && *r.Minor != -1 && *r.Minor != minor) {
			continue
		}
		acc := r.Access
		if acc == "" {
			acc = "rwm"
		}
		for _, c := range acc {
			if !need[c] {
				continue
			}
			if !r.Allow {
				return false
			}
			delete(need, c)
		}
		if len(need) == 0 {
			return true
		}
	}
	return false
}

func accessBits(access string) uint32 {
	var b uint32
	for _, c := range access {
		switch c {
		case 'm':
			b |= bpfAccMknod
		case 'r':
			b |= bpfAccRead
		case 'w':
			b |= bpfAccWrite
		}
	}
	return b
}

func devType(t byte) uint32 {
	if t == 'b' {
		return bpfDevBlock
	}
	return bpfDevChar
}

// dockerDefaultDevices is the rule list docker sends for a default container.
func dockerDefaultDevices() []specs.LinuxDeviceCgroup {
	rule := func(allow bool, typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
		r := specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Access: access}
		if major != -1 {
			r.Major = devn(major)
		}
		if minor != -1 {
			r.Minor = devn(minor)
		}
		return r
	}
	return []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		rule(true, "c", -1, -1, "m"),
		rule(true, "b", -1, -1, "m"),
		rule(true, "c", 1, 3, "rwm"),
		rule(true, "c", 1, 8, "rwm"),
		rule(true, "c", 1, 7, "rwm"),
		rule(true, "c", 5, 0, "rwm"),
		rule(true, "c", 1, 5, "rwm"),
		rule(true, "c", 1, 9, "rwm"),
		rule(true, "c", 136, -1, "rwm"),
		rule(true, "c", 5, 2, "rwm"),
		rule(false, "c", 10, 229, "rwm"),
	}
}

func TestDeviceFilterTable(t *testing.T) {
	tests := []struct {
		name     string
		rules    []specs.LinuxDeviceCgroup
		allowAll bool
	}{
		{name: "no rules: deny all", rules: nil},
		{name: "allow all", rules: []specs.LinuxDeviceCgroup{{Allow: true}}, allowAll: true},
		{name: "allow all after denies", rules: []specs.LinuxDeviceCgroup{{Allow: false}, {Allow: true, Type: "a", Access: "rwm"}}, allowAll: true},
		{name: "deny after allow all", rules: []specs.LinuxDeviceCgroup{{Allow: true}, {Allow: false, Type: "c", Major: devn(1), Minor: devn(5)}}},
		{name: "docker defaults", rules: dockerDefaultDevices()},
		{name: "per-bit override", rules: []specs.LinuxDeviceCgroup{
			{Allow: false}, {Allow: true, Type: "c", Major: devn(1), Minor: devn(3)}, {Allow: false, Type: "c", Major: devn(1), Minor: devn(3), Access: "w"},
		}},
		{name: "split grants", rules: []specs.LinuxDeviceCgroup{
			{Allow: true, Type: "c", Major: devn(1), Access: "r"}, {Allow: true, Type: "c", Minor: devn(3), Access: "w"},
		}},
	}
	type query struct {
		typ          byte
		major, minor int64
		access       string
	}
	var queries []query
	for _, typ := range []byte{'b', 'c'} {
		for _, dev := range [][2]int64{{1, 3}, {1, 5}, {1, 9}, {5, 2}, {8, 0}, {10, 229}, {136, 4}} {
			for _, acc := range []string{"r", "w", "m", "rw", "rm", "wm", "rwm"} {
				queries = append(queries, query{typ, dev[0], dev[1], acc})
			}
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prog, allowAll := deviceFilter(tc.rules)
			if allowAll != tc.allowAll {
				t.Errorf("allowAll = %v, want %v", allowAll, tc.allowAll)
			}
			for _, q := range queries {
				want := modelAllows(tc.rules, q.typ, q.major, q.minor, q.access)
				if allowAll && !want {
					t.Errorf("allowAll but the model denies %c %d:%d %s", q.typ, q.major, q.minor, q.access)
				}
				if got := runFilter(t, prog, devType(q.typ), accessBits(q.access), uint32(q.major), uint32(q.minor)); got != want {
					t.Errorf("%c %d:%d %s: program says %v, rules say %v", q.typ, q.major, q.minor, q.access, got, want)
				}
			}
		})
	}

	// Spot checks of what docker's defaults mean, independent of the model.
	prog, _ := deviceFilter(dockerDefaultDevices())
	for _, c := range []struct {
		what                      string
		typ, access, major, minor uint32
		allow                     bool
	}{
		{"read /dev/null", bpfDevChar, bpfAccRead | bpfAccWrite, 1, 3, true},
		{"read /dev/sda", bpfDevBlock, bpfAccRead, 8, 0, false},
		{"mknod /dev/sda", bpfDevBlock, bpfAccMknod, 8, 0, true},
		{"open /dev/pts/4", bpfDevChar, bpfAccRead | bpfAccWrite, 136, 4, true},
		{"mknod /dev/fuse", bpfDevChar, bpfAccMknod, 10, 229, false},
		{"open /dev/mem", bpfDevChar, bpfAccRead, 1, 1, false},
	} {
		if got := runFilter(t, prog, c.typ, c.access, c.major, c.minor); got != c.allow {
			t.Errorf("docker defaults, %s: %v, want %v", c.what, got, c.allow)
		}
	}
}

// TestDeviceFilterRandom compares the program with the model on random
// rule lists: the program is the model, compiled.
func TestDeviceFilterRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(xs ...int64) *int64 {
		v := xs[rng.IntN(len(xs))]
		if v == -2 {
			return nil
		}
		return devn(v)
	}
	accesses := []string{"", "r", "w", "m", "rw", "rm", "wm", "rwm"}
	for iter := 0; iter < 300; iter++ {
		rules := make([]specs.LinuxDeviceCgroup, rng.IntN(7))
		for i := range rules {
			rules[i] = specs.LinuxDeviceCgroup{
				Allow:  rng.IntN(2) == 0,
				Type:   []string{"", "a", "b", "c", "c"}[rng.IntN(5)],
				Major:  pick(-2, -1, 1, 8),
				Minor:  pick(-2, -1, 3, 5),
				Access: accesses[rng.IntN(len(accesses))],
			}
		}
		prog, allowAll := deviceFilter(rules)
		for _, typ := range []byte{'b', 'c'} {
			for _, major := range []int64{1, 8, 9} {
				for _, minor := range []int64{3, 5, 7} {
					for _, acc := range accesses[1:] {
						want := modelAllows(rules, typ, major, minor, acc)
						got := runFilter(t, prog, devType(typ), accessBits(acc), uint32(major), uint32(minor))
						if got != want || (allowAll && !want) {
							t.Fatalf("rules %s\n%c %d:%d %s: program %v, model %v, allowAll %v", fmtRules(rules), typ, major, minor, acc, got, want, allowAll)
						}
					}
				}
			}
		}
	}
}

func fmtRules(rules []specs.LinuxDeviceCgroup) string {
	var b bytes.Buffer
	for _, r := range rules {
		fmt.Fprintf(&b, "[%v %q %s:%s %q] ", r.Allow, r.Type, devPart(r.Major), devPart(r.Minor), r.Access)
	}
	return b.String()
}

func TestV1DeviceRule(t *testing.T) {
	for _, tc := range []struct {
		r    specs.LinuxDeviceCgroup
		want string
	}{
		{specs.LinuxDeviceCgroup{Access: "r"}, "a *:* rwm"},
		{specs.LinuxDeviceCgroup{Type: "c", Major: devn(1), Minor: devn(3)}, "c 1:3 rwm"},
		{specs.LinuxDeviceCgroup{Type: "b", Major: devn(8), Minor: devn(-1), Access: "m"}, "b 8:* m"},
		{specs.LinuxDeviceCgroup{Type: "c", Minor: devn(3), Access: "rw"}, "c *:3 rw"},
	} {
		if got := v1DeviceRule(tc.r); got != tc.want {
			t.Errorf("v1DeviceRule(%+v) = %q, want %q", tc.r, got, tc.want)
		}
	}
}
