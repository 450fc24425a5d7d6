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
	differentialSample(t, cfg, native, f, 0)
}

// differentialSample checks at most limit inputs (all when 0), picked at
// random, to keep fuzzing fast.
func differentialSample(t testing.TB, cfg *specs.LinuxSeccomp, native *arch, f *Filter, limit int) {
	t.Helper()
	if err := verify(f.prog); err != nil {
		t.Fatalf("program rejected: %v", err)
	}
	probes := probeInputs(cfg)
	if limit > 0 && len(probes) > limit {
		rng := rand.New(rand.NewPCG(3, 4))
		rng.Shuffle(len(probes), func(i, j int) { probes[i], probes[j] = probes[j], probes[i] })
		probes = probes[:limit]
	}
	failures := 0
	for _, d := range probes {
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

	// Argument values to try for each syscall name: the edges of each of
	// its comparisons, in both 32-bit words.
	generic := []uint64{0, 1, 0xffffffff, 1 << 32, ^uint64(0)}
	vals := map[string][]uint64{}
	idxs := map[string][]uint{}
	for _, sc := range cfg.Syscalls {
		for _, a := range sc.Args {
			var vs []uint64
			for _, x := range []uint64{a.Value, a.ValueTwo, a.ValueTwo & a.Value, a.ValueTwo&a.Value | ^a.Value} {
				vs = append(vs, x, x-1, x+1, x^1<<32, x&0xffffffff, x|0xffffffff<<32, x^0xffffffff)
			}
			for _, n := range sc.Names {
				vals[n] = append(vals[n], vs...)
				idxs[n] = append(idxs[n], a.Index)
			}
		}
	}
	// The multiplexers see the sub-call number and every socket or IPC
	// call's values.
	for _, c := range socketcalls {
		vals["socketcall"] = append(vals["socketcall"], vals[c.name]...)
		idxs["socketcall"] = append(idxs["socketcall"], idxs[c.name]...)
	}
	for _, c := range ipccalls {
		vals["ipc"] = append(vals["ipc"], vals[c.name]...)
		idxs["ipc"] = append(idxs["ipc"], idxs[c.name]...)
	}
	for call := range uint64(25) {
		vals["socketcall"] = append(vals["socketcall"], call)
		vals["ipc"] = append(vals["ipc"], call)
	}
	idxs["socketcall"] = append(idxs["socketcall"], 0)
	idxs["ipc"] = append(idxs["ipc"], 0)

	var out []seccompData
	audits := []uint32{0xdeadbeef}
	for _, a := range arches {
		if !slices.Contains(audits, a.audit) {
			audits = append(audits, a.audit)
		}
	}
	for _, audit := range audits {
		for _, n := range []uint32{0, 1, 0x3fffffff, x32Bit, x32Bit + 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff} {
			out = append(out, seccompData{arch: audit, nr: n}, seccompData{arch: audit, nr: n, args: [6]uint64{1, 1, 1, 1, 1, 1}})
		}
		for _, a := range arches {
			if a.audit != audit {
				continue
			}
			for _, row := range sysTable {
				if row.nr[a.col] < 0 {
					continue
				}
				nr := uint32(row.nr[a.col])
				out = append(out, seccompData{arch: audit, nr: nr}, seccompData{arch: audit, nr: nr + 1})
				vs := append(slices.Clone(generic), vals[row.name]...)
				slices.Sort(vs)
				vs = slices.Compact(vs)
				idx := slices.Clone(idxs[row.name])
				slices.Sort(idx)
				idx = slices.Compact(idx)
				for _, i := range idx {
					for _, v := range vs {
						d := seccompData{arch: audit, nr: nr}
						d.args[i] = v
						out = append(out, d)
					}
				}
				// Combinations, for rules that AND several arguments.
				if len(idx) > 1 {
					for range 32 {
						d := seccompData{arch: audit, nr: nr}
						for _, i := range idx {
							d.args[i] = vs[rng.IntN(len(vs))]
						}
						out = append(out, d)
					}
				}
			}
		}
	}
	return out
}
