package content

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// DefaultMaxBlobSize is the largest blob a LocalStore accepts unless
// WithMaxBlobSize says otherwise: 64 GiB is above any layer seen in
// practice (machine-learning images carry layers of tens of GiB), yet a
// hostile descriptor that declares an exabyte is refused before a byte is
// written.
const DefaultMaxBlobSize int64 = 64 << 30

// The names under a LocalStore's root. See LocalStore for the layout.
const (
	blobsDir      = "blobs"
	labelsDir     = "labels"
	ingestDir     = "ingest"
	quarantineDir = "quarantine"
	lockFile      = "lock"

	// Temporary names start with a dot, so they can never be mistaken for
	// a digest's hex or a ref's hash.
	tmpPrefix   = ".tmp-"
	trashPrefix = ".trash-"
)

// LocalStore is a Store in a directory of the local filesystem. Several
// processes may open one root at once; they coordinate through flock.
//
// The layout under the root:
//
//	blobs/<alg>/<hex>         committed blobs, read-only (alg is sha256 or sha512)
//	labels/<alg>/<hex>        a blob's labels as a JSON object; absent when it has none
//	ingest/<sha256 of ref>/   one ingest: data, ref, total, expected, startedat, updatedat;
//	                          the directory itself is the writer's flock
//	ingest/.tmp-*/            an ingest being set up, not yet visible under its name
//	ingest/.trash-*/          an ingest being removed
//	labels/<alg>/.tmp-*       a labels file being replaced
//	quarantine/<alg>/         corrupt blobs that Check set aside (safe to empty)
//	lock                      flock that orders commits, deletes and label updates
//
// Crash safety rests on three rules. A blob appears under blobs/ only by
// an atomic no-replace rename of a fully written, verified and fsynced
// file, and the directory is fsynced before Commit returns, so a blob
// that is there is whole. An ingest appears under its name only complete
// (set up in a .tmp- directory, then renamed), and goes away only by a
// rename to .trash- by the holder of its lock, so what sits under a ref's
// name is always a whole ingest whose data is resumable: Commit checks the
// digest, so data torn by a power cut costs a download, never a wrong
// blob. And every other write is a temporary file renamed into place.
// NewStore removes what a crash can leave behind (temporaries, trash,
// labels of a blob that never arrived), without touching a blob, an ingest
// someone holds, or an ingest that can be resumed.
type LocalStore struct {
	root        string
	maxBlobSize int64
}

var _ Store = (*LocalStore)(nil)

// Opt is an option of NewStore.
type Opt func(*storeOptions)

type storeOptions struct {
	maxBlobSize int64
}

// WithMaxBlobSize sets the largest blob the store accepts, in bytes: a
// Writer refuses a larger declared size, and Write refuses bytes past it.
func WithMaxBlobSize(n int64) Opt {
	return func(o *storeOptions) { o.maxBlobSize = n }
}

// makeStoreOptions holds every default of NewStore, and refuses options
// that make no sense.
func makeStoreOptions(opts []Opt) (storeOptions, error) {
	o := storeOptions{maxBlobSize: DefaultMaxBlobSize}
	for _, opt := range opts {
		opt(&o)
	}
	if o.maxBlobSize <= 0 {
		return o, fmt.Errorf("content: max blob size %d: not positive: %w", o.maxBlobSize, errdefs.ErrInvalidParameter)
	}
	return o, nil
}

// NewStore opens the store at root, creating it if needed, and clears
// what a crash of an earlier user may have left (see LocalStore).
func NewStore(root string, opts ...Opt) (*LocalStore, error) {
	o, err := makeStoreOptions(opts)
	if err != nil {
		return nil, err
	}
	if root == "" {
		return nil, fmt.Errorf("content: empty store root: %w", errdefs.ErrInvalidParameter)
	}
	// An absolute root keeps every path right if the process changes
	// directory later.
	root, err = filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("content: store root: %w", err)
	}
	s := &LocalStore{root: root, maxBlobSize: o.maxBlobSize}
	if err := s.makeDirs(); err != nil {
		return nil, err
	}
	s.recoverIngests()
	crashPoint("recovered-ingests")
	if err := s.recoverLabels(); err != nil {
		return nil, err
	}
	return s, nil
}

// Root is the directory the store lives in.
func (s *LocalStore) Root() string { return s.root }

// makeDirs creates the fixed directories once, so commits never need to,
// and makes them durable: a blob renamed into a directory whose own entry
// was lost in a power cut would be lost with it.
func (s *LocalStore) makeDirs() error {
	if err := os.MkdirAll(s.root, 0o755); err != nil {
		return fmt.Errorf("content: %w", err)
	}
	dirs := []string{blobsDir, labelsDir, ingestDir}
	for _, alg := range algorithms {
		dirs = append(dirs, filepath.Join(blobsDir, alg.String()), filepath.Join(labelsDir, alg.String()))
	}
	synced := map[string]bool{}
	for _, d := range dirs {
		p := filepath.Join(s.root, d)
		err := os.Mkdir(p, 0o755)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("content: %w", err)
		}
		synced[filepath.Dir(p)] = false
	}
	for d := range synced {
		if err := syncDir(d); err != nil {
			return fmt.Errorf("content: %w", err)
		}
	}
	return nil
}

func (s *LocalStore) blobPath(dgst digest.Digest) (string, error) {
	if err := validateDigest(dgst); err != nil {
		return "", err
	}
	return filepath.Join(s.root, blobsDir, dgst.Algorithm().String(), dgst.Encoded()), nil
}

// labelsPath assumes dgst is valid.
func (s *LocalStore) labelsPath(dgst digest.Digest) string {
	return filepath.Join(s.root, labelsDir, dgst.Algorithm().String(), dgst.Encoded())
}

// lockMeta takes the store-wide lock that orders the publishing of blobs
// and their labels against deletes and label updates, in this process and
// others. It is held only for a few metadata operations, never for I/O
// on blob data, so waiting for it without a ctx is fine.
func (s *LocalStore) lockMeta() (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(s.root, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("content: %w", err)
	}
	if err := lock(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("content: %w", err)
	}
	return func() { f.Close() }, nil
}

// crashHook, set only by tests, is called at each point where a crash
// leaves a distinct state on disk; the crash tests kill the process
// there, to reach every such state on every run rather than by luck.
var crashHook func(point string)

func crashPoint(point string) {
	if crashHook != nil {
		crashHook(point)
	}
}

func notFound(what string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("content: %s: %w", what, errdefs.ErrNotFound)
	}
	return fmt.Errorf("content: %s: %w", what, err)
}

// ReaderAt opens a committed blob.
func (s *LocalStore) ReaderAt(ctx context.Context, desc ocispec.Descriptor) (ReaderAt, error) {
	p, err := s.blobPath(desc.Digest)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, notFound("blob "+desc.Digest.String(), err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("content: blob %s: %w", desc.Digest, err)
	}
	return &fileReaderAt{File: f, size: fi.Size()}, nil
}

type fileReaderAt struct {
	*os.File
	size int64
}

func (r *fileReaderAt) Size() int64 { return r.size }

// Info describes a committed blob. CreatedAt is when its data was last
// written (its commit), UpdatedAt when its labels last changed.
func (s *LocalStore) Info(ctx context.Context, dgst digest.Digest) (Info, error) {
	p, err := s.blobPath(dgst)
	if err != nil {
		return Info{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return Info{}, notFound("blob "+dgst.String(), err)
	}
	return s.info(dgst, fi)
}

func (s *LocalStore) info(dgst digest.Digest, fi fs.FileInfo) (Info, error) {
	info := Info{Digest: dgst, Size: fi.Size(), CreatedAt: fi.ModTime(), UpdatedAt: fi.ModTime()}
	labels, mod, err := s.readLabels(dgst)
	if err != nil {
		return Info{}, err
	}
	if labels != nil {
		info.Labels = labels
		info.UpdatedAt = mod
	}
	return info, nil
}

// readLabels returns nil labels for a blob that has none. A labels file
// that does not parse is an error, not "no labels": the image store keeps
// garbage-collection references there, and reading them as empty would
// let a collector delete what the blob still refers to.
func (s *LocalStore) readLabels(dgst digest.Digest) (map[string]string, time.Time, error) {
	p := s.labelsPath(dgst)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, time.Time{}, nil
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("content: labels of %s: %w", dgst, err)
	}
	var labels map[string]string
	if err := json.Unmarshal(b, &labels); err != nil {
		return nil, time.Time{}, fmt.Errorf("content: labels of %s: %s is corrupt: %w", dgst, p, err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("content: labels of %s: %w", dgst, err)
	}
	if len(labels) == 0 {
		labels = nil
	}
	return labels, fi.ModTime(), nil
}

// writeLabels replaces a blob's labels durably, or removes the file when
// there are none. The caller holds the meta lock.
func (s *LocalStore) writeLabels(dgst digest.Digest, labels map[string]string) error {
	p := s.labelsPath(dgst)
	if len(labels) == 0 {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("content: labels of %s: %w", dgst, err)
		}
		return nil
	}
	b, err := json.Marshal(labels)
	if err != nil {
		return fmt.Errorf("content: labels of %s: %w", dgst, err)
	}
	if err := writeFileAtomic(filepath.Dir(p), filepath.Base(p), b, 0o644); err != nil {
		return fmt.Errorf("content: labels of %s: %w", dgst, err)
	}
	return nil
}

// Update changes a blob's labels: see Manager.
func (s *LocalStore) Update(ctx context.Context, info Info, fieldpaths ...string) (Info, error) {
	p, err := s.blobPath(info.Digest)
	if err != nil {
		return Info{}, err
	}
	replaceAll, keys, err := parseFieldpaths(fieldpaths)
	if err != nil {
		return Info{}, err
	}
	if replaceAll {
		err = validateLabels(info.Labels)
	} else {
		sub := map[string]string{}
		for _, k := range keys {
			sub[k] = info.Labels[k]
		}
		err = validateLabels(sub)
	}
	if err != nil {
		return Info{}, err
	}

	unlock, err := s.lockMeta()
	if err != nil {
		return Info{}, err
	}
	defer unlock()
	if _, err := os.Stat(p); err != nil {
		return Info{}, notFound("blob "+info.Digest.String(), err)
	}
	labels := map[string]string{}
	if !replaceAll {
		old, _, err := s.readLabels(info.Digest)
		if err != nil {
			return Info{}, err
		}
		for k, v := range old {
			labels[k] = v
		}
		for _, k := range keys {
			labels[k] = info.Labels[k]
		}
	} else {
		for k, v := range info.Labels {
			labels[k] = v
		}
	}
	for k, v := range labels {
		if v == "" {
			delete(labels, k)
		}
	}
	if err := s.writeLabels(info.Digest, labels); err != nil {
		return Info{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return Info{}, notFound("blob "+info.Digest.String(), err)
	}
	return s.info(info.Digest, fi)
}

// parseFieldpaths reads Update's fieldpaths: all labels, or the listed
// keys.
func parseFieldpaths(fieldpaths []string) (all bool, keys []string, err error) {
	if len(fieldpaths) == 0 {
		return true, nil, nil
	}
	for _, fp := range fieldpaths {
		switch {
		case fp == "labels":
			all = true
		case strings.HasPrefix(fp, "labels.") && fp != "labels.":
			keys = append(keys, strings.TrimPrefix(fp, "labels."))
		default:
			return false, nil, fmt.Errorf("content: cannot update field %q: only labels and labels.<key>: %w", fp, errdefs.ErrInvalidParameter)
		}
	}
	return all, keys, nil
}

// Walk calls fn for every committed blob, sha256 ones first, each
// algorithm in the order of its hex.
func (s *LocalStore) Walk(ctx context.Context, fn WalkFunc) error {
	return s.walkBlobs(ctx, func(dgst digest.Digest, fi fs.FileInfo) error {
		info, err := s.info(dgst, fi)
		if err != nil {
			return err
		}
		return fn(info)
	})
}

// walkBlobs visits every file in blobs/ whose name is a digest; Check
// reports anything else there.
func (s *LocalStore) walkBlobs(ctx context.Context, fn func(digest.Digest, fs.FileInfo) error) error {
	for _, alg := range algorithms {
		dir := filepath.Join(s.root, blobsDir, alg.String())
		entries, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("content: walk: %w", err)
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			if alg.Validate(e.Name()) != nil {
				continue
			}
			fi, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted while we walked
			}
			if err != nil {
				return fmt.Errorf("content: walk: %w", err)
			}
			if !fi.Mode().IsRegular() {
				continue
			}
			if err := fn(digest.NewDigestFromEncoded(alg, e.Name()), fi); err != nil {
				return err
			}
		}
	}
	return nil
}

// Usage is the total size of the committed blobs, in bytes. Ingests in
// progress do not count.
func (s *LocalStore) Usage(ctx context.Context) (int64, error) {
	var n int64
	err := s.walkBlobs(ctx, func(_ digest.Digest, fi fs.FileInfo) error {
		n += fi.Size()
		return nil
	})
	return n, err
}

// Delete removes a committed blob and its labels. Readers that have the
// blob open keep reading it. Delete is not synced to disk: after a power
// cut a deleted blob may come back, whole and verified, and the next
// garbage collection removes it again; labels left without their blob are
// removed by the next NewStore.
func (s *LocalStore) Delete(ctx context.Context, dgst digest.Digest) error {
	p, err := s.blobPath(dgst)
	if err != nil {
		return err
	}
	unlock, err := s.lockMeta()
	if err != nil {
		return err
	}
	defer unlock()
	if err := os.Remove(p); err != nil {
		return notFound("blob "+dgst.String(), err)
	}
	crashPoint("delete-blob-removed")
	// The blob goes first: a crash between the two leaves labels without a
	// blob, which recovery removes, never a blob that lost its references.
	if err := os.Remove(s.labelsPath(dgst)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("content: labels of %s: %w", dgst, err)
	}
	return nil
}

// recoverLabels removes labels temporaries and labels whose blob is not
// there (a commit or delete cut short). It holds the meta lock, so a
// commit in another process, which writes labels just before its blob,
// is never caught half-way.
func (s *LocalStore) recoverLabels() error {
	unlock, err := s.lockMeta()
	if err != nil {
		return err
	}
	defer unlock()
	for _, alg := range algorithms {
		dir := filepath.Join(s.root, labelsDir, alg.String())
		entries, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("content: %w", err)
		}
		for _, e := range entries {
			name := e.Name()
			p := filepath.Join(dir, name)
			if strings.HasPrefix(name, tmpPrefix) {
				os.Remove(p)
				continue
			}
			if alg.Validate(name) != nil {
				continue // not ours; Check reports it
			}
			_, err := os.Lstat(filepath.Join(s.root, blobsDir, alg.String(), name))
			if errors.Is(err, fs.ErrNotExist) {
				os.Remove(p)
			}
		}
	}
	return nil
}
