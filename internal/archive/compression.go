package archive

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/berth-project/berth/internal/errdefs"
)

// Compression is the compression of a layer stream.
type Compression int

const (
	Uncompressed Compression = iota
	Gzip
	Zstd
	// Bzip2 and Xz are recognized; Bzip2 can be read, Xz cannot, and
	// neither can be written (no registry layer media type uses them).
	Bzip2
	Xz
)

func (c Compression) String() string {
	switch c {
	case Uncompressed:
		return "uncompressed"
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	case Bzip2:
		return "bzip2"
	case Xz:
		return "xz"
	}
	return fmt.Sprintf("compression(%d)", int(c))
}

var (
	magicGzip  = []byte{0x1f, 0x8b, 0x08}
	magicZstd  = []byte{0x28, 0xb5, 0x2f, 0xfd}
	magicBzip2 = []byte{0x42, 0x5a, 0x68}
	magicXz    = []byte{0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00}
)

// DetectCompression tells the compression from the first bytes of a
// stream (at least 6 for a sure answer).
func DetectCompression(b []byte) Compression {
	switch {
	case bytes.HasPrefix(b, magicGzip):
		return Gzip
	case bytes.HasPrefix(b, magicZstd):
		return Zstd
	case isZstdSkippable(b):
		return Zstd
	case bytes.HasPrefix(b, magicBzip2):
		return Bzip2
	case bytes.HasPrefix(b, magicXz):
		return Xz
	}
	return Uncompressed
}

// isZstdSkippable matches a zstd skippable frame (magic 0x184D2A5?, little
// endian), which seekable zstd and estargz-like layers put first.
func isZstdSkippable(b []byte) bool {
	return len(b) >= 4 && b[0]&0xf0 == 0x50 && b[1] == 0x2a && b[2] == 0x4d && b[3] == 0x18
}

// DecompressStream returns the uncompressed content of r, whatever its
// compression (told from its magic bytes), and that compression. Close
// releases the decoder; it does not close r.
func DecompressStream(r io.Reader) (io.ReadCloser, Compression, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	// A short stream is not an error here: an empty tar is 1024 bytes,
	// but Peek of fewer bytes than asked still says what there is.
	head, err := br.Peek(6)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, Uncompressed, fmt.Errorf("reading layer: %w", err)
	}
	c := DetectCompression(head)
	switch c {
	case Uncompressed:
		return io.NopCloser(br), c, nil
	case Gzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, c, fmt.Errorf("gzip header: %v: %w", err, ErrInvalidArchive)
		}
		return &gzipReader{zr: zr}, c, nil
	case Zstd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderLowmem(false))
		if err != nil {
			return nil, c, fmt.Errorf("zstd: %v: %w", err, ErrInvalidArchive)
		}
		return &zstdReader{zr: zr}, c, nil
	case Bzip2:
		return io.NopCloser(bzip2.NewReader(br)), c, nil
	}
	return nil, c, fmt.Errorf("layer compressed with %s: %w", c, errdefs.ErrNotImplemented)
}

// gzipReader marks decoding errors as ErrInvalidArchive, so a corrupt
// layer is told from a failing disk.
type gzipReader struct{ zr *gzip.Reader }

func (g *gzipReader) Read(p []byte) (int, error) {
	n, err := g.zr.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("gzip: %w (%w)", err, ErrInvalidArchive)
	}
	return n, err
}

func (g *gzipReader) Close() error { return g.zr.Close() }

type zstdReader struct{ zr *zstd.Decoder }

func (z *zstdReader) Read(p []byte) (int, error) {
	n, err := z.zr.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("zstd: %w (%w)", err, ErrInvalidArchive)
	}
	return n, err
}

func (z *zstdReader) Close() error { z.zr.Close(); return nil }

type compressOptions struct {
	level       int
	concurrency int
}

// CompressOpt is an option of CompressStream.
type CompressOpt func(*compressOptions) error

// WithCompressionLevel sets the level: for Gzip 1 (fastest) to 9 (best),
// for Zstd 1 (fastest) to 4 (best), as klauspost/compress names them.
// Zero is each format's default (gzip 6 as docker writes; zstd 2, "default").
func WithCompressionLevel(level int) CompressOpt {
	return func(o *compressOptions) error { o.level = level; return nil }
}

// WithConcurrency sets how many goroutines compress at once; 1 writes one
// gzip stream sequentially. The output does not depend on it.
func WithConcurrency(n int) CompressOpt {
	return func(o *compressOptions) error {
		if n < 1 {
			return fmt.Errorf("archive: concurrency %d: %w", n, errdefs.ErrInvalidParameter)
		}
		o.concurrency = n
		return nil
	}
}

// CompressStream returns a writer that compresses into w; Close flushes
// the end of the stream but does not close w. Output is deterministic for
// a given input, compression and level, so a layer compressed twice has
// the same digest.
func CompressStream(w io.Writer, c Compression, opts ...CompressOpt) (io.WriteCloser, error) {
	o := compressOptions{}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	switch c {
	case Uncompressed:
		return nopWriteCloser{w}, nil
	case Gzip:
		level := o.level
		if level == 0 {
			level = gzip.DefaultCompression
		}
		if o.concurrency > 1 {
			return newParallelGzip(w, level, o.concurrency)
		}
		return gzip.NewWriterLevel(w, level)
	case Zstd:
		level := zstd.SpeedDefault
		if o.level != 0 {
			level = zstd.EncoderLevel(o.level)
		}
		zo := []zstd.EOption{zstd.WithEncoderLevel(level)}
		if o.concurrency > 0 {
			zo = append(zo, zstd.WithEncoderConcurrency(o.concurrency))
		}
		return zstd.NewWriter(w, zo...)
	}
	return nil, fmt.Errorf("compressing with %s: %w", c, errdefs.ErrNotImplemented)
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
