package archive

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/flate"
)

// parallelGzip writes one gzip member whose deflate stream is compressed in
// blocks on several goroutines. Each block is primed with the last 32 KiB
// of the block before (the deflate window), so back-references cross
// block boundaries as in a sequential stream, and ends with a sync flush,
// so the blocks concatenate into one valid stream. The result depends only
// on the input, the level and the block size, never on scheduling, so
// digests are reproducible.
type parallelGzip struct {
	w       io.Writer
	level   int
	limit   int              // blocks in flight
	pending []chan gzipBlock // in input order
	buf     []byte           // the block being filled
	prev    []byte           // the tail of the block before, as dictionary
	crc     uint32
	size    uint32
	err     error
	closed  bool
}

type gzipBlock struct {
	out []byte
	err error
}

const (
	pgzipBlockSize = 1 << 20
	deflateWindow  = 32 << 10
)

func newParallelGzip(w io.Writer, level, concurrency int) (io.WriteCloser, error) {
	if _, err := flate.NewWriter(io.Discard, level); err != nil {
		return nil, err
	}
	// A fixed header: no name, no mtime, OS "unknown", so the same input
	// always gives the same bytes.
	hdr := []byte{0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff}
	if _, err := w.Write(hdr); err != nil {
		return nil, err
	}
	return &parallelGzip{w: w, level: level, limit: concurrency, buf: make([]byte, 0, pgzipBlockSize)}, nil
}

func (z *parallelGzip) Write(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	if z.closed {
		return 0, errors.New("gzip: write after close")
	}
	z.crc = crc32.Update(z.crc, crc32.IEEETable, p)
	z.size += uint32(len(p)) // ISIZE is the length modulo 2^32
	n := 0
	for len(p) > 0 {
		k := min(len(p), pgzipBlockSize-len(z.buf))
		z.buf = append(z.buf, p[:k]...)
		p = p[k:]
		n += k
		if len(z.buf) == pgzipBlockSize {
			if err := z.dispatch(false); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// dispatch compresses the current block on a goroutine, after writing out
// the oldest finished blocks while too many are in flight.
func (z *parallelGzip) dispatch(last bool) error {
	for len(z.pending) >= z.limit {
		if err := z.drainOne(); err != nil {
			return err
		}
	}
	block, dict := z.buf, z.prev
	if len(block) >= deflateWindow {
		z.prev = block[len(block)-deflateWindow:]
	} else {
		z.prev = append(append([]byte(nil), dict...), block...)
		if len(z.prev) > deflateWindow {
			z.prev = z.prev[len(z.prev)-deflateWindow:]
		}
	}
	z.buf = make([]byte, 0, pgzipBlockSize)
	ch := make(chan gzipBlock, 1)
	z.pending = append(z.pending, ch)
	level := z.level
	go func() {
		var out bytes.Buffer
		fw, err := flate.NewWriterDict(&out, level, dict)
		if err == nil {
			_, err = fw.Write(block)
		}
		if err == nil {
			if last {
				err = fw.Close()
			} else {
				err = fw.Flush()
			}
		}
		ch <- gzipBlock{out: out.Bytes(), err: err}
	}()
	return nil
}

func (z *parallelGzip) drainOne() error {
	b := <-z.pending[0]
	z.pending = z.pending[1:]
	if b.err != nil {
		z.err = b.err
		return b.err
	}
	if _, err := z.w.Write(b.out); err != nil {
		z.err = err
		return err
	}
	return nil
}

func (z *parallelGzip) Close() error {
	if z.closed {
		return z.err
	}
	z.closed = true
	if z.err != nil {
		// Let the goroutines in flight finish before returning.
		for _, ch := range z.pending {
			<-ch
		}
		return z.err
	}
	if err := z.dispatch(true); err != nil {
		return err
	}
	for len(z.pending) > 0 {
		if err := z.drainOne(); err != nil {
			for _, ch := range z.pending {
				<-ch
			}
			return err
		}
	}
	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[:4], z.crc)
	binary.LittleEndian.PutUint32(trailer[4:], z.size)
	_, err := z.w.Write(trailer[:])
	z.err = err
	return err
}
