package transfer

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/moby/moby/api/types/jsonstream"
	digest "github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/internal/coalesce"
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
// client's events, the unpack's callback, the call itself) send in the
// order things happen; one goroutine delivers to the channel and the
// writer, so a slow consumer delays nothing but itself. Undelivered byte
// counts of one layer and status are replaced by the newest, which bounds
// the queue by layers times statuses. A nil stream drops everything.
type stream = coalesce.Queue[jsonstream.Message]

// newStream starts delivering to o's channel and writer; with neither, it
// returns nil.
func newStream(o *options) *stream {
	if o.progressCh == nil && o.progressW == nil {
		return nil
	}
	ch, w := o.progressCh, o.progressW
	var enc *json.Encoder
	if w != nil {
		enc = json.NewEncoder(w)
	}
	return coalesce.New(countKey, func(m jsonstream.Message, stop <-chan struct{}) bool {
		if enc != nil {
			// A client that went away fails the write; the transfer goes
			// on (docker finishes a pull whose client disconnected), and
			// the channel, if any, still gets everything.
			if err := enc.Encode(m); err == nil {
				if f, ok := w.(http.Flusher); ok {
					f.Flush()
				}
			}
		}
		if ch == nil {
			return true
		}
		select {
		case ch <- m:
			return true
		case <-stop:
			return false
		}
	})
}

// countKey keys the messages that only say how far a transfer got, so that
// a newer one of the same layer and status may replace it unread.
func countKey(m jsonstream.Message) (string, bool) {
	return m.ID + "\x00" + m.Status, isCount(m)
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
			s.Send(fromDistribution(p))
			if d != nil && p.Digest != "" && (p.Status == distribution.StatusDownloadComplete || p.Status == distribution.StatusAlreadyExists) {
				d.mark(p.Digest)
			}
		}
	}()
	return done
}
