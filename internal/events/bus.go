package events

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/internal/errdefs"
)

// Defaults, in one place.
const (
	defaultBufferSize = 1000
	defaultQueueSize  = 1024
)

// Bus fans published events out to subscribers and remembers the last
// ones for replay. The zero value is not usable: call NewBus.
type Bus struct {
	opts options

	mu     sync.Mutex
	ring   []events.Message // the last opts.buffer events, oldest at head
	head   int
	count  int
	subs   map[*subscriber]struct{}
	closed bool
}

type options struct {
	buffer int
	queue  int
	now    func() time.Time
}

// Option configures a Bus.
type Option func(*options)

// WithBufferSize sets how many past events are kept for --since (default
// 1000, as docker).
func WithBufferSize(n int) Option { return func(o *options) { o.buffer = n } }

// WithQueueSize sets how many events may wait for one subscriber before it
// is dropped as too slow (default 1024).
func WithQueueSize(n int) Option { return func(o *options) { o.queue = n } }

// WithClock replaces time.Now for the times Publish fills in (tests).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

func makeOptions(opts []Option) options {
	o := options{buffer: defaultBufferSize, queue: defaultQueueSize, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if o.buffer < 0 {
		o.buffer = 0
	}
	if o.queue < 1 {
		o.queue = 1
	}
	if o.now == nil {
		o.now = time.Now
	}
	return o
}

// NewBus returns an empty bus.
func NewBus(opts ...Option) *Bus {
	o := makeOptions(opts)
	return &Bus{opts: o, ring: make([]events.Message, o.buffer), subs: map[*subscriber]struct{}{}}
}

// subscriber is one Subscribe call's end of the bus.
type subscriber struct {
	filter *Filter
	ch     chan events.Message
	// dropped is closed (once, under Bus.mu) when the queue overflowed or
	// the bus closed; err says which.
	dropped chan struct{}
	err     error
}

// Publish records m and delivers it to every subscriber whose filters
// match. It fills Time and TimeNano when both are zero (and the one that
// is missing otherwise) and Scope ("local") when empty. It never blocks.
func (b *Bus) Publish(m events.Message) {
	switch {
	case m.Time == 0 && m.TimeNano == 0:
		now := b.opts.now()
		m.Time, m.TimeNano = now.Unix(), now.UnixNano()
	case m.TimeNano == 0:
		m.TimeNano = time.Unix(m.Time, 0).UnixNano()
	case m.Time == 0:
		m.Time = time.Unix(0, m.TimeNano).Unix()
	}
	if m.Scope == "" {
		m.Scope = "local"
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	if len(b.ring) > 0 {
		i := (b.head + b.count) % len(b.ring)
		if b.count == len(b.ring) {
			b.head = (b.head + 1) % len(b.ring)
		} else {
			b.count++
		}
		b.ring[i] = m
	}
	for s := range b.subs {
		if !s.filter.Include(m) {
			continue
		}
		select {
		case s.ch <- m:
		default:
			b.dropLocked(s, fmt.Errorf("events: the subscriber fell %d events behind and was dropped: %w", cap(s.ch), errdefs.ErrUnavailable))
		}
	}
}

func (b *Bus) dropLocked(s *subscriber, err error) {
	delete(b.subs, s)
	s.err = err
	close(s.dropped)
}

// Subscribers is how many Subscribe calls are streaming (Info's
// NEventsListener).
func (b *Bus) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Close ends every subscription (their Subscribe returns nil, as at the
// end of a stream) and drops later events: the daemon is going away.
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for s := range b.subs {
		b.dropLocked(s, nil)
	}
}

// Subscribe is GET /events. It sends, through send, the kept events that
// match filters with times in [since, until] (none when both are zero, as
// docker), then, unless until is already past, the live events that match
// until until passes, ctx ends, or send fails. A zero until means no end.
//
// It returns nil at a normal end, send's error if send failed, an error of
// class InvalidParameter for a bad filter or since after until, and one of
// class Unavailable when the subscriber could not keep up and was dropped.
func (b *Bus) Subscribe(ctx context.Context, since, until time.Time, filters map[string][]string, send func(events.Message) error) error {
	f, err := NewFilter(filters)
	if err != nil {
		return err
	}
	if !since.IsZero() && !until.IsZero() && until.Before(since) {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "`since` time (%s) cannot be after `until` time (%s)",
			since.Format(time.RFC3339Nano), until.Format(time.RFC3339Nano))
	}
	now := b.opts.now()
	onlyPast := !until.IsZero() && !until.After(now)

	s := &subscriber{filter: f, ch: make(chan events.Message, b.opts.queue), dropped: make(chan struct{})}
	b.mu.Lock()
	past := b.replayLocked(since, until, f)
	if !onlyPast && !b.closed {
		b.subs[s] = struct{}{}
	} else {
		onlyPast = true
	}
	b.mu.Unlock()
	if !onlyPast {
		defer b.unsubscribe(s)
	}

	for _, m := range past {
		if err := send(m); err != nil {
			return err
		}
	}
	if onlyPast {
		return nil
	}
	var timeout <-chan time.Time
	if !until.IsZero() {
		t := time.NewTimer(until.Sub(now))
		defer t.Stop()
		timeout = t.C
	}
	for {
		// Deliver what is queued before noticing a drop, so a dropped
		// subscriber still gets everything it was sent.
		select {
		case m := <-s.ch:
			if !until.IsZero() && m.TimeNano > until.UnixNano() {
				return nil
			}
			if err := send(m); err != nil {
				return err
			}
			continue
		default:
		}
		select {
		case m := <-s.ch:
			if !until.IsZero() && m.TimeNano > until.UnixNano() {
				return nil
			}
			if err := send(m); err != nil {
				return err
			}
		case <-s.dropped:
			if len(s.ch) > 0 {
				continue
			}
			b.mu.Lock()
			err := s.err
			b.mu.Unlock()
			return err
		case <-timeout:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

func (b *Bus) unsubscribe(s *subscriber) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.subs, s)
}

// replayLocked returns the kept events in [since, until] that f includes,
// oldest first; none when since and until are both zero.
func (b *Bus) replayLocked(since, until time.Time, f *Filter) []events.Message {
	if since.IsZero() && until.IsZero() {
		return nil
	}
	var from, to int64
	if !since.IsZero() {
		from = since.UnixNano()
	}
	if !until.IsZero() {
		to = until.UnixNano()
	}
	var out []events.Message
	for i := 0; i < b.count; i++ {
		m := b.ring[(b.head+i)%len(b.ring)]
		if m.TimeNano < from || (to > 0 && m.TimeNano > to) {
			continue
		}
		if f.Include(m) {
			out = append(out, m)
		}
	}
	return out
}
