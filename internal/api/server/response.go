package server

import (
	"bufio"
	"net"
	"net/http"
)

// response records what was sent, so the middleware knows whether an error
// can still become a status code, and what to log. It passes Flush and
// Hijack through (and Unwrap, for http.ResponseController).
type response struct {
	http.ResponseWriter
	status   int
	written  int64
	hijacked bool
}

func (w *response) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *response) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.written += int64(n)
	return n, err
}

// started reports whether the status line is gone, so errors can no
// longer be reported as a status.
func (w *response) started() bool { return w.status != 0 || w.hijacked }

func (w *response) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return conn, brw, err
}

func (w *response) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// flush sends what has been written so far to the client.
func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// noContent answers 204 once the backend call succeeded, or passes its
// error on: the shape of every action endpoint without a body.
func noContent(w http.ResponseWriter, err error) error {
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
