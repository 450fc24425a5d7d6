package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/moby/moby/api/types"
)

// closeGrace is how long a finished stream waits for the client to close
// its side before the server closes the connection: closing with unread
// input would reset the connection and could lose the output's end.
const closeGrace = 5 * time.Second

// hijack turns a request into a raw bidirectional stream when the backend
// is ready for it (attach, exec start): the HTTP response becomes a status
// line and headers written by hand, then the process's output; the
// client's input becomes the process's stdin.
type hijack struct {
	w       http.ResponseWriter
	r       *request
	cancel  context.CancelFunc // ends the backend's context: the client hung up
	upgrade bool

	mu     sync.Mutex
	conn   net.Conn
	out    io.Writer // raw output, serialized
	errOut io.Writer // where the server writes an error after the hijack
	stdinR *io.PipeReader
	// stopping is closed when the server shuts down.
	stopping chan struct{}
	release  func()
	eof      chan struct{} // closed when the client's input ended
	untrack  func()
}

// newHijack prepares a hijack of r; ctx is the context to hand the
// backend: it ends when the client hangs up (or the request ends).
func newHijack(w http.ResponseWriter, r *request) (*hijack, context.Context) {
	// Once hijacked, the request's context is no guide: net/http cancels
	// it as soon as the client's input ends, which for a half-close is
	// not the end of the stream. Until then, it is.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.ctx()))
	_, upgrade := r.Header["Upgrade"]
	h := &hijack{w: w, r: r, cancel: cancel, upgrade: upgrade, stopping: make(chan struct{})}
	stopReq := context.AfterFunc(r.ctx(), func() {
		if !h.hijacked() {
			cancel()
		}
	})
	stopServe := func() bool { return false }
	if st := stateFrom(r.ctx()); st != nil {
		stopServe = context.AfterFunc(st.streams, func() {
			close(h.stopping)
			cancel()
		})
	}
	h.release = func() {
		stopReq()
		stopServe()
		cancel()
	}
	return h, ctx
}

// streams is the Streams func handed to the backend: it takes the
// connection over, answers 101 (or 200 for clients that did not ask to
// upgrade, as dockerd does) and returns the stream ends.
func (h *hijack) streams(tty bool) (Streams, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.conn != nil {
		return Streams{}, errors.New("connection already hijacked")
	}
	contentType := types.MediaTypeRawStream
	if !tty && !h.r.olderThan("1.42") {
		contentType = types.MediaTypeMultiplexedStream
	}
	conn, brw, err := http.NewResponseController(h.w).Hijack()
	if err != nil {
		// Only a server that cannot hijack (HTTP/2, a test recorder) gets
		// here: the request cannot be served over it.
		return Streams{}, invalidf("cannot hijack the connection for a stream: %v", err)
	}
	_ = conn.SetDeadline(time.Time{})
	h.conn = conn
	h.untrack = stateFrom(h.r.ctx()).track(conn)

	status := "HTTP/1.1 101 UPGRADED\r\nContent-Type: " + contentType + "\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
	if !h.upgrade {
		status = "HTTP/1.1 200 OK\r\nContent-Type: " + types.MediaTypeRawStream + "\r\n"
	}
	hdr := h.w.Header().Clone()
	hdr.Del("Content-Type")
	var head []byte
	head = append(head, status...)
	for _, k := range []string{"Api-Version", "Docker-Experimental", "Ostype", "Server"} {
		if v := hdr.Get(k); v != "" {
			head = append(head, k+": "+v+"\r\n"...)
		}
	}
	head = append(head, "\r\n"...)
	if _, err := conn.Write(head); err != nil {
		return Streams{}, fmt.Errorf("write response header: %w", err)
	}

	pr, pw := io.Pipe()
	h.stdinR = pr
	h.eof = make(chan struct{})
	go h.pumpInput(brw.Reader, pw)

	var s Streams
	s.Stdin = pr
	if tty {
		raw := &lockedWriter{w: conn}
		h.out, h.errOut = raw, raw
		s.Stdout = raw
	} else {
		mux := &muxWriter{w: conn}
		s.Stdout, s.Stderr = mux.stream(streamStdout), mux.stream(streamStderr)
		h.out, h.errOut = s.Stdout, s.Stderr
	}
	return s, nil
}

// pumpInput copies the client's input to stdin. When the input ends (the
// client closed its writing side, as the docker CLI does as soon as its
// stdin ends, or closed the connection), stdin gets EOF; then only a full
// hang-up ends the stream early (see waitHangup).
func (h *hijack) pumpInput(src *bufio.Reader, stdin *io.PipeWriter) {
	buf := make([]byte, 32<<10)
	discard := false
	for {
		n, err := src.Read(buf)
		if n > 0 && !discard {
			if _, werr := stdin.Write(buf[:n]); werr != nil {
				// The backend closed stdin; keep reading to see the end.
				discard = true
			}
		}
		if err != nil {
			_ = stdin.Close()
			close(h.eof)
			if errors.Is(err, io.EOF) {
				if waitHangup(h.conn) {
					h.cancel()
				}
			} else {
				h.cancel()
			}
			return
		}
	}
}

// hijacked reports whether the backend took the connection over.
func (h *hijack) hijacked() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.conn != nil
}

// finish ends a hijacked stream: an error the backend returned after the
// hijack goes into the stream, the writing side is closed so the client
// reads the end, and the connection is closed once the client closes its
// side (or after a grace period).
func (h *hijack) finish(err error, prefix string) {
	defer h.release()
	h.mu.Lock()
	conn := h.conn
	h.mu.Unlock()
	if conn == nil {
		return
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(h.errOut, "%s%v\r\n", prefix, err)
	}
	_ = h.stdinR.Close()
	if cw, ok := conn.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		select {
		case <-h.eof:
		case <-time.After(closeGrace):
		case <-h.stopping:
		}
	}
	_ = conn.Close()
	h.untrack()
}
