package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"sync"
	"time"
)

// Server serves the Docker Engine API over a Backend.
type Server struct {
	backend Backend
	cfg     settings
	log     *slog.Logger
	router  *router
}

// New returns a server for backend; see the With* options for defaults.
func New(backend Backend, opts ...Option) *Server {
	cfg := defaults()
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.cgroupUnified == nil {
		unified := hostCgroupUnified()
		cfg.cgroupUnified = &unified
	}
	s := &Server{backend: backend, cfg: cfg, log: cfg.logger}
	s.router = newRouter(s.routes())
	return s
}

// routes is every endpoint, in matching order: fixed paths before the
// patterns with a greedy image name that could also match them.
func (s *Server) routes() []route {
	var all []route
	all = append(all, s.systemRoutes()...)
	all = append(all, s.containerRoutes()...)
	all = append(all, s.execRoutes()...)
	all = append(all, s.imageRoutes()...)
	all = append(all, s.networkRoutes()...)
	all = append(all, s.volumeRoutes()...)
	all = append(all, s.archiveRoutes()...)
	all = append(all, s.changesRoutes()...)
	all = append(all, s.exportRoutes()...)
	all = append(all, s.commitRoutes()...)
	all = append(all, s.placeholderRoutes()...)
	return all
}

// Handler returns the API as an http.Handler (for httptest, or a caller's
// own http.Server); Serve adds graceful shutdown on top of it.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// serveState is what one Serve call shares with its requests: the signal
// that ends streams at shutdown, and the hijacked connections that
// http.Server no longer tracks.
type serveState struct {
	streams  context.Context
	mu       sync.Mutex
	hijacked map[net.Conn]struct{}
	closed   bool
	handlers sync.WaitGroup
}

type serveStateKey struct{}

func stateFrom(ctx context.Context) *serveState {
	st, _ := ctx.Value(serveStateKey{}).(*serveState)
	return st
}

// track registers a hijacked connection until the returned func is
// called; once shutdown has begun it closes the connection at once.
func (st *serveState) track(c net.Conn) (untrack func()) {
	if st == nil {
		return func() {}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		_ = c.Close()
		return func() {}
	}
	st.hijacked[c] = struct{}{}
	return func() {
		st.mu.Lock()
		delete(st.hijacked, c)
		st.mu.Unlock()
	}
}

func (st *serveState) closeHijacked() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.closed = true
	for c := range st.hijacked {
		_ = c.Close()
	}
}

// Serve serves the API on l until ctx ends, then shuts down gracefully:
// streams (follow logs, events, wait, stats) end at once, requests in
// flight get the shutdown timeout, hijacked connections are closed. It
// returns nil after a shutdown, or the error that stopped serving.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	streams, stopStreams := context.WithCancel(context.Background())
	defer stopStreams()
	st := &serveState{streams: streams, hijacked: map[net.Conn]struct{}{}}
	srv := &http.Server{
		Handler: s.Handler(),
		BaseContext: func(net.Listener) context.Context {
			return context.WithValue(context.Background(), serveStateKey{}, st)
		},
		// Slow clients may not hold connections open before their request
		// is even read; responses themselves stream without a deadline.
		ReadHeaderTimeout: time.Minute,
		IdleTimeout:       5 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()

	select {
	case err := <-served:
		stopStreams()
		st.closeHijacked()
		return err
	case <-ctx.Done():
	}
	stopStreams()
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		s.log.Warn("api server: requests still running at shutdown", "error", err)
		_ = srv.Close()
	}
	st.closeHijacked()
	done := make(chan struct{})
	go func() { st.handlers.Wait(); close(done) }()
	select {
	case <-done:
	case <-sctx.Done():
		s.log.Warn("api server: handlers still running after hijacked connections closed")
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// serveHTTP is the middleware chain: common headers, panic recovery,
// routing, version check, the handler, error mapping, request logging.
func (s *Server) serveHTTP(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	w := &response{ResponseWriter: rw}
	st := stateFrom(r.Context())
	if st != nil {
		st.handlers.Add(1)
		defer st.handlers.Done()
	}

	h := w.Header()
	h.Set("Server", s.cfg.serverHeader)
	h.Set("Api-Version", s.cfg.maxVersion)
	h.Set("Ostype", "linux")
	h.Set("Docker-Experimental", strconv.FormatBool(s.cfg.experimental))

	var err error
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("api server: panic in handler", "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = fmt.Errorf("internal server error: %v", p)
			if !w.started() {
				writeError(w, err)
			}
		}
		s.logRequest(r, w, start, err)
	}()

	err = s.dispatch(w, r, st)
	if err != nil {
		if w.started() {
			return
		}
		writeError(w, err)
	}
}

func (s *Server) dispatch(w *response, r *http.Request, st *serveState) error {
	segs, ok := splitPath(r.URL.EscapedPath())
	if !ok {
		return errPageNotFound
	}
	version := s.cfg.maxVersion
	if len(segs) > 0 && isVersionSegment(segs[0]) {
		version, segs = segs[0][1:], segs[1:]
	}
	rt, vars := s.router.match(r.Method, segs)
	if rt == nil {
		return notRouted(r.Method, segs)
	}
	if err := checkVersion(version, s.cfg.minVersion, s.cfg.maxVersion); err != nil {
		return err
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return invalidf("invalid query string: %v", err)
	}
	if rt.stream && st != nil {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop := context.AfterFunc(st.streams, cancel)
		defer stop()
		r = r.WithContext(ctx)
	}
	if rt.cpu && s.cfg.widen != nil {
		defer s.cfg.widen()()
	}
	return rt.h(w, &request{Request: r, version: version, vars: vars, query: query})
}

func (s *Server) logRequest(r *http.Request, w *response, start time.Time, err error) {
	status := w.status
	if w.hijacked && status == 0 {
		status = http.StatusSwitchingProtocols
	}
	attrs := []any{"method", r.Method, "path", r.URL.Path, "status", status,
		"duration", time.Since(start), "user_agent", r.UserAgent()}
	if err != nil {
		attrs = append(attrs, "error", err)
	}
	if err != nil && statusFor(err) >= 500 {
		s.log.Error("api request failed", attrs...)
		return
	}
	s.log.Debug("api request", attrs...)
}
