package content

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/berth-project/berth/internal/errdefs"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// fuzzStore is never touched on disk: the fuzz targets only build paths.
var fuzzStore = &LocalStore{root: "/store", maxBlobSize: DefaultMaxBlobSize}

// FuzzDigest checks that a digest either is refused as InvalidParameter
// or names a file directly in blobs/<alg>, by lower-case hex of the
// algorithm's length.
func FuzzDigest(f *testing.F) {
	for _, s := range []string{
		digest.FromString("x").String(),
		digest.SHA512.FromString("x").String(),
		digest.SHA384.FromString("x").String(),
		"sha256:../../etc/passwd",
		"sha256:" + strings.Repeat("a", 63) + "\x00",
		"sha256:" + strings.Repeat("A", 64),
		"md5:d41d8cd98f00b204e9800998ecf8427e",
		"sha256",
		":",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := fuzzStore.blobPath(digest.Digest(s))
		if err != nil {
			if !errdefs.IsInvalidParameter(err) {
				t.Fatalf("blobPath(%q): %v; want InvalidParameter", s, err)
			}
			return
		}
		dir, name := filepath.Split(p)
		alg := digest.Digest(s).Algorithm()
		if dir != "/store/blobs/"+alg.String()+"/" || filepath.Clean(p) != p {
			t.Fatalf("blobPath(%q) = %q: not directly in blobs/%s", s, p, alg)
		}
		if len(name) != alg.Size()*2 || strings.Trim(name, "0123456789abcdef") != "" {
			t.Fatalf("blobPath(%q) = %q: the name is not lower-case hex of %d digits", s, p, alg.Size()*2)
		}
	})
}

// FuzzRef checks validateRef against its definition, and that an
// accepted ref names a directory directly in ingest/.
func FuzzRef(f *testing.F) {
	for _, s := range []string{"blob-sha256:abc", "../../x", "/etc/passwd", "a\x00b", "\xff", "line\n", strings.Repeat("x", maxRefLen+1), ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		err := validateRef(ref)
		want := ref != "" && len(ref) <= maxRefLen && utf8.ValidString(ref) && !strings.ContainsFunc(ref, unicode.IsControl)
		if (err == nil) != want {
			t.Fatalf("validateRef(%q): %v; want accepted=%v", ref, err, want)
		}
		if err != nil {
			if !errdefs.IsInvalidParameter(err) {
				t.Fatalf("validateRef(%q): %v; want InvalidParameter", ref, err)
			}
			return
		}
		p := fuzzStore.ingestPath(ref)
		if filepath.Dir(p) != "/store/ingest" || !isIngestName(filepath.Base(p)) {
			t.Fatalf("ingestPath(%q) = %q: not a hash directly in ingest/", ref, p)
		}
	})
}

// FuzzVerifiedReader checks that a VerifiedReader never hands out more
// than the declared size, and succeeds exactly when the stream is the
// blob, however the stream is cut into reads.
func FuzzVerifiedReader(f *testing.F) {
	f.Add([]byte("hello"), []byte("hello"), uint8(1))
	f.Add([]byte("hello"), []byte("hell"), uint8(3))
	f.Add([]byte("hello"), []byte("hello!"), uint8(0))
	f.Add([]byte(""), []byte("x"), uint8(7))
	f.Add([]byte("hello"), []byte("jello"), uint8(5))
	f.Fuzz(func(t *testing.T, want, got []byte, chunk uint8) {
		desc := ocispec.Descriptor{Digest: digest.FromBytes(want), Size: int64(len(want))}
		v, err := NewVerifiedReader(&chunkReader{got, int(chunk) + 1}, desc)
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(v)
		if len(out) > len(want) {
			t.Fatalf("read %d bytes of a %d-byte blob", len(out), len(want))
		}
		if bytes.Equal(want, got) {
			if err != nil || !bytes.Equal(out, want) {
				t.Fatalf("the right stream: %q, %v", out, err)
			}
		} else if err == nil {
			t.Fatalf("a wrong stream %q for %q passed", got, want)
		}
	})
}

type chunkReader struct {
	b []byte
	n int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.n)], r.b)
	r.b = r.b[n:]
	return n, nil
}
