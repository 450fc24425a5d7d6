package content

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	digest "github.com/opencontainers/go-digest"
)

// ProblemKind names a kind of inconsistency. The content store's kinds
// start with "content."; other stores that check themselves (the image
// store checks its references) add kinds of their own with their own
// prefix, so their problems and ours fit in one Report.
type ProblemKind string

// What LocalStore.Check finds.
const (
	// ProblemCorruptBlob is a blob whose data does not hash to its name.
	ProblemCorruptBlob ProblemKind = "content.corrupt-blob"
	// ProblemTruncatedBlob is a blob that is empty where its digest says
	// it is not: what a file looks like when its data was lost in a power
	// cut. A blob cut short elsewhere shows as ProblemCorruptBlob; the
	// image store, which knows the sizes from descriptors, can tell more.
	ProblemTruncatedBlob ProblemKind = "content.truncated-blob"
	// ProblemStray is a file or directory that has no place in the
	// layout: a temporary left behind, or something put there by hand.
	ProblemStray ProblemKind = "content.stray"
	// ProblemOrphanLabels is a labels file whose blob is not there.
	ProblemOrphanLabels ProblemKind = "content.orphan-labels"
	// ProblemBadLabels is a labels file that does not parse.
	ProblemBadLabels ProblemKind = "content.bad-labels"
	// ProblemBadIngest is an ingest that cannot be resumed.
	ProblemBadIngest ProblemKind = "content.bad-ingest"
	// ProblemStaleIngest is an ingest nobody has written to for longer
	// than the expiry (WithIngestExpiry).
	ProblemStaleIngest ProblemKind = "content.stale-ingest"
)

// Problem is one inconsistency found by a check.
type Problem struct {
	Kind ProblemKind
	// Subject is what the problem is about: a digest, an ingest ref, or a
	// path relative to the store's root.
	Subject string
	// Path is the file or directory concerned, when there is one.
	Path string
	// Detail says what is wrong, for people.
	Detail string
	// Repair says what the check did about it ("removed", "quarantined
	// as <path>"); empty when nothing was done.
	Repair string
}

func (p Problem) String() string {
	s := fmt.Sprintf("%s %s: %s", p.Kind, p.Subject, p.Detail)
	if p.Repair != "" {
		s += " (" + p.Repair + ")"
	}
	return s
}

// Report is the result of a consistency check. Checks of several stores
// merge their reports into one (Merge). A Report is not safe for
// concurrent use.
type Report struct {
	// Checked counts what was examined, by name. The content store counts
	// "content.blobs", "content.bytes" (of blobs), "content.labels",
	// "content.ingests" and "content.quarantined" (blobs set aside by
	// earlier repairs).
	Checked  map[string]int64
	Problems []Problem
}

// Add records a problem.
func (r *Report) Add(p Problem) { r.Problems = append(r.Problems, p) }

// Count adds n to the count of what.
func (r *Report) Count(what string, n int64) {
	if r.Checked == nil {
		r.Checked = map[string]int64{}
	}
	r.Checked[what] += n
}

// Merge adds o's counts and problems to r.
func (r *Report) Merge(o *Report) {
	for k, n := range o.Checked {
		r.Count(k, n)
	}
	r.Problems = append(r.Problems, o.Problems...)
}

// Unrepaired lists the problems that were found and not repaired.
func (r *Report) Unrepaired() []Problem {
	var out []Problem
	for _, p := range r.Problems {
		if p.Repair == "" {
			out = append(out, p)
		}
	}
	return out
}

// OK reports whether every problem found (if any) was repaired.
func (r *Report) OK() bool { return len(r.Unrepaired()) == 0 }

// DefaultIngestExpiry is how long an ingest may go unwritten before
// Check calls it stale: a day leaves a pull interrupted in the evening
// resumable the next morning.
const DefaultIngestExpiry = 24 * time.Hour

// CheckOpt is an option of Check.
type CheckOpt func(*checkOptions)

type checkOptions struct {
	repair  bool
	expiry  time.Duration
	rehash  bool
	workers int
}

// WithRepair makes Check repair what it finds, as far as it safely can:
//
//   - corrupt and truncated blobs go to quarantine/<alg>/<hex>.<time>,
//     their labels beside them, rather than being deleted: what they hold
//     is evidence (rot on disk or a bug of ours?), and out of blobs/ they
//     no longer stop a good copy from being pulled again;
//   - temporaries, trash, orphaned or unparsable labels, unusable ingests
//     and stale ones are removed, unless a live writer holds them;
//   - anything else that has no place in the layout is only reported: we
//     do not know what it is.
func WithRepair() CheckOpt { return func(o *checkOptions) { o.repair = true } }

// WithIngestExpiry sets how long an ingest may go unwritten before it is
// stale; 0 never calls one stale.
func WithIngestExpiry(d time.Duration) CheckOpt { return func(o *checkOptions) { o.expiry = d } }

// WithoutRehash skips reading every blob back: a quick check of the
// layout, labels and ingests that still finds empty (truncated) blobs.
func WithoutRehash() CheckOpt { return func(o *checkOptions) { o.rehash = false } }

func makeCheckOptions(opts []CheckOpt) (checkOptions, error) {
	o := checkOptions{expiry: DefaultIngestExpiry, rehash: true, workers: runtime.GOMAXPROCS(0)}
	for _, opt := range opts {
		opt(&o)
	}
	if o.expiry < 0 {
		return o, fmt.Errorf("content: ingest expiry %v: negative: %w", o.expiry, errdefs.ErrInvalidParameter)
	}
	return o, nil
}

// Check verifies the store: it re-hashes every blob, and looks for
// leftovers, labels without blobs, unusable and stale ingests. It is safe
// to run while the store is in use, here or in another process: whatever a
// live writer holds is neither reported nor touched. The error is for a
// check that could not run (an unreadable directory, a cancelled ctx);
// what it found is in the Report.
func (s *LocalStore) Check(ctx context.Context, opts ...CheckOpt) (*Report, error) {
	o, err := makeCheckOptions(opts)
	if err != nil {
		return nil, err
	}
	c := &checker{s: s, o: o, r: &Report{}}
	for _, step := range []func(context.Context) error{c.checkRoot, c.checkBlobs, c.checkLabels, c.checkIngests, c.countQuarantine} {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(c.r.Problems, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Subject, b.Subject))
	})
	return c.r, nil
}

type checker struct {
	s *LocalStore
	o checkOptions
	r *Report
}

func (c *checker) rel(p string) string {
	if r, err := filepath.Rel(c.s.root, p); err == nil {
		return r
	}
	return p
}

// stray reports a file with no place in the layout. Temporaries and trash
// are removed on repair, when remove says it is safe.
func (c *checker) stray(p, detail string, remove func() bool) {
	pr := Problem{Kind: ProblemStray, Subject: c.rel(p), Path: p, Detail: detail}
	if c.o.repair && remove != nil && remove() {
		pr.Repair = "removed"
	}
	c.r.Add(pr)
}

func isTemp(name string) bool {
	return strings.HasPrefix(name, tmpPrefix) || strings.HasPrefix(name, trashPrefix)
}

func (c *checker) checkRoot(ctx context.Context) error {
	known := map[string]bool{blobsDir: true, labelsDir: true, ingestDir: true, quarantineDir: true, lockFile: true}
	entries, err := os.ReadDir(c.s.root)
	if err != nil {
		return fmt.Errorf("content: check: %w", err)
	}
	for _, e := range entries {
		if !known[e.Name()] {
			c.stray(filepath.Join(c.s.root, e.Name()), "not part of the store's layout", nil)
		}
	}
	return nil
}

type blobFile struct {
	dgst digest.Digest
	path string
}

func (c *checker) checkBlobs(ctx context.Context) error {
	dir := filepath.Join(c.s.root, blobsDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("content: check: %w", err)
	}
	for _, e := range entries {
		if !supported(digest.Algorithm(e.Name())) || !e.IsDir() {
			c.stray(filepath.Join(dir, e.Name()), "not a directory of a supported digest algorithm", nil)
		}
	}
	var blobs []blobFile
	for _, alg := range algorithms {
		adir := filepath.Join(dir, alg.String())
		entries, err := os.ReadDir(adir)
		if err != nil {
			return fmt.Errorf("content: check: %w", err)
		}
		for _, e := range entries {
			p := filepath.Join(adir, e.Name())
			switch {
			case alg.Validate(e.Name()) == nil && e.Type().IsRegular():
				blobs = append(blobs, blobFile{digest.NewDigestFromEncoded(alg, e.Name()), p})
			case isTemp(e.Name()):
				c.stray(p, "temporary file", func() bool { return os.RemoveAll(p) == nil })
			default:
				c.stray(p, "not a blob: the name is not a "+alg.String()+" digest, or it is not a regular file", nil)
			}
		}
	}

	// Hashing is the slow part; spread it over the CPUs, since reading
	// back from the page cache or a fast disk outruns one hasher.
	var (
		mu   sync.Mutex
		jobs = make(chan blobFile)
		wg   sync.WaitGroup
	)
	for range max(c.o.workers, 1) {
		wg.Go(func() {
			for b := range jobs {
				pr, size, ok := c.checkBlob(ctx, b)
				mu.Lock()
				c.r.Count("content.blobs", 1)
				c.r.Count("content.bytes", size)
				if !ok {
					c.r.Add(pr)
				}
				mu.Unlock()
			}
		})
	}
	for _, b := range blobs {
		if ctx.Err() != nil {
			break
		}
		jobs <- b
	}
	close(jobs)
	wg.Wait()
	return ctx.Err()
}

// checkBlob verifies one blob, and quarantines it on repair.
func (c *checker) checkBlob(ctx context.Context, b blobFile) (Problem, int64, bool) {
	f, err := os.Open(b.path)
	if errors.Is(err, fs.ErrNotExist) {
		return Problem{}, 0, true // deleted while we looked
	}
	pr := Problem{Subject: b.dgst.String(), Path: b.path}
	if err != nil {
		pr.Kind, pr.Detail = ProblemCorruptBlob, "cannot open: "+err.Error()
		return pr, 0, false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		pr.Kind, pr.Detail = ProblemCorruptBlob, "cannot stat: "+err.Error()
		return pr, 0, false
	}
	alg := b.dgst.Algorithm()
	switch {
	case fi.Size() == 0 && b.dgst != alg.FromBytes(nil):
		pr.Kind, pr.Detail = ProblemTruncatedBlob, "empty"
	case c.o.rehash:
		d := alg.Digester()
		if _, err := copyHash(ctx, d.Hash(), f); err != nil {
			if ctx.Err() != nil {
				return Problem{}, fi.Size(), true // the caller returns ctx's error
			}
			pr.Kind, pr.Detail = ProblemCorruptBlob, "cannot read: "+err.Error()
		} else if got := d.Digest(); got != b.dgst {
			pr.Kind, pr.Detail = ProblemCorruptBlob, fmt.Sprintf("%d bytes that hash to %s", fi.Size(), got)
		}
	}
	if pr.Kind == "" {
		return Problem{}, fi.Size(), true
	}
	if c.o.repair {
		if dst, err := c.s.quarantine(b.dgst, fi); err == nil {
			pr.Repair = "quarantined as " + c.rel(dst)
		} else if errors.Is(err, errMoved) {
			return Problem{}, fi.Size(), true // replaced while we looked: not the file we judged
		} else {
			pr.Detail += "; quarantine failed: " + err.Error()
		}
	}
	return pr, fi.Size(), false
}

// quarantine moves a bad blob, and its labels, out of the store's sight,
// provided the blob is still the file fi describes.
func (s *LocalStore) quarantine(dgst digest.Digest, fi fs.FileInfo) (string, error) {
	p, err := s.blobPath(dgst)
	if err != nil {
		return "", err
	}
	unlock, err := s.lockMeta()
	if err != nil {
		return "", err
	}
	defer unlock()
	cur, err := os.Lstat(p)
	if err != nil || !os.SameFile(cur, fi) {
		return "", errMoved
	}
	dir := filepath.Join(s.root, quarantineDir, dgst.Algorithm().String())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	dst := filepath.Join(dir, dgst.Encoded()+"."+strconv.FormatInt(time.Now().UnixNano(), 10))
	if err := os.Rename(p, dst); err != nil {
		return "", err
	}
	if err := os.Rename(s.labelsPath(dgst), dst+".labels"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return dst, err
	}
	return dst, nil
}

// checkLabels holds the meta lock throughout: a commit writes labels just
// before its blob appears, and must not be taken for an orphan.
func (c *checker) checkLabels(ctx context.Context) error {
	dir := filepath.Join(c.s.root, labelsDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("content: check: %w", err)
	}
	for _, e := range entries {
		if !supported(digest.Algorithm(e.Name())) || !e.IsDir() {
			c.stray(filepath.Join(dir, e.Name()), "not a directory of a supported digest algorithm", nil)
		}
	}
	unlock, err := c.s.lockMeta()
	if err != nil {
		return err
	}
	defer unlock()
	for _, alg := range algorithms {
		adir := filepath.Join(dir, alg.String())
		entries, err := os.ReadDir(adir)
		if err != nil {
			return fmt.Errorf("content: check: %w", err)
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			p := filepath.Join(adir, e.Name())
			remove := func() bool { return os.Remove(p) == nil }
			if isTemp(e.Name()) {
				c.stray(p, "temporary file", remove)
				continue
			}
			if alg.Validate(e.Name()) != nil {
				c.stray(p, "not labels: the name is not a "+alg.String()+" digest", nil)
				continue
			}
			c.r.Count("content.labels", 1)
			dgst := digest.NewDigestFromEncoded(alg, e.Name())
			pr := Problem{Subject: dgst.String(), Path: p}
			if _, err := os.Lstat(filepath.Join(c.s.root, blobsDir, alg.String(), e.Name())); errors.Is(err, fs.ErrNotExist) {
				pr.Kind, pr.Detail = ProblemOrphanLabels, "labels of a blob that is not there"
			} else if _, _, err := c.s.readLabels(dgst); err != nil {
				pr.Kind, pr.Detail = ProblemBadLabels, err.Error()
			} else {
				continue
			}
			if c.o.repair && remove() {
				pr.Repair = "removed"
			}
			c.r.Add(pr)
		}
	}
	return nil
}

func (c *checker) checkIngests(ctx context.Context) error {
	dir := filepath.Join(c.s.root, ingestDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("content: check: %w", err)
	}
	now := time.Now()
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := e.Name()
		p := filepath.Join(dir, name)
		switch {
		case strings.HasPrefix(name, trashPrefix):
			c.stray(p, "an ingest being removed, or left half-removed by a crash", func() bool { return os.RemoveAll(p) == nil })
		case strings.HasPrefix(name, tmpPrefix):
			lk, _ := lockDir(p)
			if lk == nil {
				continue // a writer is setting it up right now
			}
			c.stray(p, "an ingest whose setup was cut short", func() bool { return os.RemoveAll(p) == nil })
			unlockClose(lk)
		case isIngestName(name):
			c.checkIngest(p, now)
		default:
			c.stray(p, "not an ingest", nil)
		}
	}
	return nil
}

func (c *checker) checkIngest(p string, now time.Time) {
	stale := func(st Status) bool { return c.o.expiry > 0 && now.Sub(st.UpdatedAt) > c.o.expiry }
	st, err := readIngest(p)
	if errors.Is(err, fs.ErrNotExist) {
		return // committed or aborted while we looked
	}
	c.r.Count("content.ingests", 1)
	if err == nil && !stale(st) {
		return
	}
	lk, _ := lockDir(p)
	if lk == nil {
		return // a live writer holds it (so it is neither bad nor stale), or it is gone
	}
	defer unlockClose(lk)
	// Judge again under the lock: a writer may have come and gone.
	st, err = readIngest(p)
	pr := Problem{Subject: c.rel(p), Path: p}
	repairable := true
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return
	case errors.Is(err, errBadIngest):
		pr.Kind, pr.Detail = ProblemBadIngest, err.Error()
	case err != nil:
		// An I/O error says nothing about the ingest itself.
		pr.Kind, pr.Detail, repairable = ProblemBadIngest, "cannot read: "+err.Error(), false
	case stale(st):
		pr.Kind, pr.Subject = ProblemStaleIngest, st.Ref
		pr.Detail = fmt.Sprintf("%d bytes, last written %s", st.Offset, st.UpdatedAt.Format(time.RFC3339))
	default:
		return
	}
	if c.o.repair && repairable && c.s.discard(p) == nil {
		pr.Repair = "removed"
	}
	c.r.Add(pr)
}

func (c *checker) countQuarantine(ctx context.Context) error {
	for _, alg := range algorithms {
		entries, err := os.ReadDir(filepath.Join(c.s.root, quarantineDir, alg.String()))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("content: check: %w", err)
		}
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".labels") {
				c.r.Count("content.quarantined", 1)
			}
		}
	}
	return nil
}
