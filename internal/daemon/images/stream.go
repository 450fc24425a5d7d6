package images

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"

	"github.com/moby/moby/api/types/jsonstream"

	"github.com/berth-project/berth/internal/errdefs"
)

// stream is the JSON message stream of one request (pull, push, import,
// load). It remembers whether anything was written, because that decides
// how an error is reported: before the first byte the server can still
// answer with a status code; after, only a message in the stream can say
// it (docker's {"errorDetail":{"message":...},"error":...}).
type stream struct {
	mu      sync.Mutex
	w       io.Writer
	enc     *json.Encoder
	written bool
}

func newStream(w io.Writer) *stream {
	s := &stream{w: w}
	s.enc = json.NewEncoder(writerFunc(s.write))
	return s
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// write is the raw writer under the encoder and under the transfer
// package's own encoder (Write); callers hold no lock: one JSON line is
// one Write.
func (s *stream) write(b []byte) (int, error) {
	if s.w == nil {
		return len(b), nil
	}
	s.written = true
	n, err := s.w.Write(b)
	if f, ok := s.w.(http.Flusher); ok {
		f.Flush()
	}
	return n, err
}

// Write lets the stream be the io.Writer handed to the transfer package.
func (s *stream) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.write(b)
}

// Flush is there so writers that look for http.Flusher find one; every
// write is flushed already.
func (s *stream) Flush() {}

// send writes one message. A client that went away fails the write; the
// operation goes on, as docker's does.
func (s *stream) send(m jsonstream.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.enc.Encode(m)
}

// fail reports err as the contract of the backend says: written into the
// stream if the stream started, and returned either way.
func (s *stream) fail(err error) error {
	if err == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.written {
		msg := errdefs.Message(err)
		_ = s.enc.Encode(errorMessage{Error: &jsonstream.Error{Message: msg}, ErrorMsg: msg})
	}
	return err
}

// errorMessage is docker's error line: errorDetail for current clients,
// error for old ones.
type errorMessage struct {
	Error    *jsonstream.Error `json:"errorDetail,omitempty"`
	ErrorMsg string            `json:"error,omitempty"`
}
