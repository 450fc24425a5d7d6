package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/api/server/servertest"
	"github.com/berth-project/berth/internal/errdefs"
)

// quietLogger drops logs unless the test runs with -v.
func quietLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(&testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// newHandler is the server over a fresh fake, as an http.Handler.
func newHandler(t *testing.T, opts ...server.Option) (*servertest.Fake, http.Handler) {
	t.Helper()
	fake := servertest.New()
	opts = append([]server.Option{server.WithLogger(quietLogger(t)), server.WithServerHeader("Berth/test (linux)")}, opts...)
	return fake, server.New(fake, opts...).Handler()
}

// do runs one request through h and returns the recorded response.
func do(t *testing.T, h http.Handler, method, target string, body io.Reader, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, body)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// errorMessage decodes docker's error body, failing the test if the
// response is not one.
func errorMessage(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type %q, body %q", ct, rec.Body.String())
	}
	var body struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Message == "" {
		t.Fatalf("error body %q is not docker's {\"message\":...}: %v", rec.Body.String(), err)
	}
	return body.Message
}

func TestPing(t *testing.T) {
	t.Parallel()
	_, h := newHandler(t, server.WithExperimental(true))
	for _, method := range []string{"GET", "HEAD"} {
		for _, path := range []string{"/_ping", "/v1.41/_ping", "/v1.50/_ping"} {
			rec := do(t, h, method, path, nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("%s %s: status %d", method, path, rec.Code)
			}
			want := map[string]string{
				"Api-Version": "1.50", "Ostype": "linux", "Docker-Experimental": "true",
				"Builder-Version": "1", "Cache-Control": "no-cache, no-store, must-revalidate",
				"Pragma": "no-cache", "Server": "Berth/test (linux)", "Swarm": "inactive",
			}
			for k, v := range want {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("%s %s: header %s = %q, want %q", method, path, k, got, v)
				}
			}
			body := rec.Body.String()
			if (method == "GET" && body != "OK") || (method == "HEAD" && body != "") {
				t.Errorf("%s %s: body %q", method, path, body)
			}
		}
	}
}

func TestVersionNegotiation(t *testing.T) {
	t.Parallel()
	_, h := newHandler(t)
	cases := []struct {
		path   string
		status int
		msg    string
	}{
		{"/v1.24/version", 200, ""},
		{"/v1.41/version", 200, ""},
		{"/version", 200, ""},
		{"/v1.50/version", 200, ""},
		{"/v1.23/version", 400, "client version 1.23 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"},
		{"/v1.12/containers/json", 400, "client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"},
		{"/v1/version", 400, "client version 1 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"},
		{"/v1.51/version", 400, "client version 1.51 is too new. Maximum supported API version is 1.50"},
		{"/v2.0/info", 400, "client version 2.0 is too new. Maximum supported API version is 1.50"},
		{"/v1.xx/version", 404, "page not found"},
		{"/vabc/version", 404, "page not found"},
		{"/v1.41/nothing", 404, "page not found"},
	}
	for _, c := range cases {
		rec := do(t, h, "GET", c.path, nil)
		if rec.Code != c.status {
			t.Errorf("%s: status %d, want %d (%s)", c.path, rec.Code, c.status, rec.Body)
			continue
		}
		if rec.Header().Get("Api-Version") != "1.50" {
			t.Errorf("%s: Api-Version %q", c.path, rec.Header().Get("Api-Version"))
		}
		if c.msg != "" {
			if got := errorMessage(t, rec); got != c.msg {
				t.Errorf("%s: message %q, want %q", c.path, got, c.msg)
			}
		}
	}

	rec := do(t, h, "GET", "/v1.41/version", nil)
	var v struct{ ApiVersion, MinAPIVersion, Os, Arch, Version string }
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if v.ApiVersion != "1.50" || v.MinAPIVersion != "1.24" || v.Os != "linux" || v.Version != "0.0.0-fake" {
		t.Errorf("version %+v", v)
	}
	var withEngine struct {
		Components []struct {
			Name    string
			Details map[string]string
		}
	}
	json.Unmarshal(rec.Body.Bytes(), &withEngine)
	if len(withEngine.Components) != 1 || withEngine.Components[0].Details["ApiVersion"] != "1.50" ||
		withEngine.Components[0].Details["MinAPIVersion"] != "1.24" || withEngine.Components[0].Details["Os"] != "linux" {
		t.Errorf("engine component %+v", withEngine)
	}
}

func TestCustomVersionRange(t *testing.T) {
	t.Parallel()
	_, h := newHandler(t, server.WithAPIVersions("1.40", "1.45"))
	if rec := do(t, h, "GET", "/v1.39/version", nil); rec.Code != 400 {
		t.Errorf("1.39: %d", rec.Code)
	}
	if rec := do(t, h, "GET", "/v1.46/version", nil); rec.Code != 400 ||
		errorMessage(t, rec) != "client version 1.46 is too new. Maximum supported API version is 1.45" {
		t.Errorf("1.46: %d %s", rec.Code, rec.Body)
	}
	rec := do(t, h, "GET", "/_ping", nil)
	if rec.Header().Get("Api-Version") != "1.45" {
		t.Errorf("Api-Version %q", rec.Header().Get("Api-Version"))
	}
	// An invalid range is ignored.
	_, h = newHandler(t, server.WithAPIVersions("1.50", "1.40"))
	if rec := do(t, h, "GET", "/_ping", nil); rec.Header().Get("Api-Version") != "1.50" {
		t.Errorf("invalid range applied: %q", rec.Header().Get("Api-Version"))
	}
}

func TestErrorMapping(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err    error
		status int
		msg    string // when not err.Error()
	}{
		{errdefs.Errorf(errdefs.ErrNotFound, "No such container: x"), 404, ""},
		// The class travels as the status, not in the message.
		{fmt.Errorf("wrapped: %w", errdefs.ErrNotFound), 404, "wrapped"},
		{errdefs.Errorf(errdefs.ErrInvalidParameter, "bad"), 400, ""},
		{errdefs.Errorf(errdefs.ErrConflict, "in use"), 409, ""},
		{errdefs.ErrAlreadyExists, 409, "already exists"},
		{errdefs.Errorf(errdefs.ErrUnauthorized, "who are you"), 401, ""},
		{errdefs.Errorf(errdefs.ErrForbidden, "no"), 403, ""},
		{errdefs.Errorf(errdefs.ErrUnavailable, "later"), 503, ""},
		{errdefs.Errorf(errdefs.ErrNotImplemented, "not yet"), 501, ""},
		{errors.New("disk on fire"), 500, ""},
		{context.Canceled, 500, ""},
	}
	for _, c := range cases {
		fake, h := newHandler(t)
		fake.SetError("ContainerInspect", c.err)
		rec := do(t, h, "GET", "/v1.50/containers/web/json", nil)
		if rec.Code != c.status {
			t.Errorf("%v: status %d, want %d", c.err, rec.Code, c.status)
			continue
		}
		want := c.msg
		if want == "" {
			want = c.err.Error()
		}
		if got := errorMessage(t, rec); got != want {
			t.Errorf("%v: message %q", c.err, got)
		}
	}

	// NotModified: 304 with no body.
	fake, h := newHandler(t)
	fake.SetError("ContainerStart", errdefs.Errorf(errdefs.ErrNotModified, "container already started"))
	rec := do(t, h, "POST", "/v1.50/containers/web/start", nil)
	if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("NotModified: %d %q", rec.Code, rec.Body)
	}
}

func TestNotFoundAndNotImplemented(t *testing.T) {
	t.Parallel()
	_, h := newHandler(t)
	cases := []struct {
		method, path string
		status       int
		msg          string
	}{
		{"GET", "/", 404, "page not found"},
		{"GET", "/v1.50/", 404, "page not found"},
		{"GET", "/nothing/here", 404, "page not found"},
		{"DELETE", "/_ping", 404, "page not found"},
		{"PATCH", "/containers/json", 404, "page not found"},
		{"PUT", "/networks/create", 404, "page not found"},
		{"GET", "/networks/a/b", 404, "page not found"},
		{"DELETE", "/v1.41/volumes/data", 404, "get data: no such volume"},
		{"GET", "/volumes/a/b", 404, "page not found"},
		{"GET", "/swarm", 501, "Berth does not implement swarm mode yet (GET /swarm)"},
		{"GET", "/v1.50/services", 501, "Berth does not implement swarm services yet (GET /services)"},
		{"POST", "/plugins/pull", 501, "Berth does not implement plugins yet (POST /plugins/pull)"},
		{"GET", "/plugins/x/json", 404, `plugin "x" not found`},
		{"GET", "/distribution/busybox/json", 501, "Berth does not implement distribution inspect yet (GET /distribution/busybox/json)"},
		{"POST", "/build", 501, "Berth does not implement image builds yet"},
		{"POST", "/commit?container=web", 404, "No such container: web"},
		{"GET", "/containers/web/export", 404, "No such container: web"},
		{"GET", "/containers/web/changes", 404, "No such container: web"},
		{"PUT", "/containers/web/archive?path=/", 404, "No such container: web"},
		{"HEAD", "/containers/web/archive?path=/", 404, ""},
		{"GET", "/containers/web/attach/ws", 404, "No such container: web"},
		{"GET", "/networks/nosuch", 404, "network nosuch not found"},
	}
	for _, c := range cases {
		rec := do(t, h, c.method, c.path, nil)
		if rec.Code != c.status {
			t.Errorf("%s %s: status %d, want %d (%s)", c.method, c.path, rec.Code, c.status, rec.Body)
			continue
		}
		if c.msg != "" && c.method != "HEAD" {
			if got := errorMessage(t, rec); got != c.msg {
				t.Errorf("%s %s: message %q, want %q", c.method, c.path, got, c.msg)
			}
		}
	}

	// An engine without volumes or build cache answers as dockerd does.
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1.41/volumes", `{"Volumes":[],"Warnings":null}`},
		{"POST", "/volumes/prune", `{"VolumesDeleted":null,"SpaceReclaimed":0}`},
		{"POST", "/build/prune", `{"CachesDeleted":null,"SpaceReclaimed":0}`},
	} {
		rec := do(t, h, c.method, c.path, nil)
		if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != c.body {
			t.Errorf("%s %s: %d %s", c.method, c.path, rec.Code, rec.Body)
		}
	}
}

func TestPanicIsRecovered(t *testing.T) {
	t.Parallel()
	fake, h := newHandler(t)
	fake.SetPanic("ContainerList")
	rec := do(t, h, "GET", "/containers/json", nil)
	if rec.Code != 500 || !strings.Contains(errorMessage(t, rec), "injected panic") {
		t.Fatalf("panic: %d %s", rec.Code, rec.Body)
	}
	// Still serving.
	if rec := do(t, h, "GET", "/_ping", nil); rec.Code != 200 {
		t.Fatalf("after panic: %d", rec.Code)
	}
}

// serveUnix runs Serve on a fresh unix socket until the test ends.
func serveUnix(t *testing.T, fake *servertest.Fake, opts ...server.Option) (sock string, stop func() error) {
	t.Helper()
	sock = filepath.Join(t.TempDir(), "api.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	opts = append([]server.Option{server.WithLogger(quietLogger(t))}, opts...)
	srv := server.New(fake, opts...)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	var stopped bool
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(15 * time.Second):
			return errors.New("Serve did not return after its context ended")
		}
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	return sock, stop
}

// unixClient is an HTTP client for a unix socket.
func unixClient(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
}

func TestServeShutsDownWithStreamsOpen(t *testing.T) {
	t.Parallel()
	fake := servertest.New()
	sock, stop := serveUnix(t, fake, server.WithShutdownTimeout(5*time.Second))
	c := unixClient(sock)

	resp, err := c.Get("http://berth/v1.50/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("events: %d", resp.StatusCode)
	}
	ended := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, resp.Body)
		ended <- err
	}()

	start := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("shutdown took %v with an events stream open", d)
	}
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the events stream did not end at shutdown")
	}
	if _, err := c.Get("http://berth/_ping"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}

// newHTTPServer serves the API over fake on a local TCP httptest server.
func newHTTPServer(t *testing.T, fake *servertest.Fake, opts ...server.Option) *httptest.Server {
	t.Helper()
	opts = append([]server.Option{server.WithLogger(quietLogger(t))}, opts...)
	srv := httptest.NewServer(server.New(fake, opts...).Handler())
	t.Cleanup(srv.Close)
	return srv
}
