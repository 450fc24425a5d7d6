package image

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/berth-project/berth/internal/archive"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/mount"
	"github.com/berth-project/berth/internal/snapshot"
	"github.com/moby/moby/api/types/jsonstream"
	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Labels the unpack puts on the snapshots it commits, so that a snapshot
// can be traced back to its layer.
const (
	LabelSnapshotDiffID = "berth.io/image.diffid"
	LabelSnapshotLayer  = "berth.io/image.layer"
)

// ProgressFunc receives progress in the docker CLI's shape (moby's
// jsonmessage): Status "Extracting" with current and total bytes of the
// compressed layer read, then "Pull complete", with ID the layer digest's
// first 12 hex digits. It is called from the unpacking goroutine and must
// not block for long.
type ProgressFunc func(jsonstream.Message)

// UnpackOpt sets an option of Unpack and NewUnpack.
type UnpackOpt func(*unpackOptions)

type unpackOptions struct {
	progress  ProgressFunc
	applyOpts []archive.ApplyOpt
	// after is a test hook: called after each stage of each layer, so a
	// test can kill the process at a seeded point.
	after func(layer int, stage string)
}

// WithUnpackProgress reports extraction progress.
func WithUnpackProgress(fn ProgressFunc) UnpackOpt {
	return func(o *unpackOptions) { o.progress = fn }
}

// WithApplyOpts passes options to archive.Apply for every layer (a device
// policy, a size limit); the whiteout mode is the unpack's to choose.
func WithApplyOpts(opts ...archive.ApplyOpt) UnpackOpt {
	return func(o *unpackOptions) { o.applyOpts = append(o.applyOpts, opts...) }
}

// withUnpackHook is for tests of crash safety.
func withUnpackHook(fn func(layer int, stage string)) UnpackOpt {
	return func(o *unpackOptions) { o.after = fn }
}

// Unpack unpacks img's layers (for the store's platform) into committed
// snapshots named by their chain IDs, reusing those that exist, and
// returns the top chain ID: the parent of a container's snapshot. Every
// layer blob must be in the content store.
func (s *Store) Unpack(ctx context.Context, img Image, opts ...UnpackOpt) (string, error) {
	u, err := s.NewUnpack(ctx, img.Target, opts...)
	if err != nil {
		return "", err
	}
	for i := range u.Layers() {
		u.Ready(i)
	}
	return u.Wait()
}

// Unpacked reports whether every layer of img is unpacked, and the top
// chain ID.
func (s *Store) Unpacked(ctx context.Context, img Image) (string, bool, error) {
	if s.snapshots == nil {
		return "", false, nil
	}
	res, err := s.Resolve(ctx, img)
	if err != nil {
		return "", false, err
	}
	chains := identity.ChainIDs(append([]digest.Digest(nil), res.DiffIDs()...))
	if len(chains) == 0 {
		return "", true, nil
	}
	top := chains[len(chains)-1].String()
	info, err := s.snapshots.Stat(ctx, top)
	if errdefs.IsNotFound(err) {
		return top, false, nil
	}
	if err != nil {
		return "", false, err
	}
	return top, info.Kind == snapshot.KindCommitted, nil
}

// Unpack is an unpack in progress, for a pull that overlaps download and
// extraction: NewUnpack reads the manifest and config (which must be in
// the content store already) and starts a goroutine that extracts layer
// i as soon as Ready(i) says its blob is committed and layer i-1 is done.
// Cancelling the ctx given to NewUnpack stops it; Wait returns the
// result. Layers whose chain snapshot exists are skipped without waiting
// for Ready.
type Unpack struct {
	s      *Store
	res    *Resolved
	chains []digest.Digest
	ready  []chan struct{}
	once   []sync.Once
	done   chan struct{}
	top    string
	err    error
}

// NewUnpack starts unpacking target (a manifest, or an index resolved to
// the store's platform).
func (s *Store) NewUnpack(ctx context.Context, target ocispec.Descriptor, opts ...UnpackOpt) (*Unpack, error) {
	if s.snapshots == nil {
		return nil, fmt.Errorf("unpack: the image store has no snapshotter: %w", errdefs.ErrNotImplemented)
	}
	var o unpackOptions
	for _, opt := range opts {
		opt(&o)
	}
	res, err := s.resolveTarget(ctx, target)
	if err != nil {
		return nil, fmt.Errorf("unpack: %w", err)
	}
	n := len(res.ManifestBody.Layers)
	u := &Unpack{
		s:      s,
		res:    res,
		chains: identity.ChainIDs(append([]digest.Digest(nil), res.DiffIDs()...)),
		ready:  make([]chan struct{}, n),
		once:   make([]sync.Once, n),
		done:   make(chan struct{}),
	}
	for i := range u.ready {
		u.ready[i] = make(chan struct{})
	}
	go func() {
		defer close(u.done)
		u.top, u.err = u.run(ctx, o)
	}()
	return u, nil
}

// Layers are the manifest's layer descriptors, in order.
func (u *Unpack) Layers() []ocispec.Descriptor { return u.res.ManifestBody.Layers }

// ChainIDs are the snapshot names the layers unpack to, in order.
func (u *Unpack) ChainIDs() []digest.Digest { return u.chains }

// Ready says layer i's blob is committed. Calling it twice is harmless.
func (u *Unpack) Ready(i int) {
	if i >= 0 && i < len(u.ready) {
		u.once[i].Do(func() { close(u.ready[i]) })
	}
}

// Wait waits for the unpack to end and returns the top chain ID.
func (u *Unpack) Wait() (string, error) {
	<-u.done
	return u.top, u.err
}

func (u *Unpack) run(ctx context.Context, o unpackOptions) (string, error) {
	s := u.s
	// The lease keeps each committed layer from GC until the next one is
	// prepared on it and the caller records the image.
	lease := s.NewLease()
	defer lease.Release()
	layers := u.res.ManifestBody.Layers
	parent := ""
	for i, l := range layers {
		chain := u.chains[i].String()
		if err := s.unpackLayer(ctx, u, o, lease, i, l, parent, chain); err != nil {
			return "", fmt.Errorf("unpack layer %d (%s): %w", i, ShortID(l.Digest), err)
		}
		parent = chain
	}
	return parent, nil
}

type chainLock struct {
	mu   sync.Mutex
	refs int
}

// lockChain serializes unpacks of one chain ID within the process, so two
// pulls of images sharing a layer extract it once.
func (s *Store) lockChain(chain string) func() {
	s.chainMu.Lock()
	l, ok := s.chainLocks[chain]
	if !ok {
		l = &chainLock{}
		s.chainLocks[chain] = l
	}
	l.refs++
	s.chainMu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		s.chainMu.Lock()
		if l.refs--; l.refs == 0 {
			delete(s.chainLocks, chain)
		}
		s.chainMu.Unlock()
	}
}

// haveChain leases chain if it is committed, under the GC lock so it
// cannot vanish between the check and the lease.
func (s *Store) haveChain(ctx context.Context, lease *Lease, chain string) (bool, error) {
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	info, err := s.snapshots.Stat(ctx, chain)
	if errdefs.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if info.Kind != snapshot.KindCommitted {
		return false, fmt.Errorf("snapshot %s exists but is not committed (%s): %w", chain, info.Kind, errdefs.ErrConflict)
	}
	lease.AddSnapshot(chain)
	return true, nil
}

func (s *Store) unpackLayer(ctx context.Context, u *Unpack, o unpackOptions, lease *Lease, i int, l ocispec.Descriptor, parent, chain string) (err error) {
	unlock := s.lockChain(chain)
	defer unlock()
	if ok, err := s.haveChain(ctx, lease, chain); err != nil || ok {
		return err
	}
	select {
	case <-u.ready[i]:
	case <-ctx.Done():
		return ctx.Err()
	}
	hook := func(stage string) {
		if o.after != nil {
			o.after(i, stage)
		}
	}
	key := unpackKeyPrefix + randomHex(8) + "-" + ShortID(u.chains[i])
	mounts, err := s.snapshots.Prepare(ctx, key, parent, snapshot.WithLabels(map[string]string{
		LabelSnapshotDiffID: u.res.DiffIDs()[i].String(),
	}))
	if err != nil {
		return fmt.Errorf("prepare snapshot: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			// A detached context: the cleanup must happen even when ctx
			// was what stopped us.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if rerr := s.snapshots.Remove(cctx, key); rerr != nil && !errdefs.IsNotFound(rerr) {
				err = errors.Join(err, fmt.Errorf("remove unfinished snapshot %s: %w", key, rerr))
			}
		}
	}()
	hook("prepared")
	diffID, err := s.applyLayer(ctx, o, mounts, l, hook)
	if err != nil {
		return err
	}
	if want := u.res.DiffIDs()[i]; diffID != want {
		return fmt.Errorf("layer content has diff_id %s, the image config says %s: %w", diffID, want, errdefs.ErrInvalidParameter)
	}
	hook("applied")
	s.gcMu.RLock()
	err = s.snapshots.Commit(ctx, chain, key, snapshot.WithLabels(map[string]string{
		LabelSnapshotDiffID: diffID.String(),
		LabelSnapshotLayer:  l.Digest.String(),
	}))
	if err == nil || errdefs.IsAlreadyExists(err) {
		// Already exists: another process committed the same chain; ours
		// is removed by the deferred cleanup and theirs is as good.
		committed = err == nil
		lease.AddSnapshot(chain)
		err = nil
	}
	s.gcMu.RUnlock()
	if err != nil {
		return fmt.Errorf("commit snapshot %s: %w", chain, err)
	}
	hook("committed")
	if o.progress != nil {
		o.progress(jsonstream.Message{Status: "Pull complete", ID: ShortID(l.Digest)})
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// applyLayer extracts the layer blob into the prepared snapshot and
// returns the digest of its uncompressed stream, checking the blob
// against its own digest on the way.
//
// The fast paths need no mount: a snapshot that is a single bind mount
// (a base layer, or a copying snapshotter) is the rootfs itself, and an
// overlay snapshot's upper directory takes the layer with overlay
// whiteouts. Anything else is mounted for the duration and the layer is
// applied with delete-whiteouts.
func (s *Store) applyLayer(ctx context.Context, o unpackOptions, mounts []mount.Mount, l ocispec.Descriptor, hook func(string)) (digest.Digest, error) {
	ra, err := s.content.ReaderAt(ctx, l)
	if err != nil {
		return "", fmt.Errorf("layer blob: %w", err)
	}
	defer ra.Close()
	if l.Size > 0 && ra.Size() != l.Size {
		return "", fmt.Errorf("layer blob is %d bytes, the manifest says %d: %w", ra.Size(), l.Size, errdefs.ErrInvalidParameter)
	}
	compressed := l.Digest.Algorithm().Digester()
	pr := &progressReader{r: io.NewSectionReader(ra, 0, ra.Size()), total: ra.Size(), id: ShortID(l.Digest), fn: o.progress}
	src := io.TeeReader(pr, compressed.Hash())
	ds, _, err := archive.DecompressStream(src)
	if err != nil {
		return "", err
	}
	defer ds.Close()
	uncompressed := digest.SHA256.Digester()
	tar := io.TeeReader(ds, uncompressed.Hash())

	apply := func(root string, extra ...archive.ApplyOpt) error {
		_, err := archive.Apply(ctx, root, tar, append(append([]archive.ApplyOpt(nil), o.applyOpts...), extra...)...)
		return err
	}
	// The prepared snapshot is mounted nowhere, so its upper directory
	// may be written directly.
	switch upper, uerr := snapshot.UpperDir(mounts); {
	case uerr == nil && upper.Overlay:
		err = apply(upper.Dir, archive.WithOverlayWhiteouts())
	case uerr == nil:
		err = apply(upper.Dir, archive.WithDeleteWhiteouts())
	default:
		err = mount.WithTempMount(ctx, mounts, func(root string) error {
			return apply(root, archive.WithDeleteWhiteouts())
		})
	}
	if err != nil {
		return "", err
	}
	hook("extracted")
	// Apply reads the tar to its end; the compressed stream may still
	// hold a trailer (and a hostile blob, junk): both digests cover all.
	if _, err := io.Copy(io.Discard, tar); err != nil {
		return "", fmt.Errorf("layer: %w", err)
	}
	if _, err := io.Copy(io.Discard, src); err != nil {
		return "", fmt.Errorf("layer: %w", err)
	}
	if got := compressed.Digest(); got != l.Digest {
		return "", fmt.Errorf("layer blob has digest %s, the manifest says %s: %w", got, l.Digest, errdefs.ErrInvalidParameter)
	}
	pr.report(true)
	return uncompressed.Digest(), nil
}

// directDir returns the directory that holds the tree mounts show
// without mounting them, and whether it is only an overlay upper
// directory (the top layer's changes, not the tree). With readOnly, a
// read-only bind mount (a view) counts too: a reader such as Export may
// read it in place, though nothing may write there, which is why
// snapshot.UpperDir refuses it.
func directDir(mounts []mount.Mount, readOnly bool) (string, bool) {
	if readOnly && len(mounts) == 1 && mounts[0].ReadOnly() {
		m := mounts[0]
		m.Options = append(slices.Clone(m.Options), "rw")
		mounts = []mount.Mount{m}
	}
	upper, err := snapshot.UpperDir(mounts)
	if err != nil {
		return "", false
	}
	return upper.Dir, upper.Overlay
}

// progressReader reports "Extracting" progress, at most every 100ms or
// 1 MiB, so a fast disk does not flood the client.
type progressReader struct {
	r       io.Reader
	n       int64
	total   int64
	id      string
	fn      ProgressFunc
	lastN   int64
	lastAt  time.Time
	started time.Time
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	p.report(false)
	return n, err
}

func (p *progressReader) report(final bool) {
	if p.fn == nil {
		return
	}
	now := time.Now()
	if p.started.IsZero() {
		p.started = now
	}
	if !final && p.n-p.lastN < 1<<20 && now.Sub(p.lastAt) < 100*time.Millisecond {
		return
	}
	if final && p.lastN == p.n && !p.lastAt.IsZero() {
		return
	}
	p.lastN, p.lastAt = p.n, now
	p.fn(jsonstream.Message{
		Status:   "Extracting",
		ID:       p.id,
		Progress: &jsonstream.Progress{Current: p.n, Total: p.total, Start: p.started.Unix()},
	})
}
