package runtime

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func cacheSpec(names ...string) *specs.Spec {
	return &specs.Spec{Linux: &specs.Linux{Seccomp: &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Architectures: []specs.Arch{specs.ArchX86_64},
		Syscalls:      []specs.LinuxSyscall{{Names: names, Action: specs.ActAllow}},
	}}}
}

// TestSeccompCache: a compiled filter is kept and found again for the same
// profile; another profile (even the same names split otherwise) misses;
// a damaged entry is compiled again.
func TestSeccompCache(t *testing.T) {
	root := t.TempDir()
	first, err := compileSeccomp(root, cacheSpec("read", "write"))
	if err != nil || len(first) == 0 {
		t.Fatalf("compile: %d bytes, %v", len(first), err)
	}
	ents, err := os.ReadDir(filepath.Join(root, seccompCacheDir))
	if err != nil || len(ents) != 1 {
		t.Fatalf("cache after one compile: %v, %v", ents, err)
	}
	entry := filepath.Join(root, seccompCacheDir, ents[0].Name())
	again, err := compileSeccomp(root, cacheSpec("read", "write"))
	if err != nil || !bytes.Equal(again, first) {
		t.Fatalf("from the cache: %v, equal %v", err, bytes.Equal(again, first))
	}

	split := cacheSpec("read")
	split.Linux.Seccomp.Syscalls = append(split.Linux.Seccomp.Syscalls, specs.LinuxSyscall{Names: []string{"write"}, Action: specs.ActAllow})
	for _, s := range []*specs.Spec{cacheSpec("read"), split} {
		if _, err := compileSeccomp(root, s); err != nil {
			t.Fatal(err)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(root, seccompCacheDir)); len(ents) != 3 {
		t.Fatalf("three profiles, %d cache entries", len(ents))
	}

	if err := os.WriteFile(entry, []byte("damaged"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := compileSeccomp(root, cacheSpec("read", "write")); err != nil || !bytes.Equal(b, first) {
		t.Fatalf("over a damaged entry: %v, equal %v", err, bytes.Equal(b, first))
	}
	if b, _ := os.ReadFile(entry); !bytes.Equal(b, first) {
		t.Fatal("the damaged entry was not replaced")
	}

	// A profile that does not compile is not kept.
	bad := cacheSpec("no-such-syscall")
	bad.Linux.Seccomp.DefaultAction = "SCMP_ACT_NONSENSE"
	if _, err := compileSeccomp(root, bad); err == nil {
		t.Fatal("a bad profile compiled")
	}
	if ents, _ := os.ReadDir(filepath.Join(root, seccompCacheDir)); len(ents) != 3 {
		t.Fatalf("a failed compile was kept: %d entries", len(ents))
	}
}
