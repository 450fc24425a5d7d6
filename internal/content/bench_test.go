package content_test

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/content/contenttest"
)

// BenchmarkIngest measures WriteBlob of a 100 MB blob (hash, write, one
// fsync, rename) beside what bounds it: writing and syncing the same
// bytes to a plain file, and hashing them.
func BenchmarkIngest(b *testing.B) {
	data, desc := contenttest.Blob(1, 100<<20)

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
			f, err := os.Create(p)
			if err != nil {
				b.Fatal(err)
			}
			for off := 0; off < len(data); off += 1 << 20 {
				if _, err := f.Write(data[off:min(off+1<<20, len(data))]); err != nil {
					b.Fatal(err)
				}
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
			f.Close()
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
