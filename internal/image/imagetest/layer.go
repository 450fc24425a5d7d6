package imagetest

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// blobLayer is a layer whose compressed blob is a file, with its digest,
// diff ID and sizes computed once while the file was written. ggcr's
// tarball layers would recompress on every read, which costs seconds per
// read for the benchmarks' 200 MB layers.
type blobLayer struct {
	path             string
	digest, diffID   v1.Hash
	size             int64 // compressed
	uncompressedSize int64
	mediaType        types.MediaType
	compression      Compression
}

var _ v1.Layer = (*blobLayer)(nil)

func (l *blobLayer) Digest() (v1.Hash, error)             { return l.digest, nil }
func (l *blobLayer) DiffID() (v1.Hash, error)             { return l.diffID, nil }
func (l *blobLayer) Size() (int64, error)                 { return l.size, nil }
func (l *blobLayer) MediaType() (types.MediaType, error)  { return l.mediaType, nil }
func (l *blobLayer) Compressed() (io.ReadCloser, error)   { return os.Open(l.path) }
func (l *blobLayer) Uncompressed() (io.ReadCloser, error) { return decompress(l.path, l.compression) }

func decompress(path string, c Compression) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	switch c {
	case Gzip:
		zr, err := gzip.NewReader(f)
		if err != nil {
			f.Close()
			return nil, err
		}
		return readCloser{zr, func() error { zr.Close(); return f.Close() }}, nil
	case Zstd:
		zr, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1))
		if err != nil {
			f.Close()
			return nil, err
		}
		return readCloser{zr, func() error { zr.Close(); return f.Close() }}, nil
	default:
		return f, nil
	}
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }

// layerMediaType is the media type of a layer in format with compression.
func layerMediaType(f Format, c Compression) types.MediaType {
	switch {
	case f == Docker && c == Uncompressed:
		return types.DockerUncompressedLayer
	case f == Docker:
		return types.DockerLayer
	case c == Uncompressed:
		return types.OCIUncompressedLayer
	case c == Zstd:
		return types.OCILayerZStd
	default:
		return types.OCILayer
	}
}

// countingHash hashes and counts what is written through it.
type countingHash struct {
	hash.Hash
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.Hash.Write(p)
}

func (c *countingHash) v1Hash() v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(c.Sum(nil))}
}

// writeLayer streams the tar that fill writes through the compressor into
// a file under dir, hashing both sides on the way, and returns the layer.
func writeLayer(dir string, o options, fill func(tw *tar.Writer) error) (*blobLayer, error) {
	f, err := os.CreateTemp(dir, "layer-*")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	blob := &countingHash{Hash: sha256.New()}
	diff := &countingHash{Hash: sha256.New()}
	compressedOut := io.MultiWriter(f, blob)

	var comp io.WriteCloser
	switch o.compression {
	case Gzip:
		comp, err = gzip.NewWriterLevel(compressedOut, gzip.DefaultCompression)
	case Zstd:
		// One encoder goroutine keeps the output identical from run to run
		// and machine to machine, so digests are stable.
		comp, err = zstd.NewWriter(compressedOut, zstd.WithEncoderConcurrency(1))
	default:
		comp = nopWriteCloser{compressedOut}
	}
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(io.MultiWriter(comp, diff))
	if err := fill(tw); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := comp.Close(); err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	l := &blobLayer{
		digest:           blob.v1Hash(),
		diffID:           diff.v1Hash(),
		size:             blob.n,
		uncompressedSize: diff.n,
		mediaType:        layerMediaType(o.format, o.compression),
		compression:      o.compression,
	}
	// Name the file by digest, so a test that lists the kit's files can
	// tell which blob is which.
	l.path = filepath.Join(dir, fmt.Sprintf("%s-%s", l.digest.Algorithm, l.digest.Hex))
	if err := os.Rename(f.Name(), l.path); err != nil {
		return nil, err
	}
	return l, nil
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
