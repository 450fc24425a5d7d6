package content

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The backoff of OpenWriter. The holder of a ref may be another process,
// which no in-process signal reaches, so waiting means asking again; the
// first retries are quick because the common holder is a concurrent pull
// of the same small blob, and the cap keeps a long wait cheap.
const (
	openWriterFirstDelay = time.Millisecond
	openWriterMaxDelay   = 100 * time.Millisecond
)

// OpenWriter is Ingester.Writer that waits, until ctx is done, while
// another writer holds ref. Once that writer commits the blob, OpenWriter
// returns errdefs.ErrAlreadyExists (when desc.Digest is set), so
// concurrent ingests of one blob write it once. A ctx that ends the wait
// gives an error that is both errdefs.ErrUnavailable and ctx's error.
func OpenWriter(ctx context.Context, ing Ingester, ref string, desc ocispec.Descriptor) (Writer, error) {
	delay := openWriterFirstDelay
	var busy error // why we last had to wait
	for {
		w, err := ing.Writer(ctx, ref, desc)
		switch {
		case errdefs.IsUnavailable(err):
			busy = err
		case busy != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()):
			// The wait ended inside Writer rather than in our sleep.
			return nil, fmt.Errorf("content: waiting for ingest %q: %w: %w", ref, err, busy)
		default:
			return w, err
		}
		// Jitter keeps a crowd of waiters from asking in step.
		t := time.NewTimer(delay/2 + rand.N(delay))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("content: waiting for ingest %q: %w: %w", ref, ctx.Err(), busy)
		case <-t.C:
		}
		delay = min(2*delay, openWriterMaxDelay)
	}
}

// WriteOpt is an option of WriteBlob.
type WriteOpt func(*writeOptions)

type writeOptions struct {
	labels map[string]string
	resume func(offset int64) (io.ReadCloser, error)
}

// WithLabels sets the labels of the committed blob.
func WithLabels(labels map[string]string) WriteOpt {
	return func(o *writeOptions) { o.labels = labels }
}

// WithResume gives WriteBlob a way to read the source from an offset, for
// sources that cannot seek, such as an HTTP body: open is called with
// the length of the data an earlier, interrupted ingest left, and must
// return the source from that byte on (for HTTP, a Range request whose
// answer is 206 Partial Content: a server that ignores the range and
// sends the whole body would fail verification at Commit).
func WithResume(open func(offset int64) (io.ReadCloser, error)) WriteOpt {
	return func(o *writeOptions) { o.resume = open }
}

// WriteBlob copies r into the store as the blob desc and commits it,
// verifying desc.Size and desc.Digest (when set). A blob that is there
// already, or that a concurrent writer of the same ref commits while
// WriteBlob waits for it, is success.
//
// If an earlier ingest of ref left data, WriteBlob continues after it: it
// seeks r when r is an io.Seeker (r must then read the blob from its
// start), else calls the WithResume function, else starts over. r may be
// nil when WithResume is given; the function is then also used for offset
// 0. Data from an earlier ingest that turns out wrong fails Commit, which
// throws it away, so a retry starts clean.
func WriteBlob(ctx context.Context, ing Ingester, ref string, r io.Reader, desc ocispec.Descriptor, opts ...WriteOpt) error {
	var o writeOptions
	for _, opt := range opts {
		opt(&o)
	}
	if r == nil && o.resume == nil {
		return fmt.Errorf("content: write %q: no source: %w", ref, errdefs.ErrInvalidParameter)
	}
	w, err := OpenWriter(ctx, ing, ref, desc)
	if errdefs.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer w.Close()

	src, closeSrc, err := resumeSource(w, r, desc.Size, o.resume)
	if err != nil {
		return err
	}
	if closeSrc != nil {
		defer closeSrc.Close()
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	// ctxReader also hides io.WriterTo, which would make CopyBuffer
	// ignore our buffer and copy in small pieces.
	if _, err := io.CopyBuffer(w, ctxReader{ctx, src}, *bp); err != nil {
		return fmt.Errorf("content: write %q: %w", ref, err)
	}
	err = w.Commit(ctx, desc.Size, desc.Digest, o.labels)
	if errdefs.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// resumeSource positions the source where the writer's data ends.
func resumeSource(w Writer, r io.Reader, size int64, open func(int64) (io.ReadCloser, error)) (io.Reader, io.Closer, error) {
	st, err := w.Status()
	if err != nil {
		return nil, nil, err
	}
	if size > 0 && st.Offset == size {
		// All there, only the commit was missing. Asking a server for
		// the bytes from the end on would get a 416.
		return eofReader{}, nil, nil
	}
	if st.Offset > 0 {
		if s, ok := r.(io.Seeker); ok {
			if _, err := s.Seek(st.Offset, io.SeekStart); err == nil {
				return r, nil, nil
			}
			// A Seeker that cannot seek (a pipe behind an *os.File) may
			// still be read from the start.
		}
		if open != nil {
			rc, err := open(st.Offset)
			if err != nil {
				return nil, nil, fmt.Errorf("content: resume %q at %d: %w", st.Ref, st.Offset, err)
			}
			return rc, rc, nil
		}
		if err := w.Truncate(0); err != nil {
			return nil, nil, err
		}
	}
	if r == nil {
		rc, err := open(0)
		if err != nil {
			return nil, nil, fmt.Errorf("content: open %q: %w", st.Ref, err)
		}
		return rc, rc, nil
	}
	return r, nil, nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// ctxReader stops a copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// DefaultReadLimit is how much ReadBlob reads unless WithReadLimit says
// otherwise: enough for any manifest (registries refuse those over
// 4 MiB) and image config, small enough that a bogus descriptor cannot
// make us allocate gigabytes.
const DefaultReadLimit int64 = 16 << 20

// ReadOpt is an option of ReadBlob.
type ReadOpt func(*readOptions)

type readOptions struct {
	limit int64
}

// WithReadLimit sets the largest blob ReadBlob reads, in bytes.
func WithReadLimit(n int64) ReadOpt {
	return func(o *readOptions) { o.limit = n }
}

// ReadBlob reads a whole blob into memory, and checks it against desc:
// size when desc.Size is set, digest when desc.Digest is (the disk may have
// rotted since the commit). A blob bigger than the limit is
// errdefs.ErrInvalidParameter, found out before anything is read.
func ReadBlob(ctx context.Context, p Provider, desc ocispec.Descriptor, opts ...ReadOpt) ([]byte, error) {
	o := readOptions{limit: DefaultReadLimit}
	for _, opt := range opts {
		opt(&o)
	}
	if o.limit < 0 {
		return nil, fmt.Errorf("content: read limit %d: negative: %w", o.limit, errdefs.ErrInvalidParameter)
	}
	if desc.Size > o.limit {
		return nil, fmt.Errorf("content: blob %s: %d bytes, more than the limit of %d: %w", desc.Digest, desc.Size, o.limit, errdefs.ErrInvalidParameter)
	}
	ra, err := p.ReaderAt(ctx, desc)
	if err != nil {
		return nil, err
	}
	defer ra.Close()
	size := ra.Size()
	if desc.Size != 0 && size != desc.Size {
		return nil, fmt.Errorf("content: blob %s: %d bytes, expected %d: %w", desc.Digest, size, desc.Size, ErrSizeMismatch)
	}
	if size > o.limit {
		return nil, fmt.Errorf("content: blob %s: %d bytes, more than the limit of %d: %w", desc.Digest, size, o.limit, errdefs.ErrInvalidParameter)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(io.NewSectionReader(ra, 0, size), b); err != nil {
		return nil, fmt.Errorf("content: blob %s: %w", desc.Digest, err)
	}
	if desc.Digest != "" {
		if got := desc.Digest.Algorithm().FromBytes(b); got != desc.Digest {
			return nil, fmt.Errorf("content: blob %s: reads back as %s: %w", desc.Digest, got, ErrDigestMismatch)
		}
	}
	return b, nil
}

// NewReader reads a ReaderAt from its start to its end.
func NewReader(ra ReaderAt) io.Reader { return io.NewSectionReader(ra, 0, ra.Size()) }

// VerifiedReader passes a stream through and checks it against a
// descriptor: it fails as soon as the stream runs past desc.Size, and
// when the last byte arrives it checks the digest, so the final Read
// (the one that ends the blob, or returns io.EOF) fails instead if the
// data is wrong, and does not deliver its bytes. A consumer that acts on
// data before the end (an unpacker) must undo its work if a Read fails.
//
// It is for data from outside: a registry's blob body, an archive being
// loaded. Writer already verifies what is committed to a store.
type VerifiedReader struct {
	r    io.Reader
	desc ocispec.Descriptor
	h    hash.Hash
	n    int64
	err  error // sticky: once failed, always failed
}

// NewVerifiedReader wraps r. desc.Digest must be set, and desc.Size is the
// exact length (descriptors always carry it; 0 means empty, not
// unknown), so a peer can neither shorten nor stretch a blob.
func NewVerifiedReader(r io.Reader, desc ocispec.Descriptor) (*VerifiedReader, error) {
	if err := validateDigest(desc.Digest); err != nil {
		return nil, err
	}
	if desc.Size < 0 {
		return nil, fmt.Errorf("content: verify %s: size %d: negative: %w", desc.Digest, desc.Size, errdefs.ErrInvalidParameter)
	}
	return &VerifiedReader{r: r, desc: desc, h: desc.Digest.Algorithm().Hash()}, nil
}

// Read reads from the stream, failing with ErrSizeMismatch or
// ErrDigestMismatch when it is not the blob.
func (v *VerifiedReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	// Ask for at most one byte past the end, so a stream that is too long
	// is caught at once and its excess never reaches the caller.
	if room := v.desc.Size - v.n; int64(len(p)) > room+1 {
		p = p[:room+1]
	}
	// When a Read fails verification, its bytes are held back: io.ReadFull
	// and friends drop the error of a Read that fills their buffer, so a
	// consumer that reads exactly the blob's length would otherwise take
	// wrong data for right.
	n, err := v.r.Read(p)
	if v.n+int64(n) > v.desc.Size {
		v.err = fmt.Errorf("content: verify %s: more than %d bytes: %w", v.desc.Digest, v.desc.Size, ErrSizeMismatch)
		return 0, v.err
	}
	v.hash(p[:n])
	wasShort := v.n < v.desc.Size
	v.n += int64(n)
	if v.n == v.desc.Size && wasShort || v.desc.Size == 0 && errors.Is(err, io.EOF) {
		// The last byte is in: check now, in case the consumer stops
		// reading at the blob's length and never sees io.EOF.
		if got := v.digest(); got != v.desc.Digest {
			v.err = fmt.Errorf("content: verify %s: got %s: %w", v.desc.Digest, got, ErrDigestMismatch)
			return 0, v.err
		}
	}
	if errors.Is(err, io.EOF) && v.n < v.desc.Size {
		v.err = fmt.Errorf("content: verify %s: ended after %d of %d bytes: %w: %w", v.desc.Digest, v.n, v.desc.Size, ErrSizeMismatch, io.ErrUnexpectedEOF)
		return n, v.err
	}
	if err != nil {
		v.err = err
	}
	return n, err
}

func (v *VerifiedReader) hash(p []byte) { v.h.Write(p) }

func (v *VerifiedReader) digest() digest.Digest {
	return digest.NewDigest(v.desc.Digest.Algorithm(), v.h)
}

// Close closes the underlying reader if it is an io.Closer.
func (v *VerifiedReader) Close() error {
	if c, ok := v.r.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
