// Package coalesce owns the delivery queue behind progress streams: the
// producer (a download, a push, an unpack) appends and never waits, one
// goroutine hands the values on in order, and a value that only says how
// far something got replaces an undelivered one of the same key, so a slow
// reader sees fewer, fresher counts instead of holding the transfer up.
package coalesce

import (
	"context"
	"sync"
)

// KeyFunc says whether v may be replaced by a newer value of the same key
// while both are undelivered, and under which key.
type KeyFunc[T any] func(v T) (key string, ok bool)

// DeliverFunc hands v on. It returns false when stop closed before v could
// be delivered, which ends the queue.
type DeliverFunc[T any] func(v T, stop <-chan struct{}) bool

// Queue delivers values from its own goroutine. A nil *Queue drops
// everything, so callers need no "is anyone listening" checks.
type Queue[T any] struct {
	key     KeyFunc[T]
	deliver DeliverFunc[T]

	mu      sync.Mutex
	pending []*T
	latest  map[string]*T // the undelivered replaceable value per key
	closing bool
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

// New starts a queue that delivers through deliver and coalesces what key
// says it may.
func New[T any](key KeyFunc[T], deliver DeliverFunc[T]) *Queue[T] {
	q := &Queue[T]{
		key:     key,
		deliver: deliver,
		latest:  map[string]*T{},
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go q.run()
	return q
}

// Send queues v; it never blocks. Values sent once Close began are dropped.
func (q *Queue[T]) Send(v T) {
	if q == nil {
		return
	}
	q.mu.Lock()
	if q.closing {
		q.mu.Unlock()
		return
	}
	if k, ok := q.key(v); ok {
		if p, ok := q.latest[k]; ok {
			*p = v
			q.mu.Unlock()
			return
		}
		p := &v
		q.latest[k] = p
		q.pending = append(q.pending, p)
	} else {
		q.pending = append(q.pending, &v)
	}
	q.mu.Unlock()
	q.signal()
}

func (q *Queue[T]) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *Queue[T]) run() {
	defer close(q.done)
	for {
		q.mu.Lock()
		if len(q.pending) == 0 {
			closing := q.closing
			q.mu.Unlock()
			if closing {
				return
			}
			select {
			case <-q.wake:
				continue
			case <-q.stop:
				return
			}
		}
		p := q.pending[0]
		q.pending[0] = nil
		q.pending = q.pending[1:]
		v := *p
		if k, ok := q.key(v); ok && q.latest[k] == p {
			delete(q.latest, k)
		}
		q.mu.Unlock()
		if !q.deliver(v, q.stop) {
			return
		}
	}
}

// Close waits until every queued value is delivered, or until ctx is done,
// in which case the rest is dropped. Nothing is delivered after Close.
func (q *Queue[T]) Close(ctx context.Context) {
	if q == nil {
		return
	}
	q.mu.Lock()
	q.closing = true
	q.mu.Unlock()
	q.signal()
	select {
	case <-q.done:
	case <-ctx.Done():
		close(q.stop)
		<-q.done
	}
}
