// Package contenttest is the conformance suite of content.Store. Every
// implementation runs Suite from its tests, so they all keep the contract
// in content.go the same way, and a change of the contract is a change
// here first.
package contenttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/errdefs"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Opt is an option of Suite.
type Opt func(*options)

type options struct {
	reopen func(t *testing.T, s content.Store) content.Store
}

// WithReopen lets the suite check that ingests survive the store being
// opened again (a daemon restart): reopen returns a new Store on the
// same storage as s.
func WithReopen(reopen func(t *testing.T, s content.Store) content.Store) Opt {
	return func(o *options) { o.reopen = reopen }
}

type testFunc func(t *testing.T, s content.Store, o options)

// Suite runs the conformance tests against stores from newStore, which
// returns a new, empty store for each test. The tests run in parallel.
func Suite(t *testing.T, newStore func(t *testing.T) content.Store, opts ...Opt) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	tests := []struct {
		name string
		fn   testFunc
	}{
		{"CommitAndRead", testCommitAndRead},
		{"CommitUnknownDigest", testCommitUnknownDigest},
		{"EmptyBlob", testEmptyBlob},
		{"DigestMismatch", testDigestMismatch},
		{"SizeMismatch", testSizeMismatch},
		{"WritePastDeclaredSize", testWritePastDeclaredSize},
		{"WriterAlreadyExists", testWriterAlreadyExists},
		{"CommitAlreadyExists", testCommitAlreadyExists},
		{"ClosedWriter", testClosedWriter},
		{"ResumeAfterClose", testResumeAfterClose},
		{"ResumeAfterReopen", testResumeAfterReopen},
		{"ResumeRemembersDescriptor", testResumeRemembersDescriptor},
		{"ResumeConflict", testResumeConflict},
		{"Truncate", testTruncate},
		{"TwoWritersOneRef", testTwoWriters},
		{"OpenWriterWaits", testOpenWriterWaits},
		{"OpenWriterGivesUp", testOpenWriterGivesUp},
		{"ConcurrentWriteBlob", testConcurrentWriteBlob},
		{"WriteBlobResume", testWriteBlobResume},
		{"WriteBlobBadData", testWriteBlobBadData},
		{"ReadBlob", testReadBlob},
		{"Labels", testLabels},
		{"Walk", testWalk},
		{"Delete", testDelete},
		{"Abort", testAbort},
		{"ListStatuses", testListStatuses},
		{"SHA512", testSHA512},
		{"InvalidInput", testInvalidInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t), o)
		})
	}
}

// Blob returns size bytes determined by seed, and their descriptor.
func Blob(seed uint64, size int) ([]byte, ocispec.Descriptor) {
	b := make([]byte, size)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24), byte(seed >> 32), byte(seed >> 40), byte(seed >> 48), byte(seed >> 56)})
	r.Read(b)
	return b, Descriptor(b)
}

// Descriptor describes data as a layer, with its sha256 digest.
func Descriptor(data []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(data), Size: int64(len(data))}
}

func mustWriter(t *testing.T, s content.Ingester, ref string, desc ocispec.Descriptor) content.Writer {
	t.Helper()
	w, err := s.Writer(t.Context(), ref, desc)
	if err != nil {
		t.Fatalf("Writer(%q): %v", ref, err)
	}
	return w
}

func mustWrite(t *testing.T, w io.Writer, p []byte) {
	t.Helper()
	if n, err := w.Write(p); err != nil || n != len(p) {
		t.Fatalf("Write: %d, %v; want %d, nil", n, err, len(p))
	}
}

// commit writes a whole blob through a Writer and commits it.
func commit(t *testing.T, s content.Ingester, data []byte, desc ocispec.Descriptor, labels map[string]string) {
	t.Helper()
	w := mustWriter(t, s, content.RefFor(desc), desc)
	defer w.Close()
	mustWrite(t, w, data)
	if err := w.Commit(t.Context(), desc.Size, desc.Digest, labels); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// checkBlob reads a committed blob back every way there is.
func checkBlob(t *testing.T, s content.Store, data []byte, desc ocispec.Descriptor) {
	t.Helper()
	ctx := t.Context()
	info, err := s.Info(ctx, desc.Digest)
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if info.Digest != desc.Digest || info.Size != int64(len(data)) {
		t.Errorf("Info: %s %d bytes; want %s %d", info.Digest, info.Size, desc.Digest, len(data))
	}
	if info.CreatedAt.IsZero() || info.UpdatedAt.Before(info.CreatedAt) {
		t.Errorf("Info: CreatedAt %v, UpdatedAt %v", info.CreatedAt, info.UpdatedAt)
	}
	ra, err := s.ReaderAt(ctx, desc)
	if err != nil {
		t.Fatalf("ReaderAt: %v", err)
	}
	defer ra.Close()
	if ra.Size() != int64(len(data)) {
		t.Errorf("ReaderAt: Size %d, want %d", ra.Size(), len(data))
	}
	got, err := io.ReadAll(content.NewReader(ra))
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("NewReader: %d bytes, %v; want the blob's %d bytes", len(got), err, len(data))
	}
	if len(data) > 2 {
		p := make([]byte, 2)
		if _, err := ra.ReadAt(p, int64(len(data)-2)); err != nil && err != io.EOF || !bytes.Equal(p, data[len(data)-2:]) {
			t.Errorf("ReadAt at the end: %x, %v", p, err)
		}
	}
	got, err = content.ReadBlob(ctx, s, desc, content.WithReadLimit(int64(len(data))))
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("ReadBlob: %d bytes, %v; want the blob's %d bytes", len(got), err, len(data))
	}
}

func wantErr(t *testing.T, what string, err error, is func(error) bool, class string) {
	t.Helper()
	if !is(err) {
		t.Errorf("%s: %v; want %s", what, err, class)
	}
}

func testCommitAndRead(t *testing.T, s content.Store, _ options) {
	ctx := t.Context()
	data, desc := Blob(1, 1<<20+3)
	ref := content.RefFor(desc)
	w := mustWriter(t, s, ref, desc)
	defer w.Close()
	for p := data; len(p) > 0; {
		n := min(len(p), 100_000)
		mustWrite(t, w, p[:n])
		p = p[n:]
	}
	st, err := w.Status()
	if err != nil || st.Ref != ref || st.Offset != desc.Size || st.Total != desc.Size || st.Expected != desc.Digest {
		t.Errorf("Status: %+v, %v", st, err)
	}
	if w.Digest() != desc.Digest {
		t.Errorf("Digest: %s, want %s", w.Digest(), desc.Digest)
	}
	if st, err := s.Status(ctx, ref); err != nil || st.Offset != desc.Size {
		t.Errorf("store Status during the ingest: %+v, %v", st, err)
	}
	if err := w.Commit(ctx, desc.Size, desc.Digest, nil); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	checkBlob(t, s, data, desc)
	_, err = s.Status(ctx, ref)
	wantErr(t, "Status after Commit", err, errdefs.IsNotFound, "NotFound")
	if info, _ := s.Info(ctx, desc.Digest); info.Labels != nil {
		t.Errorf("Labels: %v, want none", info.Labels)
	}
}

func testCommitUnknownDigest(t *testing.T, s content.Store, _ options) {
	data, desc := Blob(2, 5000)
	w := mustWriter(t, s, "upload-1", ocispec.Descriptor{})
	defer w.Close()
	mustWrite(t, w, data)
	if err := w.Commit(t.Context(), 0, "", nil); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	checkBlob(t, s, data, desc)
}

func testEmptyBlob(t *testing.T, s content.Store, _ options) {
	data, desc := Blob(0, 0)
	commit(t, s, data, desc, nil)
	checkBlob(t, s, data, desc)
}

func testDigestMismatch(t *testing.T, s content.Store, _ options) {
	ctx := t.Context()
	data, desc := Blob(3, 10_000)
	_, other := Blob(4, 10_000)

	// Expected digest from the descriptor.
	bad := desc
	bad.Digest = other.Digest
	w := mustWriter(t, s, "a", bad)
	mustWrite(t, w, data)
	err := w.Commit(ctx, 0, "", nil)
	wantErr(t, "Commit", err, errdefs.IsInvalidParameter, "InvalidParameter")
	if !errors.Is(err, content.ErrDigestMismatch) {
		t.Errorf("Commit: %v; want ErrDigestMismatch", err)
	}
	w.Close()

	// Expected digest given to Commit only.
	w = mustWriter(t, s, "b", ocispec.Descriptor{})
	mustWrite(t, w, data)
	err = w.Commit(ctx, desc.Size, other.Digest, nil)
	wantErr(t, "Commit", err, errdefs.IsInvalidParameter, "InvalidParameter")

	for _, ref := range []string{"a", "b"} {
		_, err := s.Status(ctx, ref)
		wantErr(t, "Status of the discarded ingest "+ref, err, errdefs.IsNotFound, "NotFound")
	}
	for _, d := range []digest.Digest{desc.Digest, other.Digest} {
		_, err := s.Info(ctx, d)
		wantErr(t, "Info", err, errdefs.IsNotFound, "NotFound")
	}
}

func testSizeMismatch(t *testing.T, s content.Store, _ options) {
	ctx := t.Context()
	data, desc := Blob(5, 1000)

	// The descriptor says more than was written.
	long := desc
	long.Size++
	w := mustWriter(t, s, "a", long)
	mustWrite(t, w, data)
	err := w.Commit(ctx, 0, "", nil)
	wantErr(t, "Commit short of the declared size", err, errdefs.IsInvalidParameter, "InvalidParameter")
	if !errors.Is(err, content.ErrSizeMismatch) {
		t.Errorf("Commit: %v; want ErrSizeMismatch", err)
	}

	// Commit says another size.
	w = mustWriter(t, s, "b", ocispec.Descriptor{})
	mustWrite(t, w, data)
	err = w.Commit(ctx, desc.Size-1, desc.Digest, nil)
	wantErr(t, "Commit with a wrong size", err, errdefs.IsInvalidParameter, "InvalidParameter")

	if _, err := s.Info(ctx, desc.Digest); !errdefs.IsNotFound(err) {
		t.Errorf("Info: %v; want NotFound", err)
	}
	if _, err := s.Status(ctx, "b"); !errdefs.IsNotFound(err) {
		t.Errorf("Status of the discarded ingest: %v; want NotFound", err)
	}
}

func testWritePastDeclaredSize(t *testing.T, s content.Store, _ options) {
	data, desc := Blob(6, 100)
	short := desc
	short.Size = 60
	w := mustWriter(t, s, "a", short)
	defer w.Close()
	n, err := w.Write(data)
	if n > 60 || !errdefs.IsInvalidParameter(err) {
		t.Errorf("Write of 100 bytes into 60: %d, %v; want at most 60, InvalidParameter", n, err)
	}
	if st, _ := w.Status(); st.Offset > 60 {
		t.Errorf("Offset %d past the declared size", st.Offset)
	}
}

func testWriterAlreadyExists(t *testing.T, s content.Store, _ options) {
	data, desc := Blob(7, 100)
	commit(t, s, data, desc, nil)
	for _, ref := range []string{content.RefFor(desc), "another-ref"} {
		w, err := s.Writer(t.Context(), ref, desc)
		if w != nil {
			w.Close()
		}
		wantErr(t, "Writer of a committed blob", err, errdefs.IsAlreadyExists, "AlreadyExists")
	}
	err := content.WriteBlob(t.Context(), s, content.RefFor(desc), bytes.NewReader(data), desc)
	if err != nil {
		t.Errorf("WriteBlob of a committed blob: %v; want nil", err)
	}
}

func testCommitAlreadyExists(t *testing.T, s content.Store, _ options) {
	ctx := t.Context()
	data, desc := Blob(8, 3000)
	a := mustWriter(t, s, "a", ocispec.Descriptor{})
	b := mustWriter(t, s, "b", ocispec.Descriptor{})
	mustWrite(t, a, data)
	mustWrite(t, b, data)
	if err := a.Commit(ctx, desc.Size, desc.Digest, map[string]string{"first": "a"}); err != nil {
		t.Fatalf("first Commit: %v", err)
	}
	err := b.Commit(ctx, desc.Size, desc.Digest, map[string]string{"second": "b"})
	wantErr(t, "second Commit", err, errdefs.IsAlreadyExists, "AlreadyExists")
	if _, err := s.Status(ctx, "b"); !errdefs.IsNotFound(err) {
		t.Errorf("Status of the losing ingest: %v; want NotFound", err)
	}
	info, err := s.Info(ctx, desc.Digest)
	if err != nil || !maps.Equal(info.Labels, map[string]string{"first": "a"}) {
		t.Errorf("Info: labels %v, %v; want the first commit's", info.Labels, err)
	}
	checkBlob(t, s, data, desc)
}

func testClosedWriter(t *testing.T, s content.Store, _ options) {
	ctx := t.Context()
	data, desc := Blob(9, 10)
	w := mustWriter(t, s, "a", desc)
	mustWrite(t, w, data)
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	_, err := w.Write(data)
	wantErr(t, "Write after Close", err, errdefs.IsConflict, "Conflict")
	wantErr(t, "Truncate after Close", w.Truncate(0), errdefs.IsConflict, "Conflict")
	wantErr(t, "Commit after Close", w.Commit(ctx, 0, "", nil), errdefs.IsConflict, "Conflict")

	w = mustWriter(t, s, "a", desc)
	if err := w.Commit(ctx, 0, "", nil); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	_, err = w.Write(data)
	wantErr(t, "Write after Commit", err, errdefs.IsConflict, "Conflict")
	if err := w.Close(); err != nil {
		t.Errorf("Close after Commit: %v", err)
	}
}

func testResumeAfterClose(t *testing.T, s content.Store, _ options) {
	ctx := t.Context()
	data, desc := Blob(10, 300_000)
	ref := content.RefFor(desc)
	half := len(data) / 2
	w := mustWriter(t, s, ref, desc)
	mustWrite(t, w, data[:half])
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Status(ctx, ref); err != nil || st.Offset != int64(half) || st.Total != desc.Size || st.Expected != desc.Digest {
		t.Errorf("Status of the closed ingest: %+v, %v", st, err)
	}
	w = mustWriter(t, s, ref, desc)
	defer w.Close()
	if st, _ := w.Status(); st.Offset != int64(half) {
		t.Fatalf("resumed at %d, want %d", st.Offset, half)
	}
	if want := digest.FromBytes(data[:half]); w.Digest() != want {
		t.Errorf("Digest after resume: %s, want %s", w.Digest(), want)
	}
	mustWrite(t, w, data[half:])
	if err := w.Commit(ctx, desc.Size, desc.Digest, nil); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	checkBlob(t, s, data, desc)
}

func testResumeAfterReopen(t *testing.T, s content.Store, o options) {
	if o.reopen == nil {
		t.Skip("the store cannot be reopened (no WithReopen)")
	}
	ctx := t.Context()
	data, desc := Blob(11, 300_000)
	ref := content.RefFor(desc)
	third := len(data) / 3
	w := mustWriter(t, s, ref, desc)
	mustWrite(t, w, data[:third])
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	s = o.reopen(t, s)
	statuses, err := s.ListStatuses(ctx)
	if err != nil || len(statuses) != 1 || statuses[0].Ref != ref || statuses[0].Offset != int64(third) {
		t.Fatalf("ListStatuses after reopening: %+v, %v", statuses, err)
	}
	// Resume through WriteBlob, which seeks.
	if err := content.WriteBlob(ctx, s, ref, bytes.NewReader(data), desc); err != nil {
		t.Fatalf("WriteBlob: %v", err)
	}
	checkBlob(t, s, data, desc)
}

func testResumeRemembersDescriptor(t *testing.T, s content.Store, _ options) {
	ctx := t.Context()
	data, desc := Blob(12, 1000)
	_, other := Blob(13, 1000)
	bad := desc
	bad.Digest = other.Digest
	w := mustWriter(t, s, "a", bad)
	mustWrite(t, w, data)
	w.Close()
	// Resumed without a descriptor and committed without checks, the
	// ingest is still held to the digest it was started with.
	w = mustWriter(t, s, "a", ocispec.Descriptor{})
	defer w.Close()
	if st, _ := w.Status(); st.Expected != other.Digest || st.Total != desc.Size {
		t.Errorf("resumed Status: %+v; want the first descriptor's digest and size", st)
	}
	err := w.Commit(ctx, 0, "", nil)
	wantErr(t, "Commit", err, errdefs.IsInvalidParameter, "InvalidParameter")
}

func testResumeConflict(t *testing.T, s content.Store, _ options) {
	_, desc := Blob(14, 1000)
	_, other := Blob(15, 2000)
	w := mustWriter(t, s, "a", desc)
	w.Close()
	for _, d := range []ocispec.Descriptor{other, {Size: 2000}, {Digest: other.Digest}} {
		w, err := s.Writer(t.Context(), "a", d)
		if w != nil {
			w.Close()
		}
		wantErr(t, fmt.Sprintf("Writer with %d bytes %s", d.Size, d.Digest), err, errdefs.IsConflict, "Conflict")
	}
}

func testTruncate(t *testing.T, s content.Store, _ options) {
	ctx := t.Context()
	data, desc := Blob(16, 10_000)
	junk, _ := Blob(17, 10_000)
	w := mustWriter(t, s, content.RefFor(desc), desc)
	defer w.Close()

	mustWrite(t, w, junk[:5000])
	if err := w.Truncate(0); err != nil {
		t.Fatalf("Truncate(0): %v", err)
	}
	if st, _ := w.Status(); st.Offset != 0 {
		t.Errorf("Offset after Truncate(0): %d", st.Offset)
	}
	mustWrite(t, w, data[:4000])
	mustWrite(t, w, junk[:3000])
	if err := w.Truncate(4000); err != nil {
		t.Fatalf("Truncate(4000): %v", err)
	}
	if want := digest.FromBytes(data[:4000]); w.Digest() != want {
		t.Errorf("Digest after Truncate(4000): %s, want %s", w.Digest(), want)
	}
	wantErr(t, "Truncate past the end", w.Truncate(4001), errdefs.IsInvalidParameter, "InvalidParameter")
	wantErr(t, "Truncate to a negative size", w.Truncate(-1), errdefs.IsInvalidParameter, "InvalidParameter")
	mustWrite(t, w, data[4000:])
	if err := w.Commit(ctx, desc.Size, desc.Digest, nil); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	checkBlob(t, s, data, desc)
}

func testTwoWriters(t *testing.T, s content.Store, _ options) {
	ctx := t.Context()
	data, desc := Blob(18, 1000)
	ref := content.RefFor(desc)
	w1 := mustWriter(t, s, ref, desc)
	mustWrite(t, w1, data[:10])
	w2, err := s.Writer(ctx, ref, desc)
	if w2 != nil {
		w2.Close()
	}
	wantErr(t, "second Writer", err, errdefs.IsUnavailable, "Unavailable")
	wantErr(t, "Abort of a held ingest", s.Abort(ctx, ref), errdefs.IsUnavailable, "Unavailable")
	// The lock is per ref, not per store.
	w3 := mustWriter(t, s, "other", ocispec.Descriptor{})
	w3.Close()
	if err := w1.Close(); err != nil {
		t.Fatal(err)
	}
	w4 := mustWriter(t, s, ref, desc)
	defer w4.Close()
	if st, _ := w4.Status(); st.Offset != 10 {
		t.Errorf("Writer after Close resumed at %d, want 10", st.Offset)
	}
}

func testOpenWriterWaits(t *testing.T, s content.Store, _ options) {
	ctx := t.Context()
	data, desc := Blob(19, 100_000)
	ref := content.RefFor(desc)
	w := mustWriter(t, s, ref, desc)
	done := make(chan error, 1)
	go func() {
		w2, err := content.OpenWriter(ctx, s, ref, desc)
		if w2 != nil {
			w2.Close()
		}
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // let it find the ref taken
	select {
	case err := <-done:
		t.Fatalf("OpenWriter returned while the ref was held: %v", err)
	default:
	}
	mustWrite(t, w, data)
	if err := w.Commit(ctx, desc.Size, desc.Digest, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		wantErr(t, "OpenWriter after the holder committed", err, errdefs.IsAlreadyExists, "AlreadyExists")
	case <-time.After(10 * time.Second):
		t.Fatal("OpenWriter still waiting 10s after the commit")
	}
}

func testOpenWriterGivesUp(t *testing.T, s content.Store, _ options) {
	_, desc := Blob(20, 100)
	ref := content.RefFor(desc)
	w := mustWriter(t, s, ref, desc)
	defer w.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	w2, err := content.OpenWriter(ctx, s, ref, desc)
	if w2 != nil {
		w2.Close()
	}
	if !errdefs.IsUnavailable(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("OpenWriter with a deadline: %v; want Unavailable and DeadlineExceeded", err)
	}
}

// countingReader counts the bytes read through it, and is no io.Seeker.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func testConcurrentWriteBlob(t *testing.T, s content.Store, _ options) {
	ctx := t.Context()
	data, desc := Blob(21, 4<<20)
	var (
		read atomic.Int64
		wg   sync.WaitGroup
		errs = make([]error, 8)
	)
	for i := range errs {
		wg.Go(func() {
			errs[i] = content.WriteBlob(ctx, s, content.RefFor(desc), countingReader{bytes.NewReader(data), &read}, desc)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("WriteBlob %d: %v", i, err)
		}
	}
	if n := read.Load(); n != desc.Size {
		t.Errorf("8 concurrent WriteBlobs read %d bytes; want the blob's %d, read once", n, desc.Size)
	}
	checkBlob(t, s, data, desc)
}

func testWriteBlobResume(t *testing.T, s content.Store, _ options) {
	ctx := t.Context()
	partial := func(seed uint64) ([]byte, ocispec.Descriptor) {
		data, desc := Blob(seed, 200_000)
		w := mustWriter(t, s, content.RefFor(desc), desc)
		mustWrite(t, w, data[:70_000])
		w.Close()
		return data, desc
	}

	t.Run("Seeker", func(t *testing.T) {
		data, desc := partial(22)
		var read atomic.Int64
		br := bytes.NewReader(data)
		r := struct {
			io.Reader
			io.Seeker
		}{countingReader{br, &read}, br}
		if err := content.WriteBlob(ctx, s, content.RefFor(desc), r, desc); err != nil {
			t.Fatalf("WriteBlob: %v", err)
		}
		if n := read.Load(); n != desc.Size-70_000 {
			t.Errorf("read %d bytes; want only the %d missing", n, desc.Size-70_000)
		}
		checkBlob(t, s, data, desc)
	})
	t.Run("WithResume", func(t *testing.T) {
		data, desc := partial(23)
		var offsets []int64
		open := func(off int64) (io.ReadCloser, error) {
			offsets = append(offsets, off)
			return io.NopCloser(bytes.NewReader(data[off:])), nil
		}
		if err := content.WriteBlob(ctx, s, content.RefFor(desc), nil, desc, content.WithResume(open)); err != nil {
			t.Fatalf("WriteBlob: %v", err)
		}
		if !slices.Equal(offsets, []int64{70_000}) {
			t.Errorf("source opened at %v; want [70000]", offsets)
		}
		checkBlob(t, s, data, desc)
	})
	t.Run("StartOver", func(t *testing.T) {
		data, desc := partial(24)
		var read atomic.Int64
		if err := content.WriteBlob(ctx, s, content.RefFor(desc), countingReader{bytes.NewReader(data), &read}, desc); err != nil {
			t.Fatalf("WriteBlob: %v", err)
		}
		if n := read.Load(); n != desc.Size {
			t.Errorf("read %d bytes; want all %d", n, desc.Size)
		}
		checkBlob(t, s, data, desc)
	})
	t.Run("OnlyCommitMissing", func(t *testing.T) {
		data, desc := Blob(36, 1000)
		w := mustWriter(t, s, content.RefFor(desc), desc)
		mustWrite(t, w, data)
		w.Close()
		open := func(off int64) (io.ReadCloser, error) {
			t.Errorf("source opened at %d, with nothing left to read", off)
			return nil, errors.New("no")
		}
		if err := content.WriteBlob(ctx, s, content.RefFor(desc), nil, desc, content.WithResume(open)); err != nil {
			t.Fatalf("WriteBlob: %v", err)
		}
		checkBlob(t, s, data, desc)
	})
	t.Run("NothingToResume", func(t *testing.T) {
		data, desc := Blob(25, 1000)
		open := func(off int64) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data[off:])), nil
		}
		if err := content.WriteBlob(ctx, s, content.RefFor(desc), nil, desc, content.WithResume(open), content.WithLabels(map[string]string{"k": "v"})); err != nil {
			t.Fatalf("WriteBlob: %v", err)
		}
		checkBlob(t, s, data, desc)
		if info, _ := s.Info(ctx, desc.Digest); info.Labels["k"] != "v" {
			t.Errorf("labels %v; want k=v", info.Labels)
		}
	})
	t.Run("NoSource", func(t *testing.T) {
		_, desc := Blob(26, 10)
		err := content.WriteBlob(ctx, s, content.RefFor(desc), nil, desc)
		wantErr(t, "WriteBlob without a source", err, errdefs.IsInvalidParameter, "InvalidParameter")
	})
}

func testWriteBlobBadData(t *testing.T, s content.Store, _ options) {
	ctx := t.Context()
	_, desc := Blob(27, 1000)
	junk, _ := Blob(28, 1000)
	err := content.WriteBlob(ctx, s, content.RefFor(desc), bytes.NewReader(junk), desc)
	wantErr(t, "WriteBlob of the wrong data", err, errdefs.IsInvalidParameter, "InvalidParameter")
	if _, err := s.Status(ctx, content.RefFor(desc)); !errdefs.IsNotFound(err) {
		t.Errorf("Status after the failed WriteBlob: %v; want NotFound (discarded)", err)
	}
	// Too much data is refused as it arrives.
	long, _ := Blob(29, 2000)
	err = content.WriteBlob(ctx, s, content.RefFor(desc), bytes.NewReader(long), desc)
	wantErr(t, "WriteBlob of too much data", err, errdefs.IsInvalidParameter, "InvalidParameter")
}

func testReadBlob(t *testing.T, s content.Store, _ options) {
	ctx := t.Context()
	data, desc := Blob(30, 1000)
	commit(t, s, data, desc, nil)
	_, err := content.ReadBlob(ctx, s, desc, content.WithReadLimit(999))
	wantErr(t, "ReadBlob over the limit", err, errdefs.IsInvalidParameter, "InvalidParameter")
	wrong := desc
	wrong.Size = 999
	_, err = content.ReadBlob(ctx, s, wrong)
	if !errors.Is(err, content.ErrSizeMismatch) {
		t.Errorf("ReadBlob with a wrong size: %v; want ErrSizeMismatch", err)
	}
	huge := desc
	huge.Size = math.MaxInt64
	_, err = content.ReadBlob(ctx, s, huge)
	wantErr(t, "ReadBlob of a huge descriptor", err, errdefs.IsInvalidParameter, "InvalidParameter")
	_, missing := Blob(31, 10)
	_, err = content.ReadBlob(ctx, s, missing)
	wantErr(t, "ReadBlob of a missing blob", err, errdefs.IsNotFound, "NotFound")
	got, err := content.ReadBlob(ctx, s, ocispec.Descriptor{Digest: desc.Digest})
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("ReadBlob without a size: %d bytes, %v", len(got), err)
	}
}

func testLabels(t *testing.T, s content.Store, _ options) {
	ctx := t.Context()
	data, desc := Blob(32, 100)
	commit(t, s, data, desc, map[string]string{"a": "1", "b": "2"})
	info, err := s.Info(ctx, desc.Digest)
	if err != nil || !maps.Equal(info.Labels, map[string]string{"a": "1", "b": "2"}) {
		t.Fatalf("Info: %v, %v", info.Labels, err)
	}

	steps := []struct {
		labels     map[string]string
		fieldpaths []string
		want       map[string]string
	}{
		{map[string]string{"a": "", "c": "3", "ignored": "x"}, []string{"labels.a", "labels.c"}, map[string]string{"b": "2", "c": "3"}},
		{map[string]string{"x": "1"}, []string{"labels"}, map[string]string{"x": "1"}},
		{map[string]string{"y": "1"}, nil, map[string]string{"y": "1"}},
		{map[string]string{"z": "2"}, []string{"labels.z"}, map[string]string{"y": "1", "z": "2"}},
		{nil, nil, nil},
	}
	for i, st := range steps {
		got, err := s.Update(ctx, content.Info{Digest: desc.Digest, Labels: st.labels}, st.fieldpaths...)
		if err != nil {
			t.Fatalf("Update %d: %v", i, err)
		}
		if !maps.Equal(got.Labels, st.want) || got.Size != desc.Size || got.Digest != desc.Digest {
			t.Errorf("Update %d: %v %d %s; want %v", i, got.Labels, got.Size, got.Digest, st.want)
		}
		info, err := s.Info(ctx, desc.Digest)
		if err != nil || !maps.Equal(info.Labels, st.want) {
			t.Errorf("Info after Update %d: %v, %v; want %v", i, info.Labels, err, st.want)
		}
	}

	_, err = s.Update(ctx, content.Info{Digest: desc.Digest, Size: 1}, "size")
	wantErr(t, "Update of size", err, errdefs.IsInvalidParameter, "InvalidParameter")
	_, err = s.Update(ctx, content.Info{Digest: desc.Digest, Labels: map[string]string{"": "v"}})
	wantErr(t, "Update with an empty key", err, errdefs.IsInvalidParameter, "InvalidParameter")
	_, err = s.Update(ctx, content.Info{Digest: desc.Digest, Labels: map[string]string{"k": string(make([]byte, 5000))}})
	wantErr(t, "Update with a huge label", err, errdefs.IsInvalidParameter, "InvalidParameter")
	_, missing := Blob(33, 10)
	_, err = s.Update(ctx, content.Info{Digest: missing.Digest, Labels: map[string]string{"k": "v"}})
	wantErr(t, "Update of a missing blob", err, errdefs.IsNotFound, "NotFound")

	// Commit refuses bad labels before anything happens.
	_, d2 := Blob(34, 10)
	w := mustWriter(t, s, content.RefFor(d2), d2)
	defer w.Close()
	err = w.Commit(ctx, 0, "", map[string]string{"": "x"})
	wantErr(t, "Commit with an empty label key", err, errdefs.IsInvalidParameter, "InvalidParameter")
	if _, err := s.Info(ctx, d2.Digest); !errdefs.IsNotFound(err) {
		t.Errorf("Info after the refused Commit: %v; want NotFound", err)
	}
}

func testWalk(t *testing.T, s content.Store, _ options) {
	ctx := t.Context()
	want := map[digest.Digest]int64{}
	for i := range 5 {
		data, desc := Blob(uint64(40+i), 100*i)
		var labels map[string]string
		if i == 2 {
			labels = map[string]string{"k": "v"}
		}
		commit(t, s, data, desc, labels)
		want[desc.Digest] = desc.Size
	}
	data512 := []byte("sha512 blob")
	d512 := ocispec.Descriptor{Digest: digest.SHA512.FromBytes(data512), Size: int64(len(data512))}
	commit(t, s, data512, d512, nil)
	want[d512.Digest] = d512.Size
	// An ingest in progress is not a blob.
	w := mustWriter(t, s, "in-progress", ocispec.Descriptor{})
	mustWrite(t, w, []byte("partial"))
	w.Close()

	got := map[digest.Digest]int64{}
	labelled := 0
	err := s.Walk(ctx, func(info content.Info) error {
		got[info.Digest] = info.Size
		if info.Labels["k"] == "v" {
			labelled++
		}
		return nil
	})
	if err != nil || !maps.Equal(got, want) || labelled != 1 {
		t.Errorf("Walk: %v, %v, %d labelled; want %v, 1 labelled", got, err, labelled, want)
	}

	stop := errors.New("stop")
	calls := 0
	err = s.Walk(ctx, func(content.Info) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Walk stopped by its func: %v after %d calls; want the func's error after 1", err, calls)
	}
}

func testDelete(t *testing.T, s content.Store, _ options) {
	ctx := t.Context()
	data, desc := Blob(50, 100)
	commit(t, s, data, desc, map[string]string{"k": "v"})
	if err := s.Delete(ctx, desc.Digest); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err := s.Info(ctx, desc.Digest)
	wantErr(t, "Info after Delete", err, errdefs.IsNotFound, "NotFound")
	_, err = s.ReaderAt(ctx, desc)
	wantErr(t, "ReaderAt after Delete", err, errdefs.IsNotFound, "NotFound")
	wantErr(t, "second Delete", s.Delete(ctx, desc.Digest), errdefs.IsNotFound, "NotFound")
	s.Walk(ctx, func(info content.Info) error {
		t.Errorf("Walk after Delete found %s", info.Digest)
		return nil
	})
	// Committed again, it does not get its old labels back.
	commit(t, s, data, desc, nil)
	if info, err := s.Info(ctx, desc.Digest); err != nil || info.Labels != nil {
		t.Errorf("Info after committing again: labels %v, %v; want none", info.Labels, err)
	}

	// A reader open across Delete keeps reading.
	ra, err := s.ReaderAt(ctx, desc)
	if err != nil {
		t.Fatal(err)
	}
	defer ra.Close()
	if err := s.Delete(ctx, desc.Digest); err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(content.NewReader(ra)); err != nil || !bytes.Equal(got, data) {
		t.Errorf("reading after Delete: %d bytes, %v", len(got), err)
	}
}

func testAbort(t *testing.T, s content.Store, _ options) {
	ctx := t.Context()
	data, desc := Blob(51, 1000)
	ref := content.RefFor(desc)
	w := mustWriter(t, s, ref, desc)
	mustWrite(t, w, data[:500])
	w.Close()
	if err := s.Abort(ctx, ref); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	_, err := s.Status(ctx, ref)
	wantErr(t, "Status after Abort", err, errdefs.IsNotFound, "NotFound")
	wantErr(t, "second Abort", s.Abort(ctx, ref), errdefs.IsNotFound, "NotFound")
	if sts, err := s.ListStatuses(ctx); err != nil || len(sts) != 0 {
		t.Errorf("ListStatuses after Abort: %v, %v", sts, err)
	}
	w = mustWriter(t, s, ref, desc)
	defer w.Close()
	if st, _ := w.Status(); st.Offset != 0 {
		t.Errorf("Writer after Abort starts at %d, want 0", st.Offset)
	}
}

func testListStatuses(t *testing.T, s content.Store, _ options) {
	ctx := t.Context()
	if sts, err := s.ListStatuses(ctx); err != nil || len(sts) != 0 {
		t.Errorf("ListStatuses of an empty store: %v, %v", sts, err)
	}
	data, desc := Blob(52, 1000)
	open := mustWriter(t, s, "open", desc)
	defer open.Close()
	mustWrite(t, open, data[:100])
	closed := mustWriter(t, s, "closed", ocispec.Descriptor{})
	mustWrite(t, closed, data[:300])
	closed.Close()

	sts, err := s.ListStatuses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]content.Status{}
	for _, st := range sts {
		got[st.Ref] = st
	}
	if st := got["open"]; len(got) != 2 || st.Offset != 100 || st.Total != desc.Size || st.Expected != desc.Digest || st.StartedAt.IsZero() {
		t.Errorf("ListStatuses: %+v", sts)
	}
	if st := got["closed"]; st.Offset != 300 || st.Total != 0 || st.Expected != "" {
		t.Errorf("ListStatuses: %+v", sts)
	}
}

func testSHA512(t *testing.T, s content.Store, _ options) {
	ctx := t.Context()
	data, _ := Blob(53, 100_000)
	desc := ocispec.Descriptor{Digest: digest.SHA512.FromBytes(data), Size: int64(len(data))}
	w := mustWriter(t, s, content.RefFor(desc), desc)
	mustWrite(t, w, data)
	if w.Digest() != desc.Digest {
		t.Errorf("Digest: %s, want %s", w.Digest(), desc.Digest)
	}
	if err := w.Commit(ctx, desc.Size, desc.Digest, nil); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	checkBlob(t, s, data, desc)
	if _, err := s.Info(ctx, digest.FromBytes(data)); !errdefs.IsNotFound(err) {
		t.Errorf("Info by sha256: %v; want NotFound", err)
	}

	// Written without knowing the digest, committed with a sha512 one.
	data2, _ := Blob(54, 5000)
	desc2 := ocispec.Descriptor{Digest: digest.SHA512.FromBytes(data2), Size: int64(len(data2))}
	w = mustWriter(t, s, "unknown", ocispec.Descriptor{})
	mustWrite(t, w, data2)
	if err := w.Commit(ctx, desc2.Size, desc2.Digest, nil); err != nil {
		t.Fatalf("Commit with a sha512 digest: %v", err)
	}
	checkBlob(t, s, data2, desc2)

	// A mismatch in sha512 is caught too.
	w = mustWriter(t, s, "unknown2", ocispec.Descriptor{})
	mustWrite(t, w, data)
	err := w.Commit(ctx, 0, desc2.Digest, nil)
	wantErr(t, "Commit with a wrong sha512 digest", err, errdefs.IsInvalidParameter, "InvalidParameter")
}

// BadDigests are digests a store must refuse as InvalidParameter.
var BadDigests = []digest.Digest{
	"",
	"sha256",
	"sha256:",
	"sha256:abc",
	"sha256:" + digest.Digest(bytes.Repeat([]byte("A"), 64)),
	"sha256:" + digest.Digest(bytes.Repeat([]byte("g"), 64)),
	"sha256:" + digest.Digest(bytes.Repeat([]byte("a"), 65)),
	"sha256:../../../../etc/passwd",
	"sha256:" + digest.Digest(bytes.Repeat([]byte("a"), 63)) + "/",
	"sha256:" + digest.Digest(bytes.Repeat([]byte("a"), 63)) + "\x00",
	"sha384:" + digest.Digest(bytes.Repeat([]byte("a"), 96)),
	"md5:d41d8cd98f00b204e9800998ecf8427e",
	"SHA256:" + digest.Digest(bytes.Repeat([]byte("a"), 64)),
	digest.Digest(bytes.Repeat([]byte("a"), 100_000)),
}

// BadRefs are ingest refs a store must refuse as InvalidParameter.
var BadRefs = []string{
	"",
	"a\x00b",
	"line\nbreak",
	"\x7f",
	"bad utf-8 \xff",
	string(bytes.Repeat([]byte("r"), 1<<20)),
}

func testInvalidInput(t *testing.T, s content.Store, _ options) {
	ctx := t.Context()
	for _, d := range BadDigests {
		name := fmt.Sprintf("%.40q", string(d))
		desc := ocispec.Descriptor{Digest: d, Size: 1}
		if d == "" {
			// An empty digest is "unknown" for a Writer, not an error.
			_, err := s.Info(ctx, d)
			wantErr(t, "Info "+name, err, errdefs.IsInvalidParameter, "InvalidParameter")
			continue
		}
		w, err := s.Writer(ctx, "ref", desc)
		if w != nil {
			w.Close()
		}
		wantErr(t, "Writer "+name, err, errdefs.IsInvalidParameter, "InvalidParameter")
		_, err = s.Info(ctx, d)
		wantErr(t, "Info "+name, err, errdefs.IsInvalidParameter, "InvalidParameter")
		_, err = s.ReaderAt(ctx, desc)
		wantErr(t, "ReaderAt "+name, err, errdefs.IsInvalidParameter, "InvalidParameter")
		_, err = s.Update(ctx, content.Info{Digest: d, Labels: map[string]string{"k": "v"}})
		wantErr(t, "Update "+name, err, errdefs.IsInvalidParameter, "InvalidParameter")
		wantErr(t, "Delete "+name, s.Delete(ctx, d), errdefs.IsInvalidParameter, "InvalidParameter")

		w = mustWriter(t, s, "commit-bad-digest", ocispec.Descriptor{})
		err = w.Commit(ctx, 0, d, nil)
		wantErr(t, "Commit "+name, err, errdefs.IsInvalidParameter, "InvalidParameter")
		w.Close()
	}
	for _, ref := range BadRefs {
		name := fmt.Sprintf("%.40q", ref)
		w, err := s.Writer(ctx, ref, ocispec.Descriptor{})
		if w != nil {
			w.Close()
		}
		wantErr(t, "Writer "+name, err, errdefs.IsInvalidParameter, "InvalidParameter")
		_, err = s.Status(ctx, ref)
		wantErr(t, "Status "+name, err, errdefs.IsInvalidParameter, "InvalidParameter")
		wantErr(t, "Abort "+name, s.Abort(ctx, ref), errdefs.IsInvalidParameter, "InvalidParameter")
	}
	for _, size := range []int64{-1, math.MaxInt64} {
		w, err := s.Writer(ctx, "ref", ocispec.Descriptor{Size: size})
		if w != nil {
			w.Close()
		}
		wantErr(t, fmt.Sprintf("Writer of %d bytes", size), err, errdefs.IsInvalidParameter, "InvalidParameter")
	}
	if sts, err := s.ListStatuses(ctx); err != nil || len(sts) > 1 {
		// Only "commit-bad-digest" may be left.
		t.Errorf("refused Writers left ingests: %+v, %v", sts, err)
	}

	// Refs that look like paths are only names.
	data, desc := Blob(60, 100)
	for _, ref := range []string{"../../../../tmp/x", "/etc/passwd", ".", "..", "a/../../b", string(bytes.Repeat([]byte("x/"), 500))} {
		if err := content.WriteBlob(ctx, s, ref, bytes.NewReader(data), ocispec.Descriptor{Size: desc.Size}); err != nil {
			t.Errorf("WriteBlob with ref %.40q: %v", ref, err)
		}
		if err := s.Delete(ctx, desc.Digest); err != nil {
			t.Errorf("Delete after ref %.40q: %v", ref, err)
		}
	}
}
