package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeDaemon answers canned Engine API responses on a unix socket of its
// own and records what it was sent.
type fakeDaemon struct {
	t    *testing.T
	host string
	mux  *http.ServeMux

	mu       sync.Mutex
	requests []recorded
	handlers map[string]http.HandlerFunc
}

type recorded struct {
	Method, Path, Query string
	Header              http.Header
	Body                []byte
}

func newFakeDaemon(t *testing.T) *fakeDaemon {
	t.Helper()
	d := &fakeDaemon{t: t, mux: http.NewServeMux()}
	// The SDK pings first to settle the API version.
	d.mux.HandleFunc("/_ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.50")
		w.Header().Set("Ostype", "linux")
		w.Write([]byte("OK"))
	})
	dir, err := os.MkdirTemp("", "berthcli")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "d.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(d.serve)}
	go srv.Serve(l) //nolint:errcheck // ends with Close
	t.Cleanup(func() {
		srv.Close()
		os.RemoveAll(dir)
	})
	d.host = "unix://" + sock
	return d
}

func (d *fakeDaemon) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	d.mu.Lock()
	d.requests = append(d.requests, recorded{r.Method, stripVersion(r.URL.Path), r.URL.RawQuery, r.Header.Clone(), body})
	d.mu.Unlock()
	r.URL.Path = stripVersion(r.URL.Path)
	d.mux.ServeHTTP(w, r)
}

// stripVersion turns /v1.50/containers/json into /containers/json so
// handlers are registered once for every version.
func stripVersion(p string) string {
	if strings.HasPrefix(p, "/v1.") {
		if i := strings.IndexByte(p[1:], '/'); i >= 0 {
			return p[i+1:]
		}
	}
	return p
}

// handle registers a handler for "METHOD /path"; a later one for the
// same pattern replaces it.
func (d *fakeDaemon) handle(pattern string, h http.HandlerFunc) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.handlers == nil {
		d.handlers = map[string]http.HandlerFunc{}
	}
	if _, ok := d.handlers[pattern]; !ok {
		d.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			d.mu.Lock()
			h := d.handlers[pattern]
			d.mu.Unlock()
			h(w, r)
		})
	}
	d.handlers[pattern] = h
}

// json registers a handler answering status and v as JSON.
func (d *fakeDaemon) json(pattern string, status int, v any) {
	d.handle(pattern, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, status, v) })
}

// fail registers a handler answering a daemon error.
func (d *fakeDaemon) fail(pattern string, status int, msg string) {
	d.json(pattern, status, map[string]string{"message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// sent returns the requests whose "METHOD path" starts with prefix.
func (d *fakeDaemon) sent(prefix string) []recorded {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []recorded
	for _, r := range d.requests {
		if strings.HasPrefix(r.Method+" "+r.Path, prefix) {
			out = append(out, r)
		}
	}
	return out
}

type result struct {
	out, err string
	code     int
}

// berth runs the CLI in-process against d.
func (d *fakeDaemon) berth(args ...string) result {
	return d.berthIn("", args...)
}

func (d *fakeDaemon) berthIn(stdin string, args ...string) result {
	d.t.Helper()
	var out, errb bytes.Buffer
	env := map[string]string{"BERTH_HOST": d.host}
	code := Main(context.Background(), Streams{In: strings.NewReader(stdin), Out: &out, Err: &errb}, args,
		WithVersion("1.2.3", "abcdef0", "2026-01-02T03:04:05Z"),
		WithGetenv(func(k string) string { return env[k] }))
	return result{out.String(), errb.String(), code}
}

// hijack takes over the connection of an attach or exec start request the
// way the daemon does (101 UPGRADED, then the raw connection) and hands it
// to fn; the connection is closed when fn returns.
func hijack(w http.ResponseWriter, mediaType string, fn func(conn net.Conn, rw *bufio.ReadWriter)) {
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	fmt.Fprintf(rw, "HTTP/1.1 101 UPGRADED\r\nContent-Type: %s\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n", mediaType)
	rw.Flush()
	fn(conn, rw)
}

// runDaemon plays a container that writes stdout and stderr and exits
// with code once started. With echo, what arrives on stdin is copied back
// to stdout before the container exits.
type runDaemon struct {
	*fakeDaemon
	started chan struct{}
	exit    int
	stdout  string
	stderr  string
	echo    bool
}

func newRunDaemon(t *testing.T) *runDaemon {
	d := &runDaemon{fakeDaemon: newFakeDaemon(t), started: make(chan struct{})}
	d.json("POST /containers/create", http.StatusCreated, map[string]any{"Id": "c0ffee000000c0ffee000000", "Warnings": []string{}})
	d.handle("POST /containers/{id}/start", func(w http.ResponseWriter, r *http.Request) {
		close(d.started)
		w.WriteHeader(http.StatusNoContent)
	})
	exited := make(chan struct{})
	d.handle("POST /containers/{id}/attach", func(w http.ResponseWriter, r *http.Request) {
		hijack(w, "application/vnd.docker.multiplexed-stream", func(conn net.Conn, rw *bufio.ReadWriter) {
			<-d.started
			if d.echo {
				in, _ := io.ReadAll(rw)
				writeFrame(rw, 1, in)
			}
			if d.stdout != "" {
				writeFrame(rw, 1, []byte(d.stdout))
			}
			if d.stderr != "" {
				writeFrame(rw, 2, []byte(d.stderr))
			}
			rw.Flush()
			close(exited)
		})
	})
	d.handle("POST /containers/{id}/wait", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		select {
		case <-exited:
		case <-r.Context().Done():
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"StatusCode": d.exit})
	})
	return d
}

// writeFrame writes one stdcopy frame: stream (1 stdout, 2 stderr), three
// zero bytes, the big-endian length, the payload.
func writeFrame(w io.Writer, stream byte, p []byte) {
	hdr := []byte{stream, 0, 0, 0, byte(len(p) >> 24), byte(len(p) >> 16), byte(len(p) >> 8), byte(len(p))}
	w.Write(hdr)
	w.Write(p)
}

func writeJSONLine(w io.Writer, v any) {
	json.NewEncoder(w).Encode(v)
}
