package content

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// The files of an ingest directory. data grows as the writer writes;
// the others are written once, before the directory gets its name, except
// updatedat, which Close refreshes (Status also trusts data's mtime, so a
// lost or torn updatedat costs nothing).
const (
	ingestData      = "data"
	ingestRef       = "ref"
	ingestTotal     = "total"
	ingestExpected  = "expected"
	ingestStartedAt = "startedat"
	ingestUpdatedAt = "updatedat"
)

// errBadIngest marks an ingest directory that cannot be resumed: its
// metadata did not survive a power cut, or its data is gone because a
// commit moved it into blobs/ and then crashed. Nothing in it is worth
// keeping.
var errBadIngest = errors.New("unusable ingest directory")

// maxAttempts bounds how often Writer looks again when another process
// sets up or removes the same ingest under it. Each retry means someone
// else made progress, so a few always suffice.
const maxAttempts = 16

// refHash names a ref's ingest directory. Hashing makes any ref a safe
// file name, whatever "../", slashes or length it holds.
func refHash(ref string) string {
	sum := sha256.Sum256([]byte(ref))
	return hex.EncodeToString(sum[:])
}

func (s *LocalStore) ingestPath(ref string) string {
	return filepath.Join(s.root, ingestDir, refHash(ref))
}

func isIngestName(name string) bool { return digest.SHA256.Validate(name) == nil }

var bufPool = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// copyHash feeds src to h until EOF, stopping early when ctx is done: a
// resume re-hashes what is there, which for a big layer takes seconds.
func copyHash(ctx context.Context, h io.Writer, src io.Reader) (int64, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m, err := src.Read(buf)
		h.Write(buf[:m]) // hash.Hash never fails
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// Writer opens or resumes the ingest ref: see Ingester.
func (s *LocalStore) Writer(ctx context.Context, ref string, desc ocispec.Descriptor) (Writer, error) {
	if err := validateRef(ref); err != nil {
		return nil, err
	}
	if err := validateDescriptor(desc, s.maxBlobSize); err != nil {
		return nil, err
	}
	dir := s.ingestPath(ref)
	if desc.Digest != "" {
		if err := s.checkNotCommitted(desc.Digest); err != nil {
			if errdefs.IsAlreadyExists(err) {
				s.dropRedundant(dir, desc.Digest)
			}
			return nil, err
		}
	}
	for range maxAttempts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		lk, err := lockDir(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			lk, err = s.createIngest(dir, ref, desc)
			if errors.Is(err, fs.ErrExist) || errors.Is(err, errMoved) {
				continue // another writer set it up first, or recovery took our temporary
			}
			if err != nil {
				return nil, err
			}
		case errors.Is(err, errMoved):
			continue
		case err != nil:
			return nil, fmt.Errorf("content: ingest %q: %w", ref, err)
		case lk == nil:
			return nil, fmt.Errorf("content: ingest %q: another writer holds it: %w", ref, errdefs.ErrUnavailable)
		}
		w, err := s.resume(ctx, lk, dir, ref, desc)
		if errors.Is(err, errMoved) {
			continue // it was unusable and is gone: set up a fresh one
		}
		if err != nil {
			return nil, err // not a nil *writer in a non-nil Writer
		}
		return w, nil
	}
	return nil, fmt.Errorf("content: ingest %q: kept changing under us: %w", ref, errdefs.ErrUnavailable)
}

// dropRedundant throws away an ingest of a blob that is already there
// (left by a writer that died, or committed under another ref), unless
// someone holds it: nobody would ever resume it.
func (s *LocalStore) dropRedundant(dir string, dgst digest.Digest) {
	if _, err := os.Lstat(dir); err != nil {
		return // the usual case: no ingest at all
	}
	lk, _ := lockDir(dir)
	if lk == nil {
		return
	}
	defer unlockClose(lk)
	if st, err := readIngest(dir); err == nil && st.Expected == dgst {
		s.discard(dir)
	}
}

// checkNotCommitted answers ErrAlreadyExists for a blob that is there.
func (s *LocalStore) checkNotCommitted(dgst digest.Digest) error {
	p, err := s.blobPath(dgst)
	if err != nil {
		return err
	}
	_, err = os.Lstat(p)
	switch {
	case err == nil:
		return fmt.Errorf("content: blob %s: %w", dgst, errdefs.ErrAlreadyExists)
	case errors.Is(err, fs.ErrNotExist):
		return nil
	default:
		return fmt.Errorf("content: blob %s: %w", dgst, err)
	}
}

// createIngest sets up a new ingest in a temporary directory, locked from
// the start, and only then gives it its name, so nobody ever sees half an
// ingest under a ref's name. It returns the lock, now on dir, or an error
// wrapping fs.ErrExist when another writer named its own first.
//
// Nothing is synced: an ingest that a power cut loses or tears holds no
// data yet, and a torn one is errBadIngest, which the next Writer or
// NewStore throws away.
func (s *LocalStore) createIngest(dir, ref string, desc ocispec.Descriptor) (*os.File, error) {
	tmp := filepath.Join(s.root, ingestDir, tempName(tmpPrefix))
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("content: ingest %q: %w", ref, err)
	}
	crashPoint("ingest-mkdir")
	lk, err := lockDir(tmp)
	switch {
	case lk == nil && err == nil, errors.Is(err, fs.ErrNotExist), errors.Is(err, errMoved):
		// Only recovery in another process locks a temporary, and it is
		// removing this one: start again.
		return nil, errMoved
	case err != nil:
		os.Remove(tmp)
		return nil, fmt.Errorf("content: ingest %q: %w", ref, err)
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	err = writeIngestFiles(tmp, map[string]string{
		ingestRef:       ref,
		ingestTotal:     strconv.FormatInt(desc.Size, 10),
		ingestExpected:  desc.Digest.String(),
		ingestStartedAt: now,
		ingestUpdatedAt: now,
	})
	if err == nil {
		crashPoint("ingest-set-up")
		err = renameNoReplace(tmp, dir)
	}
	if err != nil {
		os.RemoveAll(tmp)
		unlockClose(lk)
		if errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		return nil, fmt.Errorf("content: ingest %q: %w", ref, err)
	}
	return lk, nil
}

func writeIngestFiles(dir string, files map[string]string) error {
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(filepath.Join(dir, ingestData), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// resume turns the ingest in dir, whose lock lk the caller holds, into a
// writer, re-hashing the data already there. It owns lk from here on.
func (s *LocalStore) resume(ctx context.Context, lk *os.File, dir, ref string, desc ocispec.Descriptor) (w *writer, err error) {
	defer func() {
		if w == nil {
			unlockClose(lk)
		}
	}()
	st, err := readIngest(dir)
	if err == nil && st.Ref != ref {
		err = fmt.Errorf("ref file holds %q: %w", st.Ref, errBadIngest)
	}
	if errors.Is(err, errBadIngest) {
		s.discard(dir)
		return nil, errMoved
	}
	if err != nil {
		return nil, fmt.Errorf("content: ingest %q: %w", ref, err)
	}
	if desc.Digest != "" {
		if err := s.checkNotCommitted(desc.Digest); err != nil {
			if st.Expected == desc.Digest {
				// The blob arrived while we waited for the lock, so
				// this ingest of it is of no more use.
				s.discard(dir)
			}
			return nil, err
		}
	}
	if desc.Size != 0 && st.Total != 0 && desc.Size != st.Total {
		return nil, fmt.Errorf("content: ingest %q: started for %d bytes, not %d: %w", ref, st.Total, desc.Size, errdefs.ErrConflict)
	}
	if desc.Digest != "" && st.Expected != "" && desc.Digest != st.Expected {
		return nil, fmt.Errorf("content: ingest %q: started for %s, not %s: %w", ref, st.Expected, desc.Digest, errdefs.ErrConflict)
	}

	w = &writer{s: s, ref: ref, dir: dir, total: st.Total, expected: st.Expected, startedAt: st.StartedAt, updatedAt: st.UpdatedAt}
	// What the caller knows now but the ingest was started without is
	// kept for this writer only: rewriting the metadata would need the
	// same care as setting it up, for no gain.
	if w.total == 0 {
		w.total = desc.Size
	}
	if w.expected == "" {
		w.expected = desc.Digest
	}
	w.alg = digest.Canonical
	if w.expected != "" {
		w.alg = w.expected.Algorithm()
	}
	data, err := os.OpenFile(filepath.Join(dir, ingestData), os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("content: ingest %q: %w", ref, err)
	}
	w.digester = w.alg.Digester()
	n, err := copyHash(ctx, w.digester.Hash(), data)
	if err == nil && n > w.limit() {
		// More data than the blob can have: useless, start over.
		n, w.digester = 0, w.alg.Digester()
		if err = data.Truncate(0); err == nil {
			_, err = data.Seek(0, io.SeekStart)
		}
	}
	if err != nil {
		data.Close()
		return nil, fmt.Errorf("content: ingest %q: %w", ref, err)
	}
	w.data, w.lock, w.offset = data, lk, n
	return w, nil
}

// discard removes an ingest directory whose lock the caller holds. The
// rename makes it vanish from its name at once, so a crash part-way
// through the removal leaves only trash, never a damaged ingest.
func (s *LocalStore) discard(dir string) error {
	trash := filepath.Join(s.root, ingestDir, tempName(trashPrefix))
	if err := os.Rename(dir, trash); err != nil {
		return fmt.Errorf("content: %w", err)
	}
	crashPoint("discard-renamed")
	return os.RemoveAll(trash)
}

// readIngest reads the status of the ingest in dir, without its lock. It
// answers an error wrapping fs.ErrNotExist when dir is gone and one
// wrapping errBadIngest when dir cannot be resumed. Other errors (out of
// file descriptors, I/O errors) say nothing about the ingest, which must
// not be thrown away for them.
func readIngest(dir string) (Status, error) {
	st, err := readIngestFiles(dir)
	if err == nil {
		return st, nil
	}
	if _, serr := os.Lstat(dir); errors.Is(serr, fs.ErrNotExist) {
		return Status{}, serr
	}
	switch {
	case errors.Is(err, errBadIngest):
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, errdefs.ErrInvalidParameter), errors.Is(err, syscall.ENOTDIR):
		// A file missing, a value that does not parse, or dir that is
		// not a directory: not an ingest we can use.
		err = fmt.Errorf("%w: %w", errBadIngest, err)
	}
	return Status{}, err
}

func readIngestFiles(dir string) (Status, error) {
	var st Status
	ref, err := readSmall(filepath.Join(dir, ingestRef), maxRefLen)
	if err != nil {
		return st, err
	}
	if err := validateRef(ref); err != nil {
		return st, err
	}
	if refHash(ref) != filepath.Base(dir) {
		return st, fmt.Errorf("ref %q does not hash to %s: %w", ref, filepath.Base(dir), errBadIngest)
	}
	st.Ref = ref
	total, err := readSmall(filepath.Join(dir, ingestTotal), 20)
	if err != nil {
		return st, err
	}
	if st.Total, err = strconv.ParseInt(total, 10, 64); err != nil || st.Total < 0 {
		return st, fmt.Errorf("total %q: %w", total, errBadIngest)
	}
	expected, err := readSmall(filepath.Join(dir, ingestExpected), maxDigestLen)
	if err != nil {
		return st, err
	}
	if expected != "" {
		if err := validateDigest(digest.Digest(expected)); err != nil {
			return st, err
		}
		st.Expected = digest.Digest(expected)
	}
	started, err := readSmall(filepath.Join(dir, ingestStartedAt), 64)
	if err != nil {
		return st, err
	}
	if st.StartedAt, err = time.Parse(time.RFC3339Nano, started); err != nil {
		return st, fmt.Errorf("%w: %w", errBadIngest, err)
	}
	st.UpdatedAt = st.StartedAt
	if updated, err := readSmall(filepath.Join(dir, ingestUpdatedAt), 64); err == nil {
		if t, err := time.Parse(time.RFC3339Nano, updated); err == nil {
			st.UpdatedAt = t
		}
	}
	fi, err := os.Stat(filepath.Join(dir, ingestData))
	if err != nil {
		return st, err
	}
	st.Offset = fi.Size()
	if fi.ModTime().After(st.UpdatedAt) {
		st.UpdatedAt = fi.ModTime()
	}
	return st, nil
}

// readSmall reads a metadata file that should hold at most limit bytes;
// a bigger one is not ours and is not read into memory.
func readSmall(path string, limit int64) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return "", err
	}
	if int64(len(b)) > limit {
		return "", fmt.Errorf("%s: longer than %d bytes: %w", path, limit, errBadIngest)
	}
	return string(b), nil
}

// Status reads the state of an ingest, held by a writer or not.
func (s *LocalStore) Status(ctx context.Context, ref string) (Status, error) {
	if err := validateRef(ref); err != nil {
		return Status{}, err
	}
	st, err := readIngest(s.ingestPath(ref))
	if err == nil && st.Ref != ref {
		err = errBadIngest
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errBadIngest) {
		return Status{}, fmt.Errorf("content: ingest %q: %w", ref, errdefs.ErrNotFound)
	}
	if err != nil {
		return Status{}, fmt.Errorf("content: ingest %q: %w", ref, err)
	}
	return st, nil
}

// ListStatuses lists the ingests that can be resumed, held by a writer or
// not; unusable ones are left to Check.
func (s *LocalStore) ListStatuses(ctx context.Context) ([]Status, error) {
	entries, err := os.ReadDir(filepath.Join(s.root, ingestDir))
	if err != nil {
		return nil, fmt.Errorf("content: %w", err)
	}
	var out []Status
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !isIngestName(e.Name()) {
			continue
		}
		st, err := readIngest(filepath.Join(s.root, ingestDir, e.Name()))
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errBadIngest) {
			continue // committed or aborted as we looked, or unusable
		}
		if err != nil {
			return nil, fmt.Errorf("content: %w", err)
		}
		out = append(out, st)
	}
	return out, nil
}

// Abort throws an ingest away: see IngestManager.
func (s *LocalStore) Abort(ctx context.Context, ref string) error {
	if err := validateRef(ref); err != nil {
		return err
	}
	dir := s.ingestPath(ref)
	lk, err := lockDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, errMoved):
		return fmt.Errorf("content: ingest %q: %w", ref, errdefs.ErrNotFound)
	case err != nil:
		return fmt.Errorf("content: ingest %q: %w", ref, err)
	case lk == nil:
		return fmt.Errorf("content: ingest %q: a writer holds it: %w", ref, errdefs.ErrUnavailable)
	}
	defer unlockClose(lk)
	return s.discard(dir)
}

// recoverIngests removes what a crash leaves in ingest/: trash, setups
// cut short, and ingests that cannot be resumed. Anything locked belongs
// to a live writer, perhaps in another process, and is left alone.
func (s *LocalStore) recoverIngests() {
	root := filepath.Join(s.root, ingestDir)
	entries, err := os.ReadDir(root)
	if err != nil {
		return // Check reports what is wrong
	}
	for _, e := range entries {
		name := e.Name()
		p := filepath.Join(root, name)
		switch {
		case strings.HasPrefix(name, trashPrefix):
			os.RemoveAll(p)
		case strings.HasPrefix(name, tmpPrefix):
			// Holding the lock while removing makes a writer still
			// setting this up (it locks right after Mkdir) notice and
			// start again.
			if lk, _ := lockDir(p); lk != nil {
				os.RemoveAll(p)
				unlockClose(lk)
			}
		case isIngestName(name):
			if lk, _ := lockDir(p); lk != nil {
				if _, err := readIngest(p); errors.Is(err, errBadIngest) {
					s.discard(p)
				}
				unlockClose(lk)
			}
		}
	}
}

// writer is a LocalStore ingest in progress.
type writer struct {
	s    *LocalStore
	ref  string
	dir  string
	lock *os.File // the ingest directory, flocked; closing it unlocks
	data *os.File // nil once closed or committed

	alg      digest.Algorithm
	digester digest.Digester
	offset   int64
	// writeback is the offset up to which startWriteback has asked for
	// the data to be written out.
	writeback   int64
	noWriteback bool
	total       int64
	expected    digest.Digest
	startedAt   time.Time
	updatedAt   time.Time
}

func (w *writer) closedErr() error {
	return fmt.Errorf("content: writer of %q is closed: %w", w.ref, errdefs.ErrConflict)
}

// limit is how big the blob may grow.
func (w *writer) limit() int64 {
	if w.total > 0 {
		return w.total
	}
	return w.s.maxBlobSize
}

// Write appends p. Data goes to the file unbuffered; callers copy in big
// chunks (WriteBlob uses 1 MiB).
func (w *writer) Write(p []byte) (int, error) {
	if w.data == nil {
		return 0, w.closedErr()
	}
	var over error
	if room := w.limit() - w.offset; int64(len(p)) > room {
		p = p[:max(room, 0)]
		if w.total > 0 {
			over = fmt.Errorf("content: ingest %q: more than the declared %d bytes: %w", w.ref, w.total, ErrSizeMismatch)
		} else {
			over = fmt.Errorf("content: ingest %q: more than the store's limit of %d bytes: %w", w.ref, w.s.maxBlobSize, errdefs.ErrInvalidParameter)
		}
	}
	var n int
	var err error
	if len(p) >= parallelHashMin {
		// Hashing runs about as fast as writing to the page cache, so
		// doing both at once nearly doubles ingest throughput on two
		// cores.
		done := make(chan struct{})
		go func() {
			w.digester.Hash().Write(p)
			close(done)
		}()
		n, err = w.data.Write(p)
		<-done
		if n < len(p) {
			// The hash has bytes the file lacks; a short write is an
			// error anyway, so the slow path is fine.
			err = errors.Join(err, w.rehash(w.offset+int64(n)))
		}
	} else {
		n, err = w.data.Write(p)
		w.digester.Hash().Write(p[:n])
	}
	crashPoint("write")
	w.offset += int64(n)
	w.updatedAt = time.Now()
	w.startWriteback()
	if err != nil {
		return n, fmt.Errorf("content: ingest %q: %w", w.ref, err)
	}
	return n, over
}

// writebackChunk is how much data a writer lets pile up in the page
// cache before it asks the kernel to start writing it out.
const writebackChunk = 8 << 20

// startWriteback starts, without waiting, the writeback of what was
// written since the last call, once there is a chunk of it. Otherwise
// all of a blob is still dirty at Commit, and its one fsync waits for
// the whole of it; this way the disk works while we hash, and the fsync
// only waits for the tail. It is only a hint: where sync_file_range is
// not supported, Commit's fsync does all the work, as it would anyway.
func (w *writer) startWriteback() {
	if w.noWriteback || w.offset-w.writeback < writebackChunk {
		return
	}
	err := unix.SyncFileRange(int(w.data.Fd()), w.writeback, w.offset-w.writeback, unix.SYNC_FILE_RANGE_WRITE)
	if err != nil {
		w.noWriteback = true
	}
	w.writeback = w.offset
}

// parallelHashMin is the smallest Write whose hashing is worth a
// goroutine: below it, starting one costs more than it saves.
const parallelHashMin = 128 << 10

// rehash hashes the first size bytes of the data again.
func (w *writer) rehash(size int64) error {
	d := w.alg.Digester()
	// No ctx here: the hashing is bounded by what was written.
	if _, err := copyHash(context.Background(), d.Hash(), io.NewSectionReader(w.data, 0, size)); err != nil {
		return err
	}
	w.digester = d
	return nil
}

func (w *writer) Digest() digest.Digest { return w.digester.Digest() }

func (w *writer) Status() (Status, error) {
	return Status{
		Ref:       w.ref,
		Offset:    w.offset,
		Total:     w.total,
		Expected:  w.expected,
		StartedAt: w.startedAt,
		UpdatedAt: w.updatedAt,
	}, nil
}

// Truncate cuts the data to size and re-hashes what is left.
func (w *writer) Truncate(size int64) error {
	if w.data == nil {
		return w.closedErr()
	}
	if size < 0 || size > w.offset {
		return fmt.Errorf("content: ingest %q: truncate to %d: outside 0..%d: %w", w.ref, size, w.offset, errdefs.ErrInvalidParameter)
	}
	if err := w.data.Truncate(size); err != nil {
		return fmt.Errorf("content: ingest %q: %w", w.ref, err)
	}
	if _, err := w.data.Seek(size, io.SeekStart); err != nil {
		return fmt.Errorf("content: ingest %q: %w", w.ref, err)
	}
	if err := w.rehash(size); err != nil {
		return fmt.Errorf("content: ingest %q: %w", w.ref, err)
	}
	w.offset, w.updatedAt = size, time.Now()
	return nil
}

// Close keeps the data for a later Writer and lets go of the ref. The
// data is not synced: Commit checks it, so whatever a power cut does to
// it costs a download, not a wrong blob.
func (w *writer) Close() error {
	if w.data == nil {
		return nil
	}
	err := w.data.Close()
	w.data = nil
	crashPoint("close")
	// Best effort: Status also goes by the data's mtime.
	os.WriteFile(filepath.Join(w.dir, ingestUpdatedAt), []byte(w.updatedAt.UTC().Format(time.RFC3339Nano)), 0o644)
	unlockClose(w.lock)
	if err != nil {
		return fmt.Errorf("content: ingest %q: %w", w.ref, err)
	}
	return nil
}

// release ends the writer after Commit, whatever happened.
func (w *writer) release() {
	if w.data != nil {
		w.data.Close()
		w.data = nil
	}
	unlockClose(w.lock)
}

// Commit verifies the data and moves it under its digest: see Writer.
func (w *writer) Commit(ctx context.Context, size int64, expected digest.Digest, labels map[string]string) error {
	if w.data == nil {
		return w.closedErr()
	}
	defer w.release()
	if err := ctx.Err(); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("content: commit %q: size %d: negative: %w", w.ref, size, errdefs.ErrInvalidParameter)
	}
	if expected != "" {
		if err := validateDigest(expected); err != nil {
			return err
		}
	}
	if err := validateLabels(labels); err != nil {
		return err
	}

	fi, err := w.data.Stat()
	if err != nil {
		return fmt.Errorf("content: commit %q: %w", w.ref, err)
	}
	if fi.Size() != w.offset {
		return w.mismatch(fmt.Errorf("content: commit %q: data is %d bytes, %d were written: %w", w.ref, fi.Size(), w.offset, ErrSizeMismatch))
	}
	for _, want := range []int64{w.total, size} {
		if want != 0 && want != w.offset {
			return w.mismatch(fmt.Errorf("content: commit %q: %d bytes, expected %d: %w", w.ref, w.offset, want, ErrSizeMismatch))
		}
	}
	name := w.digester.Digest()
	for _, want := range []digest.Digest{w.expected, expected} {
		if want == "" {
			continue
		}
		got := w.digester.Digest()
		if want.Algorithm() != w.alg {
			d := want.Algorithm().Digester()
			if _, err := copyHash(ctx, d.Hash(), io.NewSectionReader(w.data, 0, w.offset)); err != nil {
				return fmt.Errorf("content: commit %q: %w", w.ref, err)
			}
			got = d.Digest()
		}
		if got != want {
			return w.mismatch(fmt.Errorf("content: commit %q: got %s, expected %s: %w", w.ref, got, want, ErrDigestMismatch))
		}
		// The caller's expected digest names the blob, even in another
		// algorithm than the one hashed while writing.
		name = want
	}

	// Verified before synced, so that a peer sending the wrong data costs
	// no disk flush. The one fsync of the blob's data is here.
	if err := w.data.Sync(); err != nil {
		return fmt.Errorf("content: commit %q: %w", w.ref, err)
	}
	crashPoint("commit-verified")
	// Read-only, so that nothing in this process writes a blob by mistake.
	if err := w.data.Chmod(0o444); err != nil {
		return fmt.Errorf("content: commit %q: %w", w.ref, err)
	}
	if err := w.data.Close(); err != nil {
		w.data = nil
		return fmt.Errorf("content: commit %q: %w", w.ref, err)
	}
	w.data = nil
	if err := w.s.publish(filepath.Join(w.dir, ingestData), name, labels); err != nil {
		if errdefs.IsAlreadyExists(err) {
			w.s.discard(w.dir)
		}
		return err
	}
	// Only clutter is left; if removing it fails, NewStore does it later.
	w.s.discard(w.dir)
	return nil
}

// mismatch throws away an ingest whose data failed verification: resuming
// it could only fail again.
func (w *writer) mismatch(err error) error {
	w.data.Close()
	w.data = nil
	w.s.discard(w.dir)
	return err
}

// publish moves verified, synced data under its digest, with its labels.
// The meta lock makes the existence check and the rename one step against
// other committers and against Delete.
func (s *LocalStore) publish(src string, dgst digest.Digest, labels map[string]string) error {
	target, err := s.blobPath(dgst)
	if err != nil {
		return err
	}
	unlock, err := s.lockMeta()
	if err != nil {
		return err
	}
	if err := s.checkNotCommitted(dgst); err != nil {
		unlock()
		return err
	}
	// Labels go first, synced, so the blob never appears without them; a
	// crash in between leaves labels without a blob, which recovery
	// removes. With no labels this also clears any such leftover, which
	// would otherwise be taken for the new blob's.
	if err := s.writeLabels(dgst, labels); err != nil {
		unlock()
		return err
	}
	crashPoint("commit-labels-written")
	if err := renameNoReplace(src, target); err != nil {
		s.writeLabels(dgst, nil)
		unlock()
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("content: blob %s: %w", dgst, errdefs.ErrAlreadyExists)
		}
		return fmt.Errorf("content: commit %s: %w", dgst, err)
	}
	crashPoint("commit-renamed")
	unlock()
	if err := syncDir(filepath.Dir(target)); err != nil {
		return fmt.Errorf("content: blob %s is in place but may not survive a power cut: %w", dgst, err)
	}
	crashPoint("commit-synced")
	return nil
}
