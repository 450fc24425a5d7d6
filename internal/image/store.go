package image

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/snapshot"
	"github.com/distribution/reference"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Store is the image store: records over a content store and, when given
// one, a snapshotter that holds unpacked layers.
//
// Lifecycle: NewStore opens (and cleans) a root; Create, Tag and Delete
// change records; Unpack turns an image's layers into committed snapshots
// named by chain ID; GC removes blobs and snapshots no record, lease or
// extra root references. Close releases nothing on disk (records are
// always durable) and exists for symmetry with the daemon's other stores.
type Store struct {
	root      string
	content   content.Store
	snapshots snapshot.Snapshotter
	opts      options

	records *records

	// gcMu orders garbage collection against everything that creates a
	// reference (a record, a lease entry, a committed unpack): GC holds it
	// exclusively from mark to sweep, the others share it, so a reference
	// created concurrently is either seen by the mark or made after the
	// sweep.
	gcMu   sync.RWMutex
	leases leaseSet

	resolveMu sync.Mutex
	resolved  map[digest.Digest]*Resolved

	chainMu    sync.Mutex
	chainLocks map[string]*chainLock
}

type options struct {
	platform    Platform
	gcGrace     time.Duration
	now         func() time.Time
	leaseTTL    time.Duration
	cleanupOpen bool
}

// Opt sets a Store option.
type Opt func(*options) error

// WithPlatform sets the platform an index resolves to (default: the
// host's). It decides an image's ID, config and layers.
func WithPlatform(p Platform) Opt {
	return func(o *options) error {
		if p.OS == "" || p.Architecture == "" {
			return fmt.Errorf("platform %q: OS and architecture are required: %w", p, errdefs.ErrInvalidParameter)
		}
		o.platform = NormalizePlatform(p)
		return nil
	}
}

// WithGCGracePeriod keeps blobs and snapshots younger than d out of
// garbage collection, for writers that do not take a Lease (another
// process sharing the root). Default 0: leases are the mechanism.
func WithGCGracePeriod(d time.Duration) Opt {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("gc grace period %s: %w", d, errdefs.ErrInvalidParameter)
		}
		o.gcGrace = d
		return nil
	}
}

// WithLeaseTTL bounds how long a lease protects what it holds if its
// owner never releases it (a bug, or a goroutine stuck on a dead peer).
// Default one hour.
func WithLeaseTTL(d time.Duration) Opt {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("lease ttl %s: %w", d, errdefs.ErrInvalidParameter)
		}
		o.leaseTTL = d
		return nil
	}
}

// makeOptions holds every default and rejects contradictions.
func makeOptions(opts []Opt) (options, error) {
	o := options{
		platform:    HostPlatform(),
		now:         time.Now,
		leaseTTL:    time.Hour,
		cleanupOpen: true,
	}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// unpackKeyPrefix marks the active snapshots an unpack prepares; a key
// with this prefix that exists when the store opens belongs to an unpack
// that was killed, and is removed.
const unpackKeyPrefix = "berth-unpack-"

// NewStore opens the image store at root (created if missing) over the
// content store cs and the snapshotter sn (nil for a store that never
// unpacks: a registry's, a test's). Opening removes what a killed writer
// left: temporary record files and unpack snapshots that were never
// committed. One Store per root per process; other processes may read and
// edit records (they are flocked) but must not unpack or collect garbage
// concurrently.
func NewStore(ctx context.Context, root string, cs content.Store, sn snapshot.Snapshotter, opts ...Opt) (*Store, error) {
	if cs == nil {
		return nil, fmt.Errorf("image store: a content store is required: %w", errdefs.ErrInvalidParameter)
	}
	o, err := makeOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	s := &Store{
		root:       root,
		content:    cs,
		snapshots:  sn,
		opts:       o,
		records:    &records{dir: root},
		resolved:   map[digest.Digest]*Resolved{},
		chainLocks: map[string]*chainLock{},
	}
	s.leases.init()
	if o.cleanupOpen {
		if err := s.cleanup(ctx); err != nil {
			return nil, fmt.Errorf("image store: cleanup after a crash: %w", err)
		}
	}
	return s, nil
}

// Close is a no-op kept so the daemon closes every store the same way.
func (s *Store) Close() error { return nil }

// Content is the content store the image store reads.
func (s *Store) Content() content.Store { return s.content }

// Snapshotter is the snapshotter images unpack into (nil if none).
func (s *Store) Snapshotter() snapshot.Snapshotter { return s.snapshots }

// Platform is the platform indexes resolve to.
func (s *Store) Platform() Platform { return s.opts.platform }

// cleanup removes leftovers of killed writers: temporary record files and
// uncommitted unpack snapshots.
func (s *Store) cleanup(ctx context.Context) error {
	unlock, err := s.records.lock(ctx, true)
	if err != nil {
		return err
	}
	_, err = removeStaleTemps(s.root)
	unlock()
	if err != nil {
		return err
	}
	if s.snapshots == nil {
		return nil
	}
	var stale []string
	err = s.snapshots.Walk(ctx, func(_ context.Context, info snapshot.Info) error {
		if info.Kind != snapshot.KindCommitted && strings.HasPrefix(info.Name, unpackKeyPrefix) {
			stale = append(stale, info.Name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range stale {
		if err := s.snapshots.Remove(ctx, k); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("remove stale unpack snapshot %s: %w", k, err)
		}
	}
	return nil
}

// Resolve reads what img's target comes down to on the store's platform,
// caching the answer (blobs are immutable, so a digest resolves the same
// way forever).
func (s *Store) Resolve(ctx context.Context, img Image) (*Resolved, error) {
	return s.resolveTarget(ctx, img.Target)
}

func (s *Store) resolveTarget(ctx context.Context, target ocispec.Descriptor) (*Resolved, error) {
	s.resolveMu.Lock()
	r, ok := s.resolved[target.Digest]
	s.resolveMu.Unlock()
	if ok {
		return r, nil
	}
	r, err := resolve(ctx, s.content, target, s.opts.platform)
	if err != nil {
		return nil, err
	}
	s.resolveMu.Lock()
	s.resolved[target.Digest] = r
	s.resolveMu.Unlock()
	return r, nil
}

func (s *Store) forgetResolved(d digest.Digest) {
	s.resolveMu.Lock()
	delete(s.resolved, d)
	s.resolveMu.Unlock()
}

// Records returns every record, sorted by name (dangling ones last).
func (s *Store) Records(ctx context.Context) ([]Image, error) {
	var out []Image
	err := s.records.view(ctx, func(m map[string]Image) error {
		out = make([]Image, 0, len(m))
		for _, img := range m {
			out = append(out, img)
		}
		return nil
	})
	sortRecords(out)
	return out, err
}

func sortRecords(imgs []Image) {
	sort.Slice(imgs, func(i, j int) bool {
		a, b := imgs[i], imgs[j]
		if a.Dangling() != b.Dangling() {
			return !a.Dangling()
		}
		return a.key() < b.key()
	})
}

// Create records img, replacing a record of the same name (a pull or load
// that moves a tag). The target must resolve: its manifest, config (and
// for an index, the platform's manifest) must be in the content store.
// An image left without a name by the move stays as a dangling record,
// as docker keeps a <none> image; a dangling record of img's own image is
// dropped, since it has a name again. CreatedAt is kept on replace.
func (s *Store) Create(ctx context.Context, img Image) (Image, error) {
	out, err := s.CreateAll(ctx, []Image{img})
	if err != nil {
		return Image{}, err
	}
	return out[0], nil
}

// CreateAll is Create of several records in one durable write: all of them
// appear, or none (a load of several images). An Image without a name is
// recorded as dangling, unless a named record already holds its image.
func (s *Store) CreateAll(ctx context.Context, imgs []Image) ([]Image, error) {
	resolved := make([]*Resolved, len(imgs))
	// Validate everything before touching the records.
	for i := range imgs {
		img := &imgs[i]
		if img.Name != "" {
			named, err := NormalizeName(img.Name)
			if err != nil {
				return nil, err
			}
			if c, ok := named.(reference.Canonical); ok && c.Digest() != img.Target.Digest {
				return nil, fmt.Errorf("create image %s: the name's digest is not the target's %s: %w", named, img.Target.Digest, errdefs.ErrInvalidParameter)
			}
			img.Name = named.String()
		}
	}
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	for i, img := range imgs {
		r, err := s.resolveTarget(ctx, img.Target)
		if err != nil {
			return nil, fmt.Errorf("create image %s: %w", img.Name, err)
		}
		resolved[i] = r
	}
	now := s.opts.now().UTC()
	out := make([]Image, len(imgs))
	err := s.records.update(ctx, func(m map[string]Image) (bool, error) {
		changed := false
		for i, img := range imgs {
			img.UpdatedAt = now
			if img.CreatedAt.IsZero() {
				img.CreatedAt = now
			}
			if img.Name == "" {
				if s.hasNamed(ctx, m, resolved[i].ID()) {
					out[i] = img
					continue
				}
				if old, ok := m[img.key()]; ok {
					out[i] = old
					continue
				}
				m[img.key()] = img
				out[i], changed = img, true
				continue
			}
			old, had := m[img.Name]
			if had {
				if old.Target.Digest == img.Target.Digest && sameLabels(old.Labels, img.Labels) {
					out[i] = old
					continue
				}
				img.CreatedAt = old.CreatedAt
			}
			m[img.Name] = img
			out[i], changed = img, true
			s.dropDangling(ctx, m, resolved[i].ID())
			if had && old.Target.Digest != img.Target.Digest {
				s.keepAsDangling(ctx, m, old)
			}
		}
		return changed, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// hasNamed reports whether a named record in m resolves to image id.
func (s *Store) hasNamed(ctx context.Context, m map[string]Image, id digest.Digest) bool {
	for _, img := range m {
		if img.Dangling() {
			continue
		}
		if r, err := s.resolveTarget(ctx, img.Target); err == nil && r.ID() == id {
			return true
		}
	}
	return false
}

func sameLabels(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

// dropDangling removes dangling records of image id: it has a name now.
func (s *Store) dropDangling(ctx context.Context, m map[string]Image, id digest.Digest) {
	for k, img := range m {
		if !img.Dangling() {
			continue
		}
		if r, err := s.resolveTarget(ctx, img.Target); err == nil && r.ID() == id {
			delete(m, k)
		}
	}
}

// keepAsDangling records old's target as a dangling image when no record
// left in m names the same image.
func (s *Store) keepAsDangling(ctx context.Context, m map[string]Image, old Image) {
	r, err := s.resolveTarget(ctx, old.Target)
	if err != nil {
		// Unresolvable: nothing an image list could show; GC collects it.
		return
	}
	for _, img := range m {
		if or, err := s.resolveTarget(ctx, img.Target); err == nil && or.ID() == r.ID() {
			return
		}
	}
	d := Image{Target: old.Target, Labels: old.Labels, CreatedAt: old.CreatedAt, UpdatedAt: s.opts.now().UTC()}
	m[d.key()] = d
}

// Tag gives the image that source names (a name or an ID) the new name
// target, as docker tag does. target must be a name with a tag, not a
// digest.
func (s *Store) Tag(ctx context.Context, source, target string) (Image, error) {
	named, err := reference.ParseNormalizedNamed(target)
	if err != nil {
		return Image{}, fmt.Errorf("invalid reference format %q: %v: %w", target, err, errdefs.ErrInvalidParameter)
	}
	if _, ok := named.(reference.Canonical); ok {
		return Image{}, fmt.Errorf("refusing to create a tag with a digest reference: %w", errdefs.ErrInvalidParameter)
	}
	src, err := s.Get(ctx, source)
	if err != nil {
		return Image{}, err
	}
	return s.Create(ctx, Image{Name: reference.TagNameOnly(named).String(), Target: src.Target, Labels: src.Labels})
}

// Get returns the record ref names: by name (repo:tag, repo@digest, or
// name:tag@digest where the digest wins), then by full ID or unambiguous
// ID prefix, as docker resolves `docker inspect 3f57`. For an ID, the
// image's first tagged record is returned (or its dangling one).
func (s *Store) Get(ctx context.Context, ref string) (Image, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return Image{}, err
	}
	recs, err := s.Records(ctx)
	if err != nil {
		return Image{}, err
	}
	if r.Named != nil {
		if img, ok := s.findByName(ctx, recs, r.Named); ok {
			return img, nil
		}
	}
	if r.IDPrefix != "" {
		img, err := s.findByID(ctx, recs, r.IDPrefix)
		if err == nil || !errdefs.IsNotFound(err) {
			return img, err
		}
	}
	return Image{}, fmt.Errorf("no such image: %s: %w", ref, errdefs.ErrNotFound)
}

func (s *Store) findByName(ctx context.Context, recs []Image, named reference.Named) (Image, bool) {
	c, digested := named.(reference.Canonical)
	if digested {
		cn, err := canonicalName(named)
		if err != nil {
			return Image{}, false
		}
		named = cn
	}
	for _, img := range recs {
		if img.Name == named.String() {
			return img, true
		}
	}
	if !digested {
		return Image{}, false
	}
	// repo@digest also names an image recorded under a tag of the same
	// repository whose target, or whose platform manifest, has that
	// digest: what docker shows as its RepoDigests.
	for _, img := range recs {
		if img.Dangling() || !sameRepo(img.Name, named.Name()) {
			continue
		}
		if img.Target.Digest == c.Digest() {
			return img, true
		}
		if res, err := s.resolveTarget(ctx, img.Target); err == nil && res.Manifest.Digest == c.Digest() {
			return img, true
		}
	}
	return Image{}, false
}

func sameRepo(name, repo string) bool {
	n, err := reference.ParseNormalizedNamed(name)
	return err == nil && n.Name() == repo
}

func (s *Store) findByID(ctx context.Context, recs []Image, prefix string) (Image, error) {
	var found digest.Digest
	var img Image
	for _, rec := range recs {
		res, err := s.resolveTarget(ctx, rec.Target)
		if err != nil {
			continue
		}
		id := res.ID()
		if !strings.HasPrefix(id.Encoded(), prefix) {
			continue
		}
		if found != "" && found != id {
			return Image{}, fmt.Errorf("short image ID %q is ambiguous (%s and %s): %w", prefix, ShortID(found), ShortID(id), errdefs.ErrInvalidParameter)
		}
		if found == "" {
			found, img = id, rec
		}
	}
	if found == "" {
		return Image{}, fmt.Errorf("no such image: sha256:%s: %w", prefix, errdefs.ErrNotFound)
	}
	return img, nil
}

// imageGroup is one image as docker lists it: the records whose targets
// resolve to one config.
type imageGroup struct {
	id       digest.Digest
	records  []Image // sorted; named before dangling
	resolved *Resolved
}

func (g *imageGroup) repoTags() []string {
	var out []string
	for _, r := range g.records {
		if !r.Dangling() && isTagged(r.Name) {
			out = append(out, FamiliarName(r.Name))
		}
	}
	return out
}

// repoDigests is docker's RepoDigests: repo@digest for every repository
// the image is recorded under, the digest being the record's target (the
// index when it is one: what a pull by digest needs).
func (g *imageGroup) repoDigests() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range g.records {
		if r.Dangling() {
			continue
		}
		named, err := reference.ParseNormalizedNamed(r.Name)
		if err != nil {
			continue
		}
		c, err := reference.WithDigest(reference.TrimNamed(named), r.Target.Digest)
		if err != nil {
			continue
		}
		s := reference.FamiliarString(c)
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func (g *imageGroup) created() time.Time {
	if g.resolved.Config.Created != nil {
		return *g.resolved.Config.Created
	}
	return time.Time{}
}

// groups resolves every record and groups them by image ID. Records that
// do not resolve are skipped (Check reports them).
func (s *Store) groups(ctx context.Context) ([]*imageGroup, error) {
	recs, err := s.Records(ctx)
	if err != nil {
		return nil, err
	}
	byID := map[digest.Digest]*imageGroup{}
	var order []*imageGroup
	for _, rec := range recs {
		res, err := s.resolveTarget(ctx, rec.Target)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue
		}
		g, ok := byID[res.ID()]
		if !ok {
			g = &imageGroup{id: res.ID(), resolved: res}
			byID[res.ID()] = g
			order = append(order, g)
		}
		g.records = append(g.records, rec)
	}
	return order, nil
}
