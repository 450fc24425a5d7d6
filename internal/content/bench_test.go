package content_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/content/contenttest"
)

const benchBlobSize = 100 << 20

// BenchmarkIngest measures WriteBlob of a 100 MB blob (hash, write, one
// fsync, rename) beside what bounds it: writing and syncing the same
// bytes to a plain file, and hashing them. Each blob is deleted before the
// next, so this is the speed of a burst that the page cache and the
// disk's own cache absorb; BenchmarkIngestSustained is the speed of a
// long pull.
func BenchmarkIngest(b *testing.B) {
	data, desc := contenttest.Blob(1, benchBlobSize)

	b.Run("WriteBlob", func(b *testing.B) {
		s, err := content.NewStore(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		ctx := b.Context()
		b.SetBytes(desc.Size)
		for range b.N {
			if err := content.WriteBlob(ctx, s, content.RefFor(desc), bytes.NewReader(data), desc); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if err := s.Delete(ctx, desc.Digest); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	})

	b.Run("FileWriteSync", func(b *testing.B) {
		dir := b.TempDir()
		b.SetBytes(desc.Size)
		for range b.N {
			p := filepath.Join(dir, "f")
			writeSync(b, p, data)
			b.StopTimer()
			os.Remove(p)
			b.StartTimer()
		}
	})

	b.Run("SHA256", func(b *testing.B) {
		b.SetBytes(desc.Size)
		for range b.N {
			sha256.Sum256(data)
		}
	})
}

// BenchmarkIngestSustained writes a new 100 MB blob each time and keeps
// them all, so that after the first few the disk's sustained speed
// decides, for WriteBlob as for a plain file.
func BenchmarkIngestSustained(b *testing.B) {
	data, _ := contenttest.Blob(1, benchBlobSize)

	b.Run("WriteBlob", func(b *testing.B) {
		s, err := content.NewStore(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		ctx := b.Context()
		b.SetBytes(benchBlobSize)
		for i := range b.N {
			b.StopTimer()
			blob := distinct(data, i)
			desc := contenttest.Descriptor(blob)
			b.StartTimer()
			if err := content.WriteBlob(ctx, s, content.RefFor(desc), bytes.NewReader(blob), desc); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("FileWriteSync", func(b *testing.B) {
		dir := b.TempDir()
		b.SetBytes(benchBlobSize)
		for i := range b.N {
			b.StopTimer()
			blob := distinct(data, i)
			b.StartTimer()
			writeSync(b, filepath.Join(dir, strconv.Itoa(i)), blob)
		}
	})
}

// distinct makes data a new blob for each i, cheaply.
func distinct(data []byte, i int) []byte {
	binary.LittleEndian.PutUint64(data, uint64(i))
	return data
}

func writeSync(b *testing.B, p string, data []byte) {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	for off := 0; off < len(data); off += 1 << 20 {
		if _, err := f.Write(data[off:min(off+1<<20, len(data))]); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
}
