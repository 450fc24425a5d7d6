// Package api_test checks Engine API endpoints end to end that the docker
// CLI does not use, against a daemon of its own (daemontest: berthd, or
// dockerd with -test.target=docker for parity), with plain HTTP and a
// websocket client.
//
// Needs root, `make` (bin/berthd and its helpers) and busybox-static
// (scripts/mkbusybox.sh makes the image's root filesystem).
//
//	go test ./integration/api
package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"github.com/berth-project/berth/internal/testenv"
	"github.com/berth-project/berth/internal/testenv/daemontest"
)

// engine is a test's daemon with busybox:latest in it, and the API version
// its requests use (the daemon's own).
type engine struct {
	t       *testing.T
	d       *daemontest.Daemon
	client  *http.Client
	version string
}

// startEngine starts a daemon for t and imports busybox:latest into it
// through POST /images/create?fromSrc=-.
func startEngine(t *testing.T) *engine {
	t.Helper()
	testenv.RequireRoot(t)
	d := daemontest.Start(t)
	e := &engine{t: t, d: d, client: d.HTTPClient()}
	var v struct{ ApiVersion string }
	e.mustJSON("GET", "/version", nil, 200, &v)
	if v.ApiVersion == "" {
		t.Fatal("GET /version: no ApiVersion")
	}
	e.version = v.ApiVersion

	tar := filepath.Join(t.TempDir(), "busybox.tar")
	script := filepath.Join(testenv.RepoRoot(t), "scripts", "mkbusybox.sh")
	if out, err := exec.Command(script, "-o", tar).CombinedOutput(); err != nil {
		t.Fatalf("%s -o %s: %v\n%s", script, tar, err, out)
	}
	f, err := os.Open(tar)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	status, body := e.do("POST", "/images/create?fromSrc=-&repo=busybox&tag=latest", "application/x-tar", f)
	// The import answers 200 with a progress stream; a failure is a
	// message with an error in it.
	if status != 200 || strings.Contains(string(body), `"error"`) {
		t.Fatalf("import busybox: %d %s", status, body)
	}
	return e
}

// do sends one request to the daemon and returns the status and body.
func (e *engine) do(method, path, contentType string, body io.Reader) (int, []byte) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url := "http://d" + path
	if e.version != "" { // known after GET /version
		url = "http://d/v" + e.version + path
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read the body: %v", method, path, err)
	}
	return resp.StatusCode, b
}

// mustJSON sends a request with a JSON body (nil: none), checks the
// status and decodes the answer into out (nil: ignored).
func (e *engine) mustJSON(method, path string, in any, status int, out any) {
	e.t.Helper()
	var body io.Reader
	contentType := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			e.t.Fatal(err)
		}
		body, contentType = strings.NewReader(string(b)), "application/json"
	}
	got, b := e.do(method, path, contentType, body)
	if got != status {
		e.t.Fatalf("%s %s: %d, want %d: %s", method, path, got, status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// dialWS opens a websocket on path (after the version prefix).
func (e *engine) dialWS(path string) *websocket.Conn {
	e.t.Helper()
	cfg, err := websocket.NewConfig("ws://d/v"+e.version+path, "http://localhost")
	if err != nil {
		e.t.Fatal(err)
	}
	conn, err := net.DialTimeout("unix", e.d.Socket(), 10*time.Second)
	if err != nil {
		e.t.Fatal(err)
	}
	ws, err := websocket.NewClient(cfg, conn)
	if err != nil {
		conn.Close()
		e.t.Fatalf("websocket GET %s: %v", path, err)
	}
	e.t.Cleanup(func() { ws.Close() })
	return ws
}

// wsFrame is one message as it came, with its frame type.
type wsFrame struct {
	op   byte
	data []byte
}

// frames receives whole messages with their type, which the library's
// Read and Message codec do not tell.
var frames = websocket.Codec{Unmarshal: func(data []byte, op byte, v any) error {
	f := v.(*wsFrame)
	f.op, f.data = op, data
	return nil
}}

// TestAttachWebsocket runs `sh -c 'read x; echo got $x'` with its stdin
// open, attaches over a websocket before the start (as docker run attaches
// first), types a line into the socket and reads the answer from it.
func TestAttachWebsocket(t *testing.T) {
	t.Parallel()
	e := startEngine(t)
	name := testenv.UniqueName(t, "ws")
	var created struct{ ID string }
	e.mustJSON("POST", "/containers/create?name="+name, map[string]any{
		"Image":        "busybox:latest",
		"Cmd":          []string{"sh", "-c", "read x; echo got $x"},
		"OpenStdin":    true,
		"StdinOnce":    true,
		"AttachStdin":  true,
		"AttachStdout": true,
		"AttachStderr": true,
		"HostConfig":   map[string]any{"NetworkMode": "none"},
	}, 201, &created)
	t.Cleanup(func() {
		if status, b := e.do("DELETE", "/containers/"+created.ID+"?force=1", "", nil); status != 204 && status != 404 {
			t.Errorf("remove %s: %d %s", name, status, b)
		}
	})

	ws := e.dialWS("/containers/" + name + "/attach/ws?stream=1&stdin=1&stdout=1&stderr=1")
	e.mustJSON("POST", "/containers/"+name+"/start", nil, 204, nil)
	if _, err := ws.Write([]byte("hi\n")); err != nil {
		t.Fatalf("write stdin: %v", err)
	}

	_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	var out strings.Builder
	for !strings.Contains(out.String(), "got hi\n") {
		var f wsFrame
		if err := frames.Receive(ws, &f); err != nil {
			t.Fatalf("read output: %v (so far %q)", err, out.String())
		}
		if f.op != websocket.BinaryFrame {
			t.Errorf("frame type %d with %q: API %s sends binary frames", f.op, f.data, e.version)
		}
		out.Write(f.data)
	}
	if out.String() != "got hi\n" {
		t.Errorf("output %q, want %q", out.String(), "got hi\n")
	}

	// The program ended: so do the attach and the websocket.
	var f wsFrame
	if err := frames.Receive(ws, &f); !errors.Is(err, io.EOF) {
		t.Errorf("after the exit: %v (a frame %q)", err, f.data)
	}
	var waited struct{ StatusCode int }
	e.mustJSON("POST", "/containers/"+name+"/wait", nil, 200, &waited)
	if waited.StatusCode != 0 {
		t.Errorf("exit status %d", waited.StatusCode)
	}
}

// TestAttachWebsocketErrors: what the engine refuses is an HTTP error
// before the upgrade, with docker's message.
func TestAttachWebsocketErrors(t *testing.T) {
	t.Parallel()
	e := startEngine(t)
	name := testenv.UniqueName(t, "ws")
	e.mustJSON("POST", "/containers/create?name="+name, map[string]any{
		"Image":      "busybox:latest",
		"Cmd":        []string{"true"},
		"HostConfig": map[string]any{"NetworkMode": "none"},
	}, 201, nil)
	t.Cleanup(func() {
		if status, b := e.do("DELETE", "/containers/"+name+"?force=1", "", nil); status != 204 {
			t.Errorf("remove %s: %d %s", name, status, b)
		}
	})
	for _, c := range []struct {
		path   string
		status int
		msg    string
	}{
		{"/containers/nosuch/attach/ws?stream=1&stdout=1", 404, "No such container: nosuch"},
		{"/containers/" + name + "/attach/ws?stream=1&stdout=1&detachKeys=ctrl-", 400, "Invalid detach keys (ctrl-) provided"},
	} {
		status, msg := e.handshake(c.path)
		if status != c.status || msg != c.msg {
			t.Errorf("GET %s: %d %q, want %d %q", c.path, status, msg, c.status, c.msg)
		}
	}
	e.mustJSON("GET", "/_ping", nil, 200, nil)
}

// handshake sends a websocket handshake by hand and returns the status and
// the error message of a refusal.
func (e *engine) handshake(path string) (int, string) {
	e.t.Helper()
	conn, err := net.DialTimeout("unix", e.d.Socket(), 10*time.Second)
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(conn, "GET /v%s%s HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://localhost\r\n\r\n", e.version, path)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	var body struct{ Message string }
	if resp.StatusCode != http.StatusSwitchingProtocols {
		b, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			e.t.Errorf("GET %s: %d with a body that is not docker's error: %q", path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, body.Message
}
