package transfer

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"

	"github.com/moby/moby/api/types/jsonstream"
	digest "github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/internal/distribution"
)

// statusExtracting is the unpack's byte-count status (image.ProgressFunc).
const statusExtracting = "Extracting"

// isCount reports whether a message only says how far a transfer got, so
// that a newer one of the same layer and status may replace it unread.
func isCount(m jsonstream.Message) bool {
	switch m.Status {
	case distribution.StatusDownloading, distribution.StatusPushing, statusExtracting:
		return m.ID != ""
	}
	return false
}

// stream is the one progress stream of a call. Producers (the registry
// client's events, the unpack's callback, the call itself) append to a
// queue in the order things happen; one goroutine delivers the queue to
// the channel and the writer, so a slow consumer delays nothing but
// itself. Undelivered byte counts of one layer and status are replaced by
// the newest, which bounds the queue by layers times statuses.
type stream struct {
	ch chan<- jsonstream.Message
	w  io.Writer

	mu      sync.Mutex
	queue   []*jsonstream.Message
	counts  map[string]*jsonstream.Message
	closing bool
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

// newStream starts delivering to o's channel and writer; with neither, it
// returns nil, which drops everything.
func newStream(o *options) *stream {
	if o.progressCh == nil && o.progressW == nil {
		return nil
	}
	s := &stream{
		ch:     o.progressCh,
		w:      o.progressW,
		counts: map[string]*jsonstream.Message{},
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go s.run()
	return s
}

// send queues m; it never blocks.
func (s *stream) send(m jsonstream.Message) {
	if s == nil {
		return
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return
	}
	if isCount(m) {
		key := m.ID + "\x00" + m.Status
		if q, ok := s.counts[key]; ok {
			*q = m
			s.mu.Unlock()
			return
		}
		q := &m
		s.counts[key] = q
		s.queue = append(s.queue, q)
	} else {
		s.queue = append(s.queue, &m)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *stream) run() {
	defer close(s.done)
	var enc *json.Encoder
	if s.w != nil {
		enc = json.NewEncoder(s.w)
	}
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return
			}
			select {
			case <-s.wake:
				continue
			case <-s.stop:
				return
			}
		}
		q := s.queue[0]
		s.queue[0] = nil
		s.queue = s.queue[1:]
		if isCount(*q) && s.counts[q.ID+"\x00"+q.Status] == q {
			delete(s.counts, q.ID+"\x00"+q.Status)
		}
		m := *q
		s.mu.Unlock()
		if enc != nil {
			// A client that went away fails the write; the transfer goes
			// on (docker finishes a pull whose client disconnected), and
			// the channel, if any, still gets everything.
			if err := enc.Encode(m); err == nil {
				if f, ok := s.w.(http.Flusher); ok {
					f.Flush()
				}
			}
		}
		if s.ch != nil {
			select {
			case s.ch <- m:
			case <-s.stop:
				return
			}
		}
	}
}

// close delivers what is queued and stops, or drops the rest once ctx is
// done. Nothing sent after close is delivered.
func (s *stream) close(ctx context.Context) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	select {
	case <-s.done:
	case <-ctx.Done():
		close(s.stop)
		<-s.done
	}
}

// fromDistribution renders a registry client event as docker's daemon
// does: layer events and the push result carry a progressDetail, with
// byte counts only while bytes move; image lines carry none.
func fromDistribution(p distribution.Progress) jsonstream.Message {
	m := jsonstream.Message{ID: p.ID, Status: p.Status}
	if p.Digest != "" || p.Aux != nil {
		m.Progress = &jsonstream.Progress{}
		if p.Status == distribution.StatusDownloading || p.Status == distribution.StatusPushing {
			m.Progress.Current, m.Progress.Total = p.Current, p.Total
		}
	}
	if p.Aux != nil {
		if b, err := json.Marshal(p.Aux); err == nil {
			raw := json.RawMessage(b)
			m.Aux = &raw
		}
	}
	return m
}

// downloads tells the layer hook when the stream has shown a layer's
// download as finished, so that its "Extracting" never comes first: the
// registry client delivers its events from its own goroutine, a little
// after the fact, while the unpack would start at once.
type downloads struct {
	mu   sync.Mutex
	done map[digest.Digest]chan struct{}
}

func newDownloads() *downloads { return &downloads{done: map[digest.Digest]chan struct{}{}} }

func (d *downloads) chanLocked(dg digest.Digest) chan struct{} {
	c, ok := d.done[dg]
	if !ok {
		c = make(chan struct{})
		d.done[dg] = c
	}
	return c
}

// finished returns a channel closed once dg's download is shown done.
func (d *downloads) finished(dg digest.Digest) <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.chanLocked(dg)
}

// mark records that dg's download is shown done.
func (d *downloads) mark(dg digest.Digest) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.chanLocked(dg)
	select {
	case <-c:
	default:
		close(c)
	}
}

// forward turns the registry client's events into stream messages until
// events is closed, marking finished downloads on the way; the returned
// channel is closed when it is done.
func forward(events <-chan distribution.Progress, s *stream, d *downloads) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for p := range events {
			s.send(fromDistribution(p))
			if d != nil && p.Digest != "" && (p.Status == distribution.StatusDownloadComplete || p.Status == distribution.StatusAlreadyExists) {
				d.mark(p.Digest)
			}
		}
	}()
	return done
}
