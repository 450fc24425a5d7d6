package seccomp

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// differential runs the compiled program on inputs derived from cfg (every
// syscall number of every ABI, boundary numbers, and argument values around
// each condition) and compares each verdict with reference.
func differential(t testing.TB, cfg *specs.LinuxSeccomp, native *arch, f *Filter) {
	t.Helper()
	failures := 0
	for _, d := range probeInputs(cfg) {
		got, _, err := run(f.prog, d, native.bigEndian)
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		if want := reference(cfg, native, d); got != want {
			t.Errorf("arch %#x nr %#x args %#x: program says %#x, reference %#x", d.arch, d.nr, d.args, got, want)
			if failures++; failures > 20 {
				t.Fatal("too many differences")
			}
		}
	}
}

func probeInputs(cfg *specs.LinuxSeccomp) []seccompData {
	rng := rand.New(rand.NewPCG(1, 2))

	// Argument values: the edges of every comparison, in both words.
	vals := []uint64{0, 1, 0xffffffff, 1 << 32, ^uint64(0)}
	conditional := map[string][]uint{} // name -> argument indexes it tests
	for _, sc := range cfg.Syscalls {
		for _, a := range sc.Args {
			for _, x := range []uint64{a.Value, a.ValueTwo, a.ValueTwo & a.Value, a.ValueTwo&a.Value | ^a.Value} {
				vals = append(vals, x, x-1, x+1, x^1<<32, x&0xffffffff, x|0xffffffff<<32, x^0xffffffff)
			}
			for _, n := range sc.Names {
				if !slices.Contains(conditional[n], a.Index) {
					conditional[n] = append(conditional[n], a.Index)
				}
			}
		}
	}
	for call := range uint64(25) { // socketcall/ipc sub-calls
		vals = append(vals, call)
	}
	slices.Sort(vals)
	vals = slices.Compact(vals)

	var out []seccompData
	audits := []uint32{0xdeadbeef}
	for _, a := range arches {
		if !slices.Contains(audits, a.audit) {
			audits = append(audits, a.audit)
		}
	}
	for _, audit := range audits {
		nrs := []uint32{0, 1, 0x3fffffff, x32Bit, x32Bit + 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff}
		tested := map[uint32][]uint{}
		for _, a := range arches {
			if a.audit != audit {
				continue
			}
			for _, row := range sysTable {
				n := row.nr[a.col]
				if n < 0 {
					continue
				}
				nrs = append(nrs, uint32(n), uint32(n)+1)
				idx := conditional[row.name]
				if _, _, ok := a.muxed(row.name); ok {
					idx = append(idx, 0)
				}
				tested[uint32(n)] = append(tested[uint32(n)], idx...)
			}
			for _, mux := range []string{"socketcall", "ipc"} {
				if n, ok := lookupSyscall(a.col, mux); ok {
					tested[n] = append(tested[n], 0, 1, 2)
				}
			}
		}
		slices.Sort(nrs)
		for _, n := range slices.Compact(nrs) {
			d := seccompData{arch: audit, nr: n}
			out = append(out, d)
			idx := tested[n]
			if len(idx) == 0 {
				continue
			}
			slices.Sort(idx)
			idx = slices.Compact(idx)
			for _, i := range idx {
				for _, v := range vals {
					d.args = [6]uint64{}
					d.args[i] = v
					out = append(out, d)
				}
			}
			// Combinations, for rules that AND several arguments.
			for range 64 {
				for _, i := range idx {
					d.args[i] = vals[rng.IntN(len(vals))]
				}
				out = append(out, d)
			}
		}
	}
	return out
}
