package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"

	"github.com/berth-project/berth/internal/archive"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/snapshot"
)

// layerApplier unpacks a committed layer while it is written: the layer
// stream goes both to the content store and, through a pipe, into a new
// snapshot on the parent's, so the commit writes its layer's files once
// in parallel with the blob instead of reading the blob back after (the
// image store's Unpack then finds the layer unpacked).
type layerApplier struct {
	s    *Service
	key  string
	pr   *io.PipeReader
	pw   *io.PipeWriter
	done chan error
	once sync.Once
	err  error
	// committed: the snapshot is the layer's chain now, not ours to remove.
	committed bool
}

// startApply prepares the snapshot on parentDiffIDs' chain and starts
// applying into it. nil (and no error) when the parent is not unpacked or
// the snapshot cannot be written directly: the commit then unpacks after.
func (s *Service) startApply(ctx context.Context, lease *image.Lease, parentDiffIDs []digest.Digest) (*layerApplier, error) {
	parent := ""
	if len(parentDiffIDs) > 0 {
		parent = identity.ChainID(parentDiffIDs).String()
		info, err := s.sn.Stat(ctx, parent)
		if errdefs.IsNotFound(err) || (err == nil && info.Kind != snapshot.KindCommitted) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		lease.AddSnapshot(parent)
	}
	// The image store removes snapshots under this prefix when it opens:
	// one left by a crash goes then.
	key := "berth-unpack-commit-" + randomRef()
	lease.AddSnapshot(key)
	mounts, err := s.sn.Prepare(ctx, key, parent)
	if err != nil {
		return nil, fmt.Errorf("prepare the layer's snapshot: %w", err)
	}
	a := &layerApplier{s: s, key: key, done: make(chan error, 1)}
	up, err := snapshot.UpperDir(mounts)
	if err != nil {
		a.cleanup(ctx)
		return nil, nil
	}
	a.pr, a.pw = io.Pipe()
	whiteouts := archive.WithDeleteWhiteouts()
	if up.Overlay {
		whiteouts = archive.WithOverlayWhiteouts()
	}
	go func() {
		_, err := archive.Apply(ctx, up.Dir, a.pr, whiteouts)
		if err == nil {
			// The end blocks: the writer must not block on them.
			_, err = io.Copy(io.Discard, a.pr)
		}
		a.pr.CloseWithError(err)
		a.done <- err
	}()
	return a, nil
}

// tee makes write also feed the snapshot.
func (a *layerApplier) tee(write func(context.Context, io.Writer) error) func(context.Context, io.Writer) error {
	return func(ctx context.Context, w io.Writer) error {
		err := write(ctx, io.MultiWriter(w, a.pw))
		a.pw.CloseWithError(err)
		return err
	}
}

// finish waits for the apply and, for a layer that is not empty, commits
// the snapshot as the layer's chain (parentDiffIDs + diffID).
func (a *layerApplier) finish(ctx context.Context, lease *image.Lease, parentDiffIDs []digest.Digest, layer digest.Digest, diffID digest.Digest, empty bool) error {
	// Should the writer have stopped early, the apply ends too.
	a.pw.CloseWithError(errors.New("the layer was not written to its end"))
	if err := a.wait(); err != nil {
		return fmt.Errorf("unpack the layer: %w", err)
	}
	if empty {
		return nil
	}
	chain := identity.ChainID(append(append([]digest.Digest(nil), parentDiffIDs...), diffID)).String()
	// Leased before it exists, so a collection between the commit and
	// the image's record cannot take it.
	lease.AddSnapshot(chain)
	err := a.s.sn.Commit(ctx, chain, a.key, snapshot.WithLabels(map[string]string{
		image.LabelSnapshotDiffID: diffID.String(),
		image.LabelSnapshotLayer:  layer.String(),
	}))
	switch {
	case err == nil:
		a.committed = true
	case errdefs.IsAlreadyExists(err):
		// The same layer on the same parent, unpacked already: ours goes.
	default:
		return fmt.Errorf("commit the layer's snapshot: %w", err)
	}
	return nil
}

// wait waits for the apply's end (any number of times).
func (a *layerApplier) wait() error {
	a.once.Do(func() { a.err = <-a.done })
	return a.err
}

// cleanup removes the snapshot unless it became the layer's.
func (a *layerApplier) cleanup(ctx context.Context) {
	if a.committed {
		return
	}
	if a.pw != nil {
		a.pw.CloseWithError(errors.New("commit abandoned"))
		_ = a.wait()
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := a.s.sn.Remove(cctx, a.key); err != nil && !errdefs.IsNotFound(err) {
		a.s.log.Warn("commit: remove the layer's unfinished snapshot", "key", a.key, "err", err)
	}
}
