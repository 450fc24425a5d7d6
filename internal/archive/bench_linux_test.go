package archive_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/archive"
	"github.com/berth-project/berth/internal/archive/tartest"
)

var benchLayer = sync.OnceValue(func() []byte {
	// About 100 MB: 24,000 small files (0.5-4 KiB, as in a distribution's
	// /usr) in 600 directories, a few symlinks and hard links, and three
	// 16 MiB files.
	r := rand.New(rand.NewPCG(3, 4))
	noise := make([]byte, 16<<20)
	for i := range noise {
		noise[i] = byte(r.Uint32())
	}
	var es []tartest.Entry
	for d := range 600 {
		dir := fmt.Sprintf("usr/share/d%03d", d)
		es = append(es, tartest.Dir(dir, 0o755))
		for f := range 40 {
			n := 512 + r.IntN(3584)
			off := r.IntN(len(noise) - n)
			es = append(es, tartest.File(fmt.Sprintf("%s/file%02d.txt", dir, f), string(noise[off:off+n]), 0o644))
		}
		es = append(es, tartest.Symlink(dir+"/link", "file00.txt"), tartest.Link(dir+"/hard", dir+"/file01.txt"))
	}
	es = append(es, tartest.Dir("opt", 0o755))
	for i := range 3 {
		es = append(es, tartest.File(fmt.Sprintf("opt/big%d", i), string(noise), 0o755))
	}
	return tartest.Build(append([]tartest.Entry{tartest.Dir("usr", 0o755), tartest.Dir("usr/share", 0o755)}, es...)...)
})

// benchBase is where extractions go: a tmpfs by default, so the numbers
// measure the extraction code rather than the disk (on the CI machine's
// ext4, mounted with discard, both Apply and GNU tar are disk bound at
// about 10 MB/s); BERTH_BENCH_DISK=1 uses the test's temporary directory
// on disk.
func benchBase(b *testing.B) string {
	base := b.TempDir()
	if os.Getenv("BERTH_BENCH_DISK") != "" {
		return base
	}
	if err := unix.Mount("tmpfs", base, "tmpfs", 0, "size=2g"); err != nil {
		b.Fatalf("mount tmpfs (the benchmark needs root, or BERTH_BENCH_DISK=1): %v", err)
	}
	b.Cleanup(func() { unix.Unmount(base, unix.MNT_DETACH) })
	return base
}

func benchExtract(b *testing.B, layer []byte, extract func(dir string) error) {
	b.SetBytes(int64(len(benchLayer())))
	base := benchBase(b)
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		dir := filepath.Join(base, fmt.Sprint(i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := extract(dir); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

func BenchmarkApply(b *testing.B) {
	layer := benchLayer()
	benchExtract(b, layer, func(dir string) error {
		_, err := archive.Apply(context.Background(), dir, bytes.NewReader(layer))
		return err
	})
}

func BenchmarkGNUTar(b *testing.B) {
	layer := benchLayer()
	benchExtract(b, layer, func(dir string) error {
		cmd := exec.Command("tar", "-x", "-p", "--same-owner", "-C", dir)
		cmd.Stdin = bytes.NewReader(layer)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
}

func gzipped(b *testing.B) []byte {
	var buf bytes.Buffer
	w, err := archive.CompressStream(&buf, archive.Gzip)
	if err != nil {
		b.Fatal(err)
	}
	w.Write(benchLayer())
	w.Close()
	return buf.Bytes()
}

func BenchmarkApplyGzip(b *testing.B) {
	layer := gzipped(b)
	benchExtract(b, layer, func(dir string) error {
		_, err := archive.Apply(context.Background(), dir, bytes.NewReader(layer))
		return err
	})
}

func BenchmarkGNUTarGzip(b *testing.B) {
	layer := gzipped(b)
	benchExtract(b, layer, func(dir string) error {
		cmd := exec.Command("tar", "-x", "-z", "-p", "--same-owner", "-C", dir)
		cmd.Stdin = bytes.NewReader(layer)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
}

func BenchmarkWriteTar(b *testing.B) {
	dir := b.TempDir()
	if _, err := archive.Apply(context.Background(), dir, bytes.NewReader(benchLayer())); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchLayer())))
	for b.Loop() {
		if err := archive.WriteTar(context.Background(), discard{}, dir); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompress(b *testing.B) {
	for _, c := range []struct {
		name string
		c    archive.Compression
		opts []archive.CompressOpt
	}{
		{"gzip", archive.Gzip, nil},
		{"gzip-parallel", archive.Gzip, []archive.CompressOpt{archive.WithConcurrency(2)}},
		{"zstd", archive.Zstd, nil},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(benchLayer())))
			for b.Loop() {
				w, err := archive.CompressStream(discard{}, c.c, c.opts...)
				if err != nil {
					b.Fatal(err)
				}
				w.Write(benchLayer())
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
