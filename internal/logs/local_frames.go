package logs

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
)

// frameReader splits a stream of local frames. It trusts nothing: a
// length above maxLocalEntry, or beyond the bytes the stream is known to
// hold, is refused before anything is allocated for it.
type frameReader struct {
	r      *bufio.Reader
	off    int64 // where the next frame starts, from the stream's origin
	remain int64 // bytes left in the stream, -1 when unknown (gzip)
	buf    []byte
}

// newFrameReader reads frames from r, which starts at offset off and
// holds remain bytes (-1: unknown).
func newFrameReader(r io.Reader, off, remain int64) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, 64<<10), off: off, remain: remain}
}

// reset reuses fr (its buffers) for another stream.
func (fr *frameReader) reset(r io.Reader, off, remain int64) {
	fr.r.Reset(r)
	fr.off, fr.remain = off, remain
}

// next returns the next frame's payload, valid until the next call:
// io.EOF at a clean end, io.ErrUnexpectedEOF when the stream ends inside
// a frame (not yet written, or torn), errFrameTooLarge or
// errFrameMismatch when the bytes are not a frame. After an error the
// reader is spent.
func (fr *frameReader) next() ([]byte, error) {
	n, err := fr.header()
	if err != nil {
		return nil, err
	}
	if cap(fr.buf) < n+frameLenSize {
		fr.buf = make([]byte, n+frameLenSize)
	}
	b := fr.buf[:n+frameLenSize]
	if _, err := io.ReadFull(fr.r, b); err != nil {
		return nil, truncated(err)
	}
	if binary.BigEndian.Uint32(b[n:]) != uint32(n) {
		return nil, errFrameMismatch
	}
	fr.advance(n)
	return b[:n], nil
}

// skip passes over the next frame without keeping its payload.
func (fr *frameReader) skip() error {
	n, err := fr.header()
	if err != nil {
		return err
	}
	if _, err := fr.r.Discard(n); err != nil {
		return truncated(err)
	}
	var foot [frameLenSize]byte
	if _, err := io.ReadFull(fr.r, foot[:]); err != nil {
		return truncated(err)
	}
	if binary.BigEndian.Uint32(foot[:]) != uint32(n) {
		return errFrameMismatch
	}
	fr.advance(n)
	return nil
}

// header reads a frame's length and checks it can be a frame here.
func (fr *frameReader) header() (int, error) {
	var h [frameLenSize]byte
	if _, err := io.ReadFull(fr.r, h[:]); err != nil {
		return 0, err // io.EOF at a frame boundary, else ErrUnexpectedEOF
	}
	n := binary.BigEndian.Uint32(h[:])
	if n > maxLocalEntry {
		return 0, errFrameTooLarge
	}
	if fr.remain >= 0 && int64(n)+2*frameLenSize > fr.remain {
		return 0, io.ErrUnexpectedEOF
	}
	return int(n), nil
}

func (fr *frameReader) advance(n int) {
	size := int64(n) + 2*frameLenSize
	fr.off += size
	if fr.remain >= 0 {
		fr.remain -= size
	}
}

func truncated(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// countFrames walks r's frames without decoding them: how many there are
// and where the last whole one ends. stopErr is nil when the stream ends
// on a frame boundary, io.ErrUnexpectedEOF when it ends inside a frame,
// and the corruption met otherwise; the frames before it still count.
func countFrames(fr *frameReader) (count int, end int64, stopErr error, err error) {
	for {
		switch e := fr.skip(); {
		case e == nil:
			count++
		case errors.Is(e, io.EOF):
			return count, fr.off, nil, nil
		case errors.Is(e, io.ErrUnexpectedEOF), errors.Is(e, errFrameTooLarge), errors.Is(e, errFrameMismatch):
			return count, fr.off, e, nil
		default:
			return count, fr.off, nil, e
		}
	}
}

// tailFrames walks back from end, which must be a frame boundary, over
// at most n frames (all of them when n < 0): where they start and how
// many were found. ok is false when the bytes back there are not a chain
// of frames (a torn file): the caller then walks the file forward, the
// only direction that is never misled.
func tailFrames(f io.ReaderAt, end int64, n int) (start int64, found int, ok bool, err error) {
	var b [frameLenSize]byte
	for end > 0 && (n < 0 || found < n) {
		if end < 2*frameLenSize {
			return 0, 0, false, nil
		}
		if _, err := f.ReadAt(b[:], end-frameLenSize); err != nil {
			return 0, 0, false, eofOK(err)
		}
		size := int64(binary.BigEndian.Uint32(b[:]))
		begin := end - size - 2*frameLenSize
		if size > maxLocalEntry || begin < 0 {
			return 0, 0, false, nil
		}
		if _, err := f.ReadAt(b[:], begin); err != nil {
			return 0, 0, false, eofOK(err)
		}
		if int64(binary.BigEndian.Uint32(b[:])) != size {
			return 0, 0, false, nil
		}
		end = begin
		found++
	}
	return end, found, true, nil
}

// eofOK turns a short read into "not frames here" rather than an error.
func eofOK(err error) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}
