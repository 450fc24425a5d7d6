// Package content is Berth's content-addressed blob store: every blob lives
// under its digest (sha256 or sha512), is verified on ingest, and is written
// atomically (temp file, fsync, rename), so a crash at any point leaves a
// store that is consistent on the next open.
//
// The roles are small interfaces composed into Store, as containerd's are:
// Provider reads, Ingester writes, Manager lists and deletes, IngestManager
// watches and aborts ingests in progress.
//
// LocalStore keeps a Store in a directory, for any number of processes at
// once, and checks itself (Check). The helpers work with any
// implementation: WriteBlob ingests a stream, resuming an interrupted
// ingest; OpenWriter waits for a ref another writer holds; ReadBlob reads
// a small blob whole; NewVerifiedReader checks data from outside against
// its descriptor. contenttest holds the conformance suite every
// implementation passes.
package content

import (
	"context"
	"io"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Info describes a committed blob.
type Info struct {
	Digest    digest.Digest
	Size      int64
	CreatedAt time.Time
	UpdatedAt time.Time
	// Labels are free-form; the image store keeps GC references in them
	// ("berth.io/gc.ref.content.<n>" = digest) and nothing else does.
	Labels map[string]string
}

// Status describes an ingest in progress (or interrupted).
type Status struct {
	Ref       string
	Offset    int64 // bytes written so far
	Total     int64 // expected size, 0 if unknown
	Expected  digest.Digest
	StartedAt time.Time
	UpdatedAt time.Time
}

// ReaderAt reads a committed blob.
type ReaderAt interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// Provider opens committed blobs. A missing blob is errdefs.ErrNotFound.
type Provider interface {
	ReaderAt(ctx context.Context, desc ocispec.Descriptor) (ReaderAt, error)
}

// Ingester starts and resumes ingests.
//
// Writer opens the ingest named ref, creating it or resuming it where an
// earlier (perhaps killed) writer stopped: Status().Offset says where to
// continue. One Writer per ref at a time: a second gets
// errdefs.ErrUnavailable until the first is closed (OpenWriter waits). If
// desc.Digest is set and already committed, Writer returns
// errdefs.ErrAlreadyExists. Callers that know the digest use it as the ref
// (RefFor), so concurrent ingests of one blob write it once.
//
// desc.Size and desc.Digest, when set, are remembered with the ingest and
// checked again by Commit, so a writer that resumes without them still
// verifies; resuming with a different non-zero size or digest than the
// ingest was started with is errdefs.ErrConflict. A ref that is empty, not
// UTF-8, holds control characters or is too long, a digest of an
// algorithm other than sha256 and sha512 or with malformed hex, and a
// negative size or one past the store's limit are
// errdefs.ErrInvalidParameter, before anything is written.
//
// The usual life of an ingest, as WriteBlob does it:
//
//	w, err := content.OpenWriter(ctx, store, content.RefFor(desc), desc)
//	if errdefs.IsAlreadyExists(err) {
//		return nil // someone else has it already
//	}
//	...
//	defer w.Close()
//	st, _ := w.Status() // st.Offset > 0: resume the source there
//	io.Copy(w, src)
//	err = w.Commit(ctx, desc.Size, desc.Digest, labels)
type Ingester interface {
	Writer(ctx context.Context, ref string, desc ocispec.Descriptor) (Writer, error)
}

// Writer writes one ingest. Data written is durable only after Commit.
//
// A Writer holds its ref until Close or Commit; it is not safe for
// concurrent use. Close keeps the data for a later Writer of the same ref
// to resume; Abort (after Close) throws it away. Write refuses bytes past
// the declared size (desc.Size) with errdefs.ErrInvalidParameter, so a
// peer that sends too much fills no disk. Write, Truncate and Commit on a
// closed or committed Writer are errdefs.ErrConflict.
type Writer interface {
	io.WriteCloser
	// Digest is the digest of everything written so far, in the algorithm
	// of the expected digest (sha256 when none is known).
	Digest() digest.Digest
	Status() (Status, error)
	// Truncate discards data past size (to restart a bad download); size
	// may not exceed Status().Offset.
	Truncate(size int64) error
	// Commit verifies size and digest (when not zero), fsyncs, and moves
	// the data under its digest. A mismatch is errdefs.ErrInvalidParameter
	// and discards the ingest; a blob committed meanwhile by someone else
	// is errdefs.ErrAlreadyExists (this writer's data is discarded).
	//
	// Commit also checks the size and digest the Writer was opened with.
	// The labels are in place when the blob appears, never after. Commit
	// ends the Writer whatever it returns; after an error that is neither
	// of those two classes (an I/O error, a cancelled ctx) the ingest is
	// kept for a later Writer to resume.
	Commit(ctx context.Context, size int64, expected digest.Digest, labels map[string]string) error
}

// WalkFunc is called for each committed blob.
type WalkFunc func(Info) error

// Manager inspects, labels, lists and deletes committed blobs. A blob that
// is not there is errdefs.ErrNotFound; a malformed digest is
// errdefs.ErrInvalidParameter.
type Manager interface {
	Info(ctx context.Context, dgst digest.Digest) (Info, error)
	// Update replaces the labels named by fieldpaths ("labels" or
	// "labels.<key>"); with no fieldpaths, all labels. A label set to ""
	// is removed. Any other fieldpath is errdefs.ErrInvalidParameter.
	Update(ctx context.Context, info Info, fieldpaths ...string) (Info, error)
	// Walk calls fn for every committed blob, and stops at the first
	// error fn returns, returning it. Blobs committed or deleted during
	// the walk may or may not be seen.
	Walk(ctx context.Context, fn WalkFunc) error
	Delete(ctx context.Context, dgst digest.Digest) error
}

// IngestManager watches and aborts ingests. An ingest that is not there is
// errdefs.ErrNotFound.
type IngestManager interface {
	Status(ctx context.Context, ref string) (Status, error)
	ListStatuses(ctx context.Context) ([]Status, error)
	// Abort throws an ingest's data away. An ingest whose Writer is still
	// open is errdefs.ErrUnavailable: close the Writer first.
	Abort(ctx context.Context, ref string) error
}

// Store is everything, for the callers that need everything.
type Store interface {
	Provider
	Ingester
	Manager
	IngestManager
}

// RefFor is the ingest ref for a blob whose digest is known.
func RefFor(desc ocispec.Descriptor) string { return "blob-" + desc.Digest.String() }
