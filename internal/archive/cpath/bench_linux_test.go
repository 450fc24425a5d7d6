package cpath

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// The docker cp benchmark of issue 6: a 200 MB tree into and out of a
// container root, to compare with dockerd's archive endpoints on the
// same disk. Not run by CI (benchmarks run only with -bench):
//
//	go test ./internal/archive/cpath -run '^$' -bench . -benchtime 5x
//
// BERTH_BENCH_DIR puts the trees elsewhere than the default temporary
// directory (a tmpfs, dockerd's disk).

// benchTree writes the tree under root/tree and returns its size: 10,000
// small files (4 KiB, as in a source tree) in 200 directories, and 40
// files of 4 MiB; 200 MiB in all.
func benchTree(b *testing.B, root string) int64 {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	big := make([]byte, 4<<20)
	for i := range big {
		big[i] = byte(r.Uint32())
	}
	var total int64
	write := func(p string, data []byte) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
		total += int64(len(data))
	}
	for d := range 200 {
		for f := range 50 {
			off := r.IntN(len(big) - 4096)
			write(filepath.Join(root, "tree", fmt.Sprintf("d%03d/f%02d", d, f)), big[off:off+4096])
		}
	}
	for f := range 40 {
		big[f] ^= 0xff // distinct contents
		write(filepath.Join(root, "tree/big", fmt.Sprintf("blob%02d", f)), big)
	}
	return total
}

func benchDir(b *testing.B) string {
	b.Helper()
	base := os.Getenv("BERTH_BENCH_DIR")
	if base == "" {
		return b.TempDir()
	}
	d, err := os.MkdirTemp(base, "cpath-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// BenchmarkCopyOut is GET /archive of the tree, read to the end.
func BenchmarkCopyOut(b *testing.B) {
	root := benchDir(b)
	b.SetBytes(benchTree(b, root))
	b.ResetTimer()
	for b.Loop() {
		rc, _, err := Archive(b.Context(), root, "/tree", ArchiveOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			b.Fatal(err)
		}
		rc.Close()
	}
}

// BenchmarkCopyIn is PUT /archive of the tree's tar (held in memory)
// into a fresh directory of another root.
func BenchmarkCopyIn(b *testing.B) {
	src := benchDir(b)
	size := benchTree(b, src)
	rc, _, err := Archive(b.Context(), src, "/tree", ArchiveOptions{})
	if err != nil {
		b.Fatal(err)
	}
	tb, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		b.Fatal(err)
	}
	os.RemoveAll(filepath.Join(src, "tree"))
	dst := benchDir(b)
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		if err := Extract(b.Context(), dst, "/", bytes.NewReader(tb), ExtractOptions{NoOverwriteDirNonDir: true}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := os.RemoveAll(filepath.Join(dst, "tree")); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkCopyRoundTrip streams the tree out of one root into another,
// as `docker cp a:/tree - | docker cp - b:/` does.
func BenchmarkCopyRoundTrip(b *testing.B) {
	src := benchDir(b)
	b.SetBytes(benchTree(b, src))
	dst := benchDir(b)
	b.ResetTimer()
	for b.Loop() {
		rc, _, err := Archive(b.Context(), src, "/tree", ArchiveOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if err := Extract(b.Context(), dst, "/", rc, ExtractOptions{NoOverwriteDirNonDir: true}); err != nil {
			b.Fatal(err)
		}
		rc.Close()
		b.StopTimer()
		if err := os.RemoveAll(filepath.Join(dst, "tree")); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
