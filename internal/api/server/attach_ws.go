package server

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/net/websocket"

	"github.com/berth-project/berth/internal/errdefs"
)

// The websocket form of attach, GET /containers/{name}/attach/ws, as
// dockerd serves it: the container's raw output (never stdcopy-framed)
// goes to the client in websocket messages, one per write, stdout and
// stderr in the same messages when the container has no terminal; the
// client's messages are the container's stdin. Messages are binary from
// API 1.28 on and text before (docker's API history, v1.28). The stdin,
// stdout and stderr parameters count from API 1.42 on; before, dockerd
// read none of them and attached all three, and so does Berth.
//
// Any Origin is accepted, as dockerd accepts any: the API has no cookies
// or ambient credentials a web page could borrow, a browser cannot reach
// the unix socket, and the TCP socket requires a TLS client certificate
// (--tlsverify), which a page cannot present on someone's behalf.

// Close codes of RFC 6455, section 7.4.1.
const (
	wsCloseNormal        = 1000
	wsCloseInternalError = 1011
)

// maxCloseReason is what fits in a close frame (125 bytes of payload)
// after its 2-byte status code.
const maxCloseReason = 123

// getContainerAttachWS attaches over a websocket. Like the hijacked
// attach, it calls the backend first so that a missing container (or bad
// detach keys) is an ordinary HTTP error; the backend then calls
// streams, which checks the handshake and upgrades.
func (s *Server) getContainerAttachWS(w http.ResponseWriter, r *request) error {
	name, err := r.container()
	if err != nil {
		return err
	}
	a, ctx := newWSAttach(w, r)
	opts := AttachOptions{
		Stdin:      true,
		Stdout:     true,
		Stderr:     true,
		Logs:       r.boolValue("logs"),
		Stream:     r.boolValue("stream"),
		DetachKeys: r.query.Get("detachKeys"),
		Streams:    a.streams,
	}
	if !r.olderThan("1.42") {
		opts.Stdin, opts.Stdout, opts.Stderr = r.boolValue("stdin"), r.boolValue("stdout"), r.boolValue("stderr")
	}
	a.discardInput = !opts.Stdin
	err = s.backend.ContainerAttach(ctx, name, opts)
	if !a.upgraded() {
		a.release()
		if a.hijacked() {
			// The websocket library refused the handshake and answered
			// the client itself.
			s.log.Debug("websocket attach: handshake failed", "container", name, "error", err)
			return nil
		}
		if err == nil {
			return errors.New("attach ended without taking the connection over")
		}
		return err
	}
	if err != nil && ctx.Err() == nil {
		s.log.Debug("websocket attach ended with an error", "container", name, "error", err)
	}
	a.finish(err)
	return nil
}

// wsAttach is one websocket attach: the upgrade, the pump of the client's
// messages into stdin, and the close.
type wsAttach struct {
	w            http.ResponseWriter
	r            *request
	cancel       context.CancelFunc // ends the backend's context
	discardInput bool               // no stdin asked: read messages only to see the close
	stopping     chan struct{}      // closed when the server shuts down
	release      func()

	mu      sync.Mutex
	raw     net.Conn        // the hijacked connection, once taken
	conn    *websocket.Conn // the websocket, once the handshake is done
	untrack func()
	stdinR  *io.PipeReader
	eof     chan struct{} // closed when the client's side ended
	done    chan struct{} // closed to let the websocket handler return
	served  chan struct{} // closed when the websocket server returned
}

// newWSAttach prepares an attach of r; ctx is the backend's context, which
// ends when the client goes away, closes the websocket, or the server
// shuts down.
func newWSAttach(w http.ResponseWriter, r *request) (*wsAttach, context.Context) {
	// As for the hijacked attach: once the connection is ours, the
	// request's context no longer says whether the client is there.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.ctx()))
	a := &wsAttach{w: w, r: r, cancel: cancel, stopping: make(chan struct{}),
		eof: make(chan struct{}), done: make(chan struct{}), served: make(chan struct{})}
	stopReq := context.AfterFunc(r.ctx(), func() {
		if !a.hijacked() {
			cancel()
		}
	})
	stopServe := func() bool { return false }
	if st := stateFrom(r.ctx()); st != nil {
		stopServe = context.AfterFunc(st.streams, func() {
			close(a.stopping)
			cancel()
		})
	}
	a.release = func() {
		stopReq()
		stopServe()
		cancel()
	}
	return a, ctx
}

func (a *wsAttach) hijacked() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.raw != nil
}

func (a *wsAttach) upgraded() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.conn != nil
}

// streams is the Streams func handed to the backend: it checks the
// handshake (a plain request is a 400 still), takes the connection over,
// completes the handshake and returns the websocket as the stream ends.
// tty does not matter: the output is raw either way.
func (a *wsAttach) streams(tty bool) (Streams, error) {
	if err := checkWebsocketHandshake(a.w, a.r); err != nil {
		return Streams{}, err
	}
	a.mu.Lock()
	if a.raw != nil {
		a.mu.Unlock()
		return Streams{}, errors.New("connection already hijacked")
	}
	raw, brw, err := http.NewResponseController(a.w).Hijack()
	if err != nil {
		a.mu.Unlock()
		// Only a server that cannot hijack (HTTP/2, a test recorder) gets
		// here.
		return Streams{}, invalidf("cannot hijack the connection for a websocket: %v", err)
	}
	// net/http's header deadline must not end a long attach.
	_ = raw.SetDeadline(time.Time{})
	a.raw = raw
	a.untrack = stateFrom(a.r.ctx()).track(raw)
	a.mu.Unlock()

	conns := make(chan *websocket.Conn)
	srv := websocket.Server{
		Config:    websocket.Config{Header: a.responseHeader()},
		Handshake: acceptWebsocket,
		Handler: func(c *websocket.Conn) {
			conns <- c
			<-a.done
		},
	}
	go func() {
		defer close(a.served)
		// The library closes the connection when the handler returns.
		srv.ServeHTTP(hijackedWriter{conn: raw, brw: brw}, a.r.Request)
	}()
	var conn *websocket.Conn
	select {
	case conn = <-conns:
	case <-a.served:
		a.untrack()
		return Streams{}, invalidf("websocket handshake failed")
	}
	conn.PayloadType = websocket.BinaryFrame
	if a.r.olderThan("1.28") {
		conn.PayloadType = websocket.TextFrame
	}
	pr, pw := io.Pipe()
	a.mu.Lock()
	a.conn, a.stdinR = conn, pr
	a.mu.Unlock()
	go a.pumpInput(conn, pw)
	return Streams{Stdin: pr, Stdout: conn, Stderr: conn}, nil
}

// responseHeader is the API's own headers (version, server), which every
// other response carries too, for the 101.
func (a *wsAttach) responseHeader() http.Header {
	h := http.Header{}
	for _, k := range []string{"Api-Version", "Docker-Experimental", "Ostype", "Server"} {
		if v := a.w.Header().Get(k); v != "" {
			h.Set(k, v)
		}
	}
	return h
}

// pumpInput copies the client's messages to stdin. Their end (a close
// message, or the connection gone) ends the attach: a websocket has no
// half-close, so a client that closes wants no more output either. When
// the backend takes no stdin although the client asked for it (a
// container without OpenStdin), a message blocks the pump until the
// attach ends otherwise, as with the hijacked attach.
func (a *wsAttach) pumpInput(conn *websocket.Conn, stdin *io.PipeWriter) {
	buf := make([]byte, 32<<10)
	discard := a.discardInput
	for {
		n, err := conn.Read(buf)
		if n > 0 && !discard {
			if _, werr := stdin.Write(buf[:n]); werr != nil {
				// The backend closed stdin; keep reading to see the end.
				discard = true
			}
		}
		if err != nil {
			_ = stdin.Close()
			close(a.eof)
			a.cancel()
			return
		}
	}
}

// finish ends an upgraded attach: a close message (1011 with the error
// when the backend failed after the upgrade, as the hijacked attach writes
// it into its stream), then, once the client answered the close or after
// a grace period, the connection is closed.
func (a *wsAttach) finish(err error) {
	defer a.release()
	code, reason := wsCloseNormal, ""
	if err != nil && !errors.Is(err, context.Canceled) {
		code, reason = wsCloseInternalError, "Error attaching: "+errdefs.Message(err)
	}
	_ = a.stdinR.Close()
	// The client may be gone already; then there is no one to tell.
	_ = writeWebsocketClose(a.conn, code, reason)
	select {
	case <-a.eof:
	case <-time.After(closeGrace):
	case <-a.stopping:
	}
	close(a.done)
	<-a.served
	a.untrack()
}

// writeWebsocketClose sends a close message with a status code and a
// reason cut to what a control frame holds (at a rune boundary: the
// reason must stay UTF-8).
func writeWebsocketClose(conn *websocket.Conn, code int, reason string) error {
	if len(reason) > maxCloseReason {
		cut := maxCloseReason
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut]
	}
	payload := binary.BigEndian.AppendUint16(nil, uint16(code))
	payload = append(payload, reason...)
	closeMsg := websocket.Codec{Marshal: func(any) ([]byte, byte, error) {
		return payload, websocket.CloseFrame, nil
	}}
	return closeMsg.Send(conn, nil)
}

// checkWebsocketHandshake answers, before anything is hijacked, a request
// the websocket library would refuse, with a message that says why (the
// library's own answers are terse). The checks are the handshake's
// requirements in RFC 6455, section 4.2.1.
func checkWebsocketHandshake(w http.ResponseWriter, r *request) error {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || !headerHasToken(r.Header, "Connection", "upgrade") {
		return invalidf("%s is a websocket endpoint: the request must ask to upgrade to a websocket (Connection: Upgrade, Upgrade: websocket); POST /containers/{id}/attach serves plain HTTP clients", r.URL.Path)
	}
	if r.Header.Get("Sec-WebSocket-Key") == "" {
		return invalidf("websocket handshake without a Sec-WebSocket-Key header")
	}
	if v := r.Header.Get("Sec-WebSocket-Version"); v != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		return invalidf("unsupported websocket version %q: only version 13 (RFC 6455) is supported", v)
	}
	return nil
}

// headerHasToken reports whether a comma-separated header holds token
// (any case), as "Connection: keep-alive, Upgrade" does "upgrade".
func headerHasToken(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), token) {
				return true
			}
		}
	}
	return false
}

// acceptWebsocket is the handshake's policy: any origin (see the top of
// this file), and of the subprotocols a client offers, the first, since
// the stream means the same whatever the client calls it (the library
// would refuse an offer of several).
func acceptWebsocket(cfg *websocket.Config, _ *http.Request) error {
	if len(cfg.Protocol) > 1 {
		cfg.Protocol = cfg.Protocol[:1]
	}
	return nil
}

// hijackedWriter hands the websocket library a connection the server has
// already taken over: hijacking first lets a failure be an ordinary error
// (the library panics on one) and keeps the connection tracked for
// shutdown.
type hijackedWriter struct {
	conn net.Conn
	brw  *bufio.ReadWriter
}

func (h hijackedWriter) Header() http.Header       { return http.Header{} }
func (h hijackedWriter) Write([]byte) (int, error) { return 0, http.ErrHijacked }
func (h hijackedWriter) WriteHeader(int)           {}
func (h hijackedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return h.conn, h.brw, nil
}
