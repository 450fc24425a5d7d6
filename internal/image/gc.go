package image

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/snapshot"
	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Lease protects blobs and snapshots that are written but not yet
// referenced by a record (a pull between its first blob and its Create, a
// load, an import, a build) from garbage collection. Leases live in
// memory: after a crash nothing is in progress, so anything unreferenced
// is garbage.
//
// Use: take a lease first; add each digest to it before (or, with Commit,
// while) it is written; create the record; release the lease.
//
//	l := store.NewLease()
//	defer l.Release()
//	l.AddContent(layer.Digest)          // then download it
//	err := l.Commit(ctx, w, size, dgst) // or commit through the lease
//	store.Create(ctx, image.Image{...})
//
// A lease not released expires after the store's lease TTL, so a leak
// cannot pin content forever.
type Lease struct {
	s       *Store
	id      uint64
	expires time.Time

	mu        sync.Mutex
	content   map[digest.Digest]bool
	snapshots map[string]bool
}

type leaseSet struct {
	mu   sync.Mutex
	next uint64
	m    map[uint64]*Lease
}

func (ls *leaseSet) init() { ls.m = map[uint64]*Lease{} }

// NewLease starts a lease.
func (s *Store) NewLease() *Lease {
	s.leases.mu.Lock()
	defer s.leases.mu.Unlock()
	s.leases.next++
	l := &Lease{
		s:         s,
		id:        s.leases.next,
		expires:   s.opts.now().Add(s.opts.leaseTTL),
		content:   map[digest.Digest]bool{},
		snapshots: map[string]bool{},
	}
	s.leases.m[l.id] = l
	return l
}

// AddContent protects blobs.
func (l *Lease) AddContent(ds ...digest.Digest) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, d := range ds {
		l.content[d] = true
	}
}

// AddSnapshot protects committed snapshots (and, through them, their
// parents).
func (l *Lease) AddSnapshot(names ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range names {
		l.snapshots[n] = true
	}
}

// Commit commits w and adds the resulting digest to the lease atomically
// with respect to garbage collection, for a writer that learns its digest
// only at the end (a blob read from a stream). A blob that already exists
// is not an error: it is leased all the same.
func (l *Lease) Commit(ctx context.Context, w content.Writer, size int64, expected digest.Digest, labels map[string]string) (digest.Digest, error) {
	l.s.gcMu.RLock()
	defer l.s.gcMu.RUnlock()
	d := expected
	if d == "" {
		d = w.Digest()
	}
	err := w.Commit(ctx, size, expected, labels)
	if err != nil && !errdefs.IsAlreadyExists(err) {
		return "", err
	}
	l.AddContent(d)
	return d, nil
}

// Release ends the lease. What it protected is collected by the next GC
// unless a record references it by then.
func (l *Lease) Release() {
	l.s.leases.mu.Lock()
	delete(l.s.leases.m, l.id)
	l.s.leases.mu.Unlock()
}

// Discard releases the lease and deletes what it protected that nothing
// else references: the cleanup of a failed load or import, which must not
// leave its blobs behind (they would be garbage until the next GC).
func (l *Lease) Discard(ctx context.Context) error {
	l.mu.Lock()
	only := make(map[digest.Digest]bool, len(l.content))
	for d := range l.content {
		only[d] = true
	}
	l.mu.Unlock()
	l.Release()
	l.s.gcMu.Lock()
	defer l.s.gcMu.Unlock()
	_, err := l.s.gcLocked(ctx, gcOptions{}, only)
	return err
}

// leased returns the union of live leases' content and snapshots.
func (ls *leaseSet) leased(now time.Time) (map[digest.Digest]bool, map[string]bool) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	c, sn := map[digest.Digest]bool{}, map[string]bool{}
	for id, l := range ls.m {
		if now.After(l.expires) {
			delete(ls.m, id)
			continue
		}
		l.mu.Lock()
		for d := range l.content {
			c[d] = true
		}
		for k := range l.snapshots {
			sn[k] = true
		}
		l.mu.Unlock()
	}
	return c, sn
}

// GCReport says what a collection removed.
type GCReport struct {
	ContentDeleted   []digest.Digest
	SnapshotsRemoved []string
	// BytesReclaimed is the blobs' sizes plus the snapshots' own usage.
	BytesReclaimed int64
}

// GCOpt adds roots to a collection.
type GCOpt func(*gcOptions)

type gcOptions struct {
	content   []digest.Digest
	snapshots []string
}

// WithRootContent keeps blobs (and what they reference) that no record
// names: what the daemon holds outside images.
func WithRootContent(ds ...digest.Digest) GCOpt {
	return func(o *gcOptions) { o.content = append(o.content, ds...) }
}

// WithRootSnapshots keeps snapshots (and their parents) that no image
// names: containers' snapshots are active and kept anyway, but the daemon
// may hold committed ones (a container's commit in progress).
func WithRootSnapshots(keys ...string) GCOpt {
	return func(o *gcOptions) { o.snapshots = append(o.snapshots, keys...) }
}

// GC removes every blob and committed snapshot that nothing references.
// The marks start from every record's target, live leases and the extra
// roots; from a target they follow index -> manifests -> config and
// layers, and from each manifest whose config parses, the layers' chain
// IDs (the snapshots an unpack commits) and their parents. Active and view
// snapshots (containers, unpacks in progress) are never removed, and keep
// their parent chains. Blobs younger than the grace period are kept.
func (s *Store) GC(ctx context.Context, opts ...GCOpt) (GCReport, error) {
	var o gcOptions
	for _, opt := range opts {
		opt(&o)
	}
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	return s.gcLocked(ctx, o, nil)
}

// gcLocked collects with gcMu held. With only non-nil, it considers only
// those blobs for deletion (a failed load cleaning up after itself), but
// still marks from everything.
func (s *Store) gcLocked(ctx context.Context, o gcOptions, only map[digest.Digest]bool) (GCReport, error) {
	var rep GCReport
	now := s.opts.now()

	// The order is what makes collection safe without stopping writers:
	// first list what exists, then read the leases, then the records.
	// Writers lease a blob or snapshot before writing it and create the
	// record before releasing the lease, so anything listed was leased
	// before the listing, and a lease released since was replaced by a
	// record read after it.
	var candidates []content.Info
	err := s.content.Walk(ctx, func(info content.Info) error {
		if only != nil && !only[info.Digest] {
			return nil
		}
		if s.opts.gcGrace > 0 && now.Sub(info.CreatedAt) < s.opts.gcGrace {
			return nil
		}
		candidates = append(candidates, info)
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("gc: walk content: %w", err)
	}
	sweepSnaps := s.snapshots != nil && only == nil
	var snaps map[string]snapshot.Info
	if sweepSnaps {
		if snaps, err = s.walkSnapshots(ctx); err != nil {
			return rep, err
		}
	}
	leasedContent, leasedSnaps := s.leases.leased(now)
	recs, err := s.Records(ctx)
	if err != nil {
		return rep, err
	}
	roots := targetsOf(recs)
	for _, d := range append(o.content, keys(leasedContent)...) {
		roots = append(roots, ocispec.Descriptor{Digest: d})
	}
	markedContent, chains, err := s.markContent(ctx, roots)
	if err != nil {
		return rep, err
	}

	for _, info := range candidates {
		if markedContent[info.Digest] {
			continue
		}
		if err := s.content.Delete(ctx, info.Digest); err != nil && !errdefs.IsNotFound(err) {
			return rep, fmt.Errorf("gc: delete %s: %w", info.Digest, err)
		}
		s.forgetResolved(info.Digest)
		rep.ContentDeleted = append(rep.ContentDeleted, info.Digest)
		rep.BytesReclaimed += info.Size
	}

	if !sweepSnaps {
		return rep, nil
	}
	removed, bytes, err := s.sweepSnapshots(ctx, snaps, chains, append(o.snapshots, keys(leasedSnaps)...), now)
	rep.SnapshotsRemoved, rep.BytesReclaimed = removed, rep.BytesReclaimed+bytes
	return rep, err
}

func keys[K comparable, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// markContent walks from roots through indexes and manifests. Missing
// blobs are not errors (an index names platforms never pulled); blobs
// that do not parse end the walk there. It returns the marked digests and
// the snapshot chain IDs of every manifest whose config parses.
func (s *Store) markContent(ctx context.Context, roots []ocispec.Descriptor) (map[digest.Digest]bool, map[string]bool, error) {
	marked := map[digest.Digest]bool{}
	chains := map[string]bool{}
	queue := append([]ocispec.Descriptor(nil), roots...)
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		d := queue[0]
		queue = queue[1:]
		if marked[d.Digest] {
			continue
		}
		marked[d.Digest] = true
		mt := d.MediaType
		if mt != "" && !isIndexType(mt) && !isManifestType(mt) {
			continue // a config or a layer: a leaf
		}
		info, err := s.content.Info(ctx, d.Digest)
		if err != nil || info.Size > MaxManifestSize {
			continue
		}
		b, err := readBlob(ctx, s.content, ocispec.Descriptor{Digest: d.Digest, Size: info.Size}, MaxManifestSize)
		if err != nil {
			continue
		}
		if mt == "" {
			if mt, err = sniffMediaType(b); err != nil {
				continue
			}
		}
		switch {
		case isIndexType(mt):
			idx, err := ParseIndex(b)
			if err != nil {
				continue
			}
			queue = append(queue, idx.Manifests...)
			if idx.Subject != nil {
				queue = append(queue, *idx.Subject)
			}
		case isManifestType(mt):
			m, err := ParseManifest(b)
			if err != nil {
				continue
			}
			queue = append(queue, m.Config)
			queue = append(queue, m.Layers...)
			if cb, err := readBlob(ctx, s.content, m.Config, MaxConfigSize); err == nil {
				if c, err := ParseConfig(cb); err == nil {
					for _, id := range identity.ChainIDs(append([]digest.Digest(nil), c.RootFS.DiffIDs...)) {
						chains[id.String()] = true
					}
				}
			}
		}
	}
	return marked, chains, nil
}

func (s *Store) walkSnapshots(ctx context.Context) (map[string]snapshot.Info, error) {
	infos := map[string]snapshot.Info{}
	err := s.snapshots.Walk(ctx, func(_ context.Context, info snapshot.Info) error {
		infos[info.Name] = info
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("gc: walk snapshots: %w", err)
	}
	return infos, nil
}

// sweepSnapshots removes committed snapshots that no image, lease or root
// needs, children before parents.
func (s *Store) sweepSnapshots(ctx context.Context, infos map[string]snapshot.Info, chains map[string]bool, roots []string, now time.Time) ([]string, int64, error) {
	keep := map[string]bool{}
	markUp := func(name string) {
		for name != "" && !keep[name] {
			keep[name] = true
			name = infos[name].Parent
		}
	}
	for name, info := range infos {
		if chains[name] || info.Kind != snapshot.KindCommitted {
			markUp(name)
		}
		if s.opts.gcGrace > 0 && now.Sub(info.Created) < s.opts.gcGrace {
			markUp(name)
		}
	}
	for _, r := range roots {
		markUp(r)
	}
	children := map[string]int{}
	for _, info := range infos {
		if info.Parent != "" {
			children[info.Parent]++
		}
	}
	var removed []string
	var reclaimed int64
	for {
		progress := false
		for name, info := range infos {
			if keep[name] || children[name] > 0 {
				continue
			}
			u, _ := s.snapshots.Usage(ctx, name)
			if err := s.snapshots.Remove(ctx, name); err != nil {
				if errdefs.IsNotFound(err) {
					delete(infos, name)
					continue
				}
				if errdefs.IsConflict(err) {
					// A child appeared since the walk (a container
					// created on it): keep it.
					keep[name] = true
					continue
				}
				return removed, reclaimed, fmt.Errorf("gc: remove snapshot %s: %w", name, err)
			}
			removed = append(removed, name)
			reclaimed += u.Size
			delete(infos, name)
			if info.Parent != "" {
				children[info.Parent]--
			}
			progress = true
		}
		if !progress {
			break
		}
	}
	return removed, reclaimed, nil
}

func targetsOf(recs []Image) []ocispec.Descriptor {
	out := make([]ocispec.Descriptor, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.Target)
	}
	return out
}

func descOf(info content.Info) ocispec.Descriptor {
	return ocispec.Descriptor{Digest: info.Digest, Size: info.Size}
}
