package cgroups

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Known encodings: each instruction as include/uapi/linux/bpf.h defines
// it (opcode, dst|src<<4, off, imm; little-endian), as llvm-objdump shows
// a compiled program's.
func TestBPFInstructionEncoding(t *testing.T) {
	for _, tc := range []struct {
		ins  bpfInsn
		want string
	}{
		{ldxW(bpfR2, bpfR1, 0), "6112000000000000"}, // r2 = *(u32 *)(r1 + 0)
		{ldxW(bpfR5, bpfR1, 8), "6115080000000000"}, // r5 = *(u32 *)(r1 + 8)
		{movReg(bpfR3, bpfR2), "bf23000000000000"},  // r3 = r2
		{movImm(bpfR0, 1), "b700000001000000"},      // r0 = 1
		{movImm(bpfR0, -1), "b7000000ffffffff"},     // r0 = -1
		{rshImm(bpfR3, 16), "7703000010000000"},     // r3 >>= 16
		{andImm(bpfR2, 0xffff), "57020000ffff0000"}, // r2 &= 0xffff
		{exit(), "9500000000000000"},                // exit
	} {
		code, err := assembleOrder([]bpfInsn{tc.ins}, binary.LittleEndian)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(code); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.ins, got, tc.want)
		}
	}

	// Jumps: the offset counts from the next instruction.
	prog := []bpfInsn{
		jneImm(bpfR4, 136, "out"), // if r4 != 136 goto +2
		jeqImm(bpfR7, 0, "out"),   // if r7 == 0 goto +1
		movImm(bpfR0, 1),
		exit().at("out"),
	}
	code, err := assembleOrder(prog, binary.LittleEndian)
	if err != nil {
		t.Fatal(err)
	}
	want := "5504020088000000" + "1507010000000000" + "b700000001000000" + "9500000000000000"
	if got := hex.EncodeToString(code); got != want {
		t.Errorf("jumps: %s, want %s", got, want)
	}

	// Big-endian hosts pack the register nibbles the other way round
	// and store off and imm big-endian.
	code, err = assembleOrder([]bpfInsn{ldxW(bpfR2, bpfR1, 4)}, binary.BigEndian)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(code); got != "6121000400000000" {
		t.Errorf("big-endian: %s, want 6121000400000000", got)
	}

	for _, bad := range [][]bpfInsn{
		{jneImm(bpfR2, 0, "nowhere"), exit()},
		{exit().at("x"), exit().at("x")},
		{movImm(bpfR0, 0).at("back"), jeqImm(bpfR0, 0, "back"), exit()},
	} {
		if _, err := assemble(bad); err == nil {
			t.Errorf("%+v assembled", bad)
		}
	}
}

// The device filter's encodings for a few rule lists, as the cilium/ebpf
// assembler Berth used before produced them: the programs did not change
// with the assembler (a differential run over 2000 random rule lists
// matched too).
func TestDeviceFilterEncoding(t *testing.T) {
	perBit := []specs.LinuxDeviceCgroup{
		{Allow: false}, {Allow: true, Type: "c", Major: devn(1), Minor: devn(3)}, {Allow: false, Type: "c", Major: devn(1), Minor: devn(3), Access: "w"},
	}
	for _, tc := range []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		want  string
	}{
		{"deny all", nil, "" +
			"6112000000000000bf23000000000000770300001000000057020000ffff0000" +
			"61140400000000006115080000000000bf36000000000000b700000000000000" +
			"9500000000000000"},
		{"per-bit override", perBit, "" +
			"6112000000000000bf23000000000000770300001000000057020000ffff0000" +
			"61140400000000006115080000000000bf360000000000005502070002000000" +
			"55040600010000005505050003000000bf670000000000005707000004000000" +
			"1507020000000000b70000000000000095000000000000005502060002000000" +
			"5504050001000000550504000300000057060000000000005506020000000000" +
			"b7000000010000009500000000000000bf670000000000005707000007000000" +
			"1507020000000000b7000000000000009500000000000000b700000000000000" +
			"9500000000000000"},
		{"docker defaults", dockerDefaultDevices(), "" +
			"6112000000000000bf23000000000000770300001000000057020000ffff0000" +
			"61140400000000006115080000000000bf360000000000005502070002000000" +
			"550406000a00000055050500e5000000bf670000000000005707000007000000" +
			"1507020000000000b70000000000000095000000000000005502060002000000" +
			"5504050005000000550504000200000057060000000000005506020000000000" +
			"b700000001000000950000000000000055020500020000005504040088000000" +
			"57060000000000005506020000000000b7000000010000009500000000000000" +
			"5502060002000000550405000100000055050400090000005706000000000000" +
			"5506020000000000b70000000100000095000000000000005502060002000000" +
			"5504050001000000550504000500000057060000000000005506020000000000" +
			"b700000001000000950000000000000055020600020000005504050005000000" +
			"550504000000000057060000000000005506020000000000b700000001000000" +
			"9500000000000000550206000200000055040500010000005505040007000000" +
			"57060000000000005506020000000000b7000000010000009500000000000000" +
			"5502060002000000550405000100000055050400080000005706000000000000" +
			"5506020000000000b70000000100000095000000000000005502060002000000" +
			"5504050001000000550504000300000057060000000000005506020000000000" +
			"b700000001000000950000000000000055020400010000005706000006000000" +
			"5506020000000000b70000000100000095000000000000005502040002000000" +
			"57060000060000005506020000000000b7000000010000009500000000000000" +
			"bf6700000000000057070000070000001507020000000000b700000000000000" +
			"9500000000000000b7000000000000009500000000000000"},
	} {
		prog, _ := deviceFilter(tc.rules)
		code, err := assembleOrder(prog, binary.LittleEndian)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := hex.EncodeToString(code); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, perInsn(got), perInsn(tc.want))
		}
	}
}

// perInsn shows one instruction per line.
func perInsn(h string) string {
	var b strings.Builder
	for len(h) > 16 {
		b.WriteString(h[:16] + "\n")
		h = h[16:]
	}
	return b.String() + h
}

// TestBPFAttrLayout checks the attribute structs against the kernel's
// offsets (include/uapi/linux/bpf.h).
func TestBPFAttrLayout(t *testing.T) {
	var load progLoadAttr
	var attach progAttachAttr
	var query progQueryAttr
	var info progInfo
	var obj objInfoAttr
	for _, c := range []struct {
		what      string
		got, want uintptr
	}{
		{"prog_load.insns", unsafe.Offsetof(load.insns), 8},
		{"prog_load.license", unsafe.Offsetof(load.license), 16},
		{"prog_load.log_level", unsafe.Offsetof(load.logLevel), 24},
		{"prog_load.log_buf", unsafe.Offsetof(load.logBuf), 32},
		{"prog_load.prog_name", unsafe.Offsetof(load.progName), 48},
		{"prog_load.expected_attach_type", unsafe.Offsetof(load.expectedAttachType), 68},
		{"sizeof prog_load", unsafe.Sizeof(load), 72},
		{"attach.replace_bpf_fd", unsafe.Offsetof(attach.replaceBPFFD), 16},
		{"query.prog_ids", unsafe.Offsetof(query.progIDs), 16},
		{"query.prog_cnt", unsafe.Offsetof(query.progCnt), 24},
		{"sizeof query", unsafe.Sizeof(query), 32},
		{"info_by_fd.info", unsafe.Offsetof(obj.info), 8},
		{"prog_info.name", unsafe.Offsetof(info.name), 64},
		{"sizeof bpfPtr", unsafe.Sizeof(bpfPtr{}), 8},
	} {
		if c.got != c.want {
			t.Errorf("%s at %d, the kernel's is at %d", c.what, c.got, c.want)
		}
	}
}
