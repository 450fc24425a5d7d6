package distribution

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/moby/moby/api/types/jsonstream"
	digest "github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/internal/coalesce"
	"github.com/berth-project/berth/internal/errdefs"
)

// The statuses of a blob's progress, as docker's daemon words them (the
// docker CLI renders them by these exact strings).
const (
	StatusPullingFSLayer   = "Pulling fs layer"
	StatusWaiting          = "Waiting"
	StatusDownloading      = "Downloading"
	StatusVerifying        = "Verifying Checksum"
	StatusDownloadComplete = "Download complete"
	StatusAlreadyExists    = "Already exists"
	StatusPreparing        = "Preparing"
	StatusPushing          = "Pushing"
	StatusLayerExists      = "Layer already exists"
	StatusPushed           = "Pushed"
	// A mount is "Mounted from " + the source repository.
	statusMountedFrom = "Mounted from "
)

// Progress is one event of a pull or push, in the shape of a line of the
// Engine API's JSON stream (moby's jsonmessage):
//
//   - per layer: ID is the first 12 hex digits of the layer's digest,
//     Status one of the Status constants, Current/Total the bytes for
//     "Downloading" and "Pushing";
//   - per image: ID is the tag (or digest) for "Pulling from <repo>", empty
//     for the closing "Digest: …" and "Status: …" lines of a pull and the
//     "<tag>: digest: … size: …" line of a push;
//   - Aux carries the push result ({"Tag","Digest","Size"}), as docker's.
//
// A layer's events arrive in order: "Pulling fs layer", ["Waiting"],
// "Downloading"…, "Verifying Checksum", "Download complete"; or "Already
// exists" alone. A push: "Preparing", ["Waiting"], then "Layer already
// exists", "Mounted from <repo>", or "Pushing"… "Pushed".
type Progress struct {
	ID      string
	Status  string
	Current int64
	Total   int64
	// Digest is the full digest of the layer, for callers that track
	// layers (not rendered).
	Digest digest.Digest `json:"-"`
	Aux    any
}

// PushAux is the Aux of a push's last event, as docker's.
type PushAux struct {
	Tag    string
	Digest string
	Size   int64
}

// progressSink delivers events to the caller's channel from its own
// goroutine, so a transfer never waits on a slow consumer. Undelivered
// byte-count events of one ID are replaced by the newest, which bounds the
// queue by the number of blobs times the number of statuses. A nil sink
// drops everything.
type progressSink = coalesce.Queue[Progress]

func newProgressSink(out chan<- Progress) *progressSink {
	if out == nil {
		return nil
	}
	return coalesce.New(byteCountKey, func(p Progress, stop <-chan struct{}) bool {
		select {
		case out <- p:
			return true
		case <-stop:
			return false
		}
	})
}

// byteCountKey keys the events that only say how many bytes moved.
func byteCountKey(p Progress) (string, bool) {
	return p.ID, p.Status == StatusDownloading || p.Status == StatusPushing
}

// Rate limit of byte-count events: one per this many bytes or this much
// time, whichever comes first (and always the first and the last).
const (
	progressEveryBytes = 512 << 10
	progressEveryTime  = 100 * time.Millisecond
)

// byteCounter reports the bytes of one blob as "Downloading"/"Pushing"
// events, rate-limited.
type byteCounter struct {
	sink      *progressSink
	id        string
	status    string
	dgst      digest.Digest
	total     int64
	current   int64
	lastBytes int64
	lastTime  time.Time
}

func (c *byteCounter) add(n int64) {
	if c == nil {
		return
	}
	c.current += n
	now := time.Now()
	if c.current-c.lastBytes < progressEveryBytes && now.Sub(c.lastTime) < progressEveryTime && c.current < c.total {
		return
	}
	c.emit(now)
}

// set restarts the count at n (a resumed or restarted transfer).
func (c *byteCounter) set(n int64) {
	if c == nil {
		return
	}
	c.current = n
	c.emit(time.Now())
}

func (c *byteCounter) emit(now time.Time) {
	c.lastBytes, c.lastTime = c.current, now
	c.sink.Send(Progress{ID: c.id, Status: c.status, Current: c.current, Total: c.total, Digest: c.dgst})
}

// say sends a status without counts for the blob.
func (c *byteCounter) say(s string) {
	if c == nil {
		return
	}
	c.sink.Send(Progress{ID: c.id, Status: s, Digest: c.dgst})
}

// countingReader counts what is read through it.
type countingReader struct {
	r io.Reader
	c *byteCounter
}

func (r countingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.c.add(int64(n))
	}
	return n, err
}

// JSONMessageWriter renders progress as the Engine API's JSON stream (one
// JSON object per line, as POST /images/create and /images/{name}/push
// answer), flushing after each line when the writer is an http.Flusher.
// It is safe for concurrent use.
type JSONMessageWriter struct {
	mu  sync.Mutex
	enc *json.Encoder
	w   io.Writer
}

// NewJSONMessageWriter returns a JSONMessageWriter writing to w.
func NewJSONMessageWriter(w io.Writer) *JSONMessageWriter {
	return &JSONMessageWriter{enc: json.NewEncoder(w), w: w}
}

// jsonMessage is jsonstream.Message plus the "error" string that older
// clients (docker-py, docker CLI before 1.9's errorDetail) read.
type jsonMessage struct {
	Status   string               `json:"status,omitempty"`
	Progress *jsonstream.Progress `json:"progressDetail,omitempty"`
	ID       string               `json:"id,omitempty"`
	Error    *jsonstream.Error    `json:"errorDetail,omitempty"`
	ErrorMsg string               `json:"error,omitempty"`
	Aux      any                  `json:"aux,omitempty"`
}

// Write renders one event. Layer events (those with a Digest) and the
// push result carry a progressDetail, empty unless bytes are counted, as
// docker's do; image lines ("Pulling from", "Digest:", "Status:") do not.
func (w *JSONMessageWriter) Write(p Progress) error {
	m := jsonMessage{Status: p.Status, ID: p.ID, Aux: p.Aux}
	if p.Digest != "" || p.Aux != nil {
		m.Progress = &jsonstream.Progress{}
		if p.Status == StatusDownloading || p.Status == StatusPushing {
			m.Progress.Current, m.Progress.Total = p.Current, p.Total
		}
	}
	return w.encode(m)
}

// WriteError renders a failure as the stream's last line, which the docker
// CLI prints and turns into a non-zero exit.
func (w *JSONMessageWriter) WriteError(err error) error {
	msg := errdefs.Message(err)
	return w.encode(jsonMessage{Error: &jsonstream.Error{Message: msg}, ErrorMsg: msg})
}

func (w *JSONMessageWriter) encode(m jsonMessage) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.enc.Encode(m); err != nil {
		return err
	}
	if f, ok := w.w.(http.Flusher); ok {
		f.Flush()
	}
	return nil
}
