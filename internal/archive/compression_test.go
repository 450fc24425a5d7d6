package archive_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/berth-project/berth/internal/archive"
	"github.com/berth-project/berth/internal/errdefs"
)

// sample is compressible but not trivially: 3 MiB of words from a small
// vocabulary, so blocks of the parallel writer reach across boundaries.
func sample() []byte {
	words := []string{"layer ", "overlay ", "whiteout ", "snapshot ", "digest ", "\n", "tar ", "0123456789 "}
	r := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	for b.Len() < 3<<20 {
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.Bytes()
}

func TestCompressionRoundTrip(t *testing.T) {
	data := sample()
	cases := []struct {
		name string
		c    archive.Compression
		opts []archive.CompressOpt
	}{
		{"none", archive.Uncompressed, nil},
		{"gzip", archive.Gzip, nil},
		{"gzip fastest", archive.Gzip, []archive.CompressOpt{archive.WithCompressionLevel(1)}},
		{"gzip parallel", archive.Gzip, []archive.CompressOpt{archive.WithConcurrency(4)}},
		{"zstd", archive.Zstd, nil},
		{"zstd best", archive.Zstd, []archive.CompressOpt{archive.WithCompressionLevel(4)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			compress := func() []byte {
				var buf bytes.Buffer
				w, err := archive.CompressStream(&buf, c.c, c.opts...)
				if err != nil {
					t.Fatal(err)
				}
				// Odd-sized writes, to cross block boundaries mid-write.
				for p := data; len(p) > 0; {
					n := min(len(p), 77777)
					if _, err := w.Write(p[:n]); err != nil {
						t.Fatal(err)
					}
					p = p[n:]
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				return buf.Bytes()
			}
			out := compress()
			if !bytes.Equal(out, compress()) {
				t.Error("output not deterministic")
			}
			r, got, err := archive.DecompressStream(bytes.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if got != c.c {
				t.Errorf("detected %v, want %v", got, c.c)
			}
			back, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back, data) {
				t.Fatalf("round trip changed the data (%d bytes back of %d)", len(back), len(data))
			}
			if c.c != archive.Uncompressed {
				t.Logf("%d -> %d bytes", len(data), len(out))
			}
		})
	}
}

func TestParallelGzipMatchesSequentialContent(t *testing.T) {
	// Small inputs: one partial block, and exactly empty.
	for _, data := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("ab"), 1<<19)} {
		var buf bytes.Buffer
		w, err := archive.CompressStream(&buf, archive.Gzip, archive.WithConcurrency(2))
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		r, _, err := archive.DecompressStream(&buf)
		if err != nil {
			t.Fatal(err)
		}
		back, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(back, data) {
			t.Fatalf("len %d: got %d bytes, %v", len(data), len(back), err)
		}
	}
}

func TestDecompressCorrupt(t *testing.T) {
	var buf bytes.Buffer
	w, _ := archive.CompressStream(&buf, archive.Gzip)
	w.Write(sample())
	w.Close()
	b := buf.Bytes()
	b[len(b)/2] ^= 0xff
	r, _, err := archive.DecompressStream(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r); !errors.Is(err, archive.ErrInvalidArchive) {
		t.Errorf("corrupt gzip: %v, want ErrInvalidArchive", err)
	}
	xz := []byte{0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 0}
	if _, c, err := archive.DecompressStream(bytes.NewReader(xz)); !errdefs.IsNotImplemented(err) || c != archive.Xz {
		t.Errorf("xz: %v, %v", c, err)
	}
	// Short streams are read as they are.
	r, c, err := archive.DecompressStream(bytes.NewReader([]byte("ab")))
	if err != nil || c != archive.Uncompressed {
		t.Fatalf("short: %v %v", c, err)
	}
	if b, _ := io.ReadAll(r); string(b) != "ab" {
		t.Errorf("short: %q", b)
	}
}
