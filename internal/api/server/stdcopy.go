package server

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
)

// The stream ids of docker's multiplexed ("stdcopy") framing: each frame
// is an 8-byte header — the stream id, three zero bytes, the payload size
// as a big-endian uint32 — then the payload.
const (
	streamStdin     = 0
	streamStdout    = 1
	streamStderr    = 2
	streamSystemErr = 3
)

// maxFramePayload splits large writes, so one frame never needs a huge
// buffer on the reading side.
const maxFramePayload = 1 << 20

// muxWriter writes frames of several streams onto one connection; a mutex
// keeps each frame whole when stdout and stderr are written from
// different goroutines.
type muxWriter struct {
	mu sync.Mutex
	w  io.Writer
	// after is called after each frame (a flush, for HTTP responses).
	after func()
}

// stream returns the writer of one stream id.
func (m *muxWriter) stream(id byte) io.Writer { return &streamWriter{m: m, id: id} }

type streamWriter struct {
	m  *muxWriter
	id byte
}

// Write sends p as frames and reports len(p), the payload, as written.
func (s *streamWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		chunk := p
		if len(chunk) > maxFramePayload {
			chunk = chunk[:maxFramePayload]
		}
		if err := s.m.frame(s.id, chunk); err != nil {
			return written, err
		}
		written += len(chunk)
		p = p[len(chunk):]
	}
	return written, nil
}

func (m *muxWriter) frame(id byte, payload []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var hdr [8]byte
	hdr[0] = id
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(payload)))
	// One writev on a connection; two buffered writes on a response.
	bufs := net.Buffers{hdr[:], payload}
	if _, err := bufs.WriteTo(m.w); err != nil {
		return err
	}
	if m.after != nil {
		m.after()
	}
	return nil
}

// lockedWriter serializes writes (the raw stream of a terminal, which the
// server may also write an error to).
type lockedWriter struct {
	mu    sync.Mutex
	w     io.Writer
	after func()
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.w.Write(p)
	if l.after != nil {
		l.after()
	}
	return n, err
}
