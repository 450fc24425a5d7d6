package daemon

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/snapshot"
)

// A container's writable snapshot costs its create a metadata transaction
// and its flushes (three fsyncs, 3-4 ms on this host's ext4), the largest
// part of a create. The daemon keeps one snapshot prepared ahead on the
// top layer of each image it recently created containers from: a create
// that finds one takes it as the container's snapshot (the record names
// it, SnapshotKey), which is exactly what a fresh Prepare would have made,
// already durable. It is replaced in the background, after the create.
const (
	// spareLabel marks a snapshot prepared ahead.
	spareLabel = "berth.spare"
	// spareRefillDelay: the replacement is made after the create and
	// its start, not during them (see refillPoolSoon); for a spare the
	// next container took (no client waits: next.go), at once, before
	// the next client's start and exit, which the later one landed in.
	spareRefillDelay      = 20 * time.Millisecond
	spareRefillDelayAhead = time.Millisecond
	// spareTTL: a spare nobody took is removed, so that it holds no
	// image layer (an untagged image's, say) for long.
	spareTTL = 30 * time.Second
	// maxSpareImages bounds the images spares are kept for.
	maxSpareImages = 4
)

type spares struct {
	mu sync.Mutex
	// byTop holds, per parent snapshot, its spares, the newest last.
	byTop   map[string][]spare
	filling map[string]bool // parents being prepared
	closed  bool
	// gen counts dropSpares: a refill scheduled before one keeps nothing.
	gen      uint64
	inflight inflight
	// parents maps a container's snapshot key to its parent, dirs to
	// its upper and work directories, parked to where its mount waits
	// for the next container, for recycling (recycle_snapshot.go).
	parents, dirs, parked sync.Map
}

type spare struct {
	key  string
	made time.Time
	// recycled: an auto-remove container's snapshot, unchanged, given
	// only to auto-remove containers (recycle_snapshot.go).
	recycled bool
}

// maxSparesPerTop bounds the spares of one parent: a recycled snapshot
// may come back while the replacement of the one taken is being made.
const maxSparesPerTop = 2

// takeSpare returns a spare prepared on top, if there is one, and asks
// for its replacement; ahead says no client waits for the taker, and
// autoRemove that the taker is an auto-remove container (the only kind
// a recycled spare is given to).
func (d *Daemon) takeSpare(top string, ahead, autoRemove bool) (string, bool) {
	s := &d.spares
	s.mu.Lock()
	var sp spare
	ok := false
	list := s.byTop[top]
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].recycled && !autoRemove {
			continue
		}
		sp, ok = list[i], true
		list = slices.Delete(list, i, i+1)
		break
	}
	if len(list) == 0 {
		delete(s.byTop, top)
	} else {
		s.byTop[top] = list
	}
	s.mu.Unlock()
	delay := spareRefillDelay
	if ahead {
		delay = spareRefillDelayAhead
	}
	d.refillSpare(top, delay)
	if ok && autoRemove {
		s.parents.Store(sp.key, top)
	}
	return sp.key, ok
}

// returnSpare adds an auto-remove container's unchanged snapshot key on
// top to the spares, if there is room; false means the caller removes it.
func (d *Daemon) returnSpare(top, key string) bool {
	s := &d.spares
	s.mu.Lock()
	_, known := s.byTop[top]
	room := !s.closed && len(s.byTop[top]) < maxSparesPerTop &&
		(known || s.filling[top] || len(s.byTop)+len(s.filling) < maxSpareImages)
	if room {
		if s.byTop == nil {
			s.byTop = map[string][]spare{}
			s.filling = map[string]bool{}
		}
		s.byTop[top] = append(s.byTop[top], spare{key: key, made: time.Now(), recycled: true})
	}
	s.mu.Unlock()
	if room {
		d.expireSpare(top, key)
	}
	return room
}

// refillSpare prepares, delay from now, a spare on top unless one is there
// or under way (then, or when the delay is up).
func (d *Daemon) refillSpare(top string, delay time.Duration) {
	s := &d.spares
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.filling[top] || len(s.byTop[top]) > 0 {
		return
	}
	if s.byTop == nil {
		s.byTop = map[string][]spare{}
		s.filling = map[string]bool{}
	}
	if len(s.byTop)+len(s.filling) >= maxSpareImages {
		return
	}
	s.filling[top] = true
	gen := s.gen
	d.bg.Add(1)
	s.inflight.add()
	time.AfterFunc(delay, func() {
		defer d.bg.Done()
		defer s.inflight.done()
		s.mu.Lock()
		// A recycled snapshot came back meanwhile (returnSpare).
		needed := len(s.byTop[top]) == 0
		if !needed {
			delete(s.filling, top)
		}
		s.mu.Unlock()
		if !needed {
			return
		}
		key := "spare-" + container.NewID()
		ctx := context.Background()
		_, err := d.snapshots.Prepare(ctx, key, top, snapshot.WithLabels(map[string]string{spareLabel: "1"}))
		s.mu.Lock()
		delete(s.filling, top)
		keep := err == nil && !s.closed && s.gen == gen && len(s.byTop[top]) < maxSparesPerTop
		if keep {
			s.byTop[top] = append(s.byTop[top], spare{key: key, made: time.Now()})
		}
		s.mu.Unlock()
		switch {
		case err != nil:
			d.log.Debug("prepare a spare container snapshot", "parent", top, "err", err)
		case !keep:
			d.removeSpare(ctx, key)
		default:
			d.expireSpare(top, key)
		}
	})
}

// expireSpare removes the spare key on top after spareTTL unless it was
// taken meanwhile.
func (d *Daemon) expireSpare(top, key string) {
	time.AfterFunc(spareTTL, func() {
		s := &d.spares
		s.mu.Lock()
		list := s.byTop[top]
		i := slices.IndexFunc(list, func(sp spare) bool { return sp.key == key })
		if i >= 0 {
			list = slices.Delete(list, i, i+1)
			if len(list) == 0 {
				delete(s.byTop, top)
			} else {
				s.byTop[top] = list
			}
		}
		s.mu.Unlock()
		if i >= 0 {
			d.removeSpare(context.Background(), key)
		}
	})
}

// dropSpares removes every spare, and those being prepared, before it
// returns (an image is about to be deleted or pruned: spares must not
// keep its layers; the daemon is closing). closing stops the refills for
// good.
func (d *Daemon) dropSpares(ctx context.Context, closing bool) {
	s := &d.spares
	s.mu.Lock()
	if closing {
		s.closed = true
	}
	s.gen++
	var keys []string
	for top, list := range s.byTop {
		for _, sp := range list {
			keys = append(keys, sp.key)
		}
		delete(s.byTop, top)
	}
	s.mu.Unlock()
	for _, k := range keys {
		d.removeSpare(ctx, k)
	}
	// A refill under way sees the new generation and removes its own.
	s.inflight.wait()
}

func (d *Daemon) removeSpare(ctx context.Context, key string) {
	d.unpark(key)
	d.spares.dirs.Delete(key)
	if err := d.snapshots.Remove(ctx, key); err != nil && !errdefs.IsNotFound(err) {
		// The next start removes it (removeOrphanSnapshots).
		d.log.Warn("remove a spare container snapshot", "snapshot", key, "err", err)
	}
}
