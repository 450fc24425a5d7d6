package server_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/api/server/servertest"
	"github.com/berth-project/berth/internal/errdefs"
)

// hijacked is a raw client connection after the server took it over.
type hijacked struct {
	conn net.Conn
	r    *bufio.Reader
	resp *http.Response
}

// hijackRequest sends a request by hand on a new connection to the unix
// socket and reads the response head, as the docker CLI does for attach.
func hijackRequest(t *testing.T, sock, method, path, body string, upgrade bool) *hijacked {
	t.Helper()
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var req strings.Builder
	fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: berth\r\n", method, path)
	if upgrade {
		req.WriteString("Connection: Upgrade\r\nUpgrade: tcp\r\n")
	}
	if body != "" {
		fmt.Fprintf(&req, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(body))
	}
	req.WriteString("\r\n" + body)
	if _, err := io.WriteString(conn, req.String()); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &hijacked{conn: conn, r: r, resp: resp}
}

// call makes one ordinary request over the unix socket.
func call(t *testing.T, sock, method, path, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://berth"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := unixClient(sock).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func mustCall(t *testing.T, sock, method, path, body string, status int) []byte {
	t.Helper()
	code, b := call(t, sock, method, path, body)
	if code != status {
		t.Fatalf("%s %s: %d, want %d (%s)", method, path, code, status, b)
	}
	return b
}

func closeWrite(t *testing.T, c net.Conn) {
	t.Helper()
	if err := c.(*net.UnixConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
}

// readAllTimeout reads r to its end, failing the test if that takes long.
func readAllTimeout(t *testing.T, r io.Reader) []byte {
	t.Helper()
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		b, err := io.ReadAll(r)
		ch <- result{b, err}
	}()
	select {
	case res := <-ch:
		if res.err != nil {
			t.Fatalf("read: %v", res.err)
		}
		return res.b
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end")
		return nil
	}
}

func TestAttachMultiplexedRoundTrip(t *testing.T) {
	t.Parallel()
	sock, _ := serveUnix(t, servertest.New())
	mustCall(t, sock, "POST", "/v1.50/containers/create?name=cat", `{"Image":"busybox","Cmd":["cat"],"OpenStdin":true}`, 201)

	hj := hijackRequest(t, sock, "POST", "/v1.50/containers/cat/attach?stream=1&stdin=1&stdout=1&stderr=1", "", true)
	if hj.resp.StatusCode != 101 || hj.resp.Header.Get("Content-Type") != "application/vnd.docker.multiplexed-stream" ||
		hj.resp.Header.Get("Upgrade") != "tcp" || hj.resp.Header.Get("Api-Version") != "1.50" {
		t.Fatalf("attach response: %d %v", hj.resp.StatusCode, hj.resp.Header)
	}
	mustCall(t, sock, "POST", "/v1.50/containers/cat/start", "", 204)
	if _, err := io.WriteString(hj.conn, "hello\nworld\n"); err != nil {
		t.Fatal(err)
	}
	// The client's stdin ends: the container's stdin gets EOF, cat exits,
	// the stream ends.
	closeWrite(t, hj.conn)
	raw := readAllTimeout(t, hj.r)
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, bytes.NewReader(raw)); err != nil {
		t.Fatalf("demux %q: %v", raw, err)
	}
	if stdout.String() != "hello\nworld\n" || stderr.Len() != 0 {
		t.Errorf("stdout %q stderr %q", stdout.String(), stderr.String())
	}
	// Each frame: stream 1, three zero bytes, big-endian size.
	if raw[0] != 1 || raw[1] != 0 || raw[2] != 0 || raw[3] != 0 || int(binary.BigEndian.Uint32(raw[4:8])) > len(raw)-8 {
		t.Errorf("frame header % x", raw[:8])
	}
	code := mustCall(t, sock, "POST", "/v1.50/containers/cat/wait", "", 200)
	if strings.TrimSpace(string(code)) != `{"StatusCode":0}` {
		t.Errorf("wait: %s", code)
	}
}

func TestAttachTTYRaw(t *testing.T) {
	t.Parallel()
	sock, _ := serveUnix(t, servertest.New())
	mustCall(t, sock, "POST", "/containers/create?name=tty", `{"Image":"busybox","Cmd":["cat"],"Tty":true,"OpenStdin":true}`, 201)
	hj := hijackRequest(t, sock, "POST", "/v1.50/containers/tty/attach?stream=1&stdin=1&stdout=1&stderr=1", "", true)
	if hj.resp.StatusCode != 101 || hj.resp.Header.Get("Content-Type") != "application/vnd.docker.raw-stream" {
		t.Fatalf("attach response: %d %v", hj.resp.StatusCode, hj.resp.Header)
	}
	mustCall(t, sock, "POST", "/containers/tty/start", "", 204)
	io.WriteString(hj.conn, "typed\r\n")
	closeWrite(t, hj.conn)
	if got := readAllTimeout(t, hj.r); string(got) != "typed\r\n" {
		t.Errorf("raw output %q", got)
	}
}

func TestAttachWithoutUpgradeAndOldVersion(t *testing.T) {
	t.Parallel()
	sock, _ := serveUnix(t, servertest.New())
	mustCall(t, sock, "POST", "/containers/create?name=old", `{"Image":"busybox","Cmd":["cat"]}`, 201)
	// No Upgrade header: 200 and a raw hijack, as dockerd answers. API 1.41
	// predates the multiplexed media type, but the stream is still framed.
	hj := hijackRequest(t, sock, "POST", "/v1.41/containers/old/attach?stream=1&stdin=1&stdout=1", "", false)
	if hj.resp.StatusCode != 200 || hj.resp.Header.Get("Content-Type") != "application/vnd.docker.raw-stream" {
		t.Fatalf("attach response: %d %v", hj.resp.StatusCode, hj.resp.Header)
	}
	mustCall(t, sock, "POST", "/containers/old/start", "", 204)
	io.WriteString(hj.conn, "x")
	closeWrite(t, hj.conn)
	raw := readAllTimeout(t, hj.r)
	var stdout bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, io.Discard, bytes.NewReader(raw)); err != nil || stdout.String() != "x" {
		t.Errorf("output %q: %v", raw, err)
	}
}

func TestAttachErrorsBeforeHijack(t *testing.T) {
	t.Parallel()
	sock, _ := serveUnix(t, servertest.New())
	hj := hijackRequest(t, sock, "POST", "/v1.50/containers/nobody/attach?stream=1&stdout=1", "", true)
	if hj.resp.StatusCode != 404 {
		t.Fatalf("attach to nobody: %d", hj.resp.StatusCode)
	}
	b, _ := io.ReadAll(hj.resp.Body)
	if !strings.Contains(string(b), `"message":"No such container: nobody"`) {
		t.Errorf("body %s", b)
	}
}

// A client that only closed its writing side still gets the output; one
// that hung up ends the attach even if the container is silent.
func TestAttachHalfCloseAndHangup(t *testing.T) {
	t.Parallel()
	fake := servertest.New()
	sock, _ := serveUnix(t, fake)
	mustCall(t, sock, "POST", "/containers/create?name=pipe", `{"Image":"busybox","Cmd":["cat"],"OpenStdin":true}`, 201)

	writer := hijackRequest(t, sock, "POST", "/containers/pipe/attach?stream=1&stdin=1", "", true)
	reader := hijackRequest(t, sock, "POST", "/containers/pipe/attach?stream=1&stdout=1", "", true)
	closeWrite(t, reader.conn) // as the docker CLI does without -i
	silent := hijackRequest(t, sock, "POST", "/containers/pipe/attach?stream=1&stdout=1", "", true)
	mustCall(t, sock, "POST", "/containers/pipe/start", "", 204)
	waitFor(t, func() bool { return fake.Attaching() == 3 })

	silent.conn.Close()
	waitFor(t, func() bool { return fake.Attaching() == 2 })

	io.WriteString(writer.conn, "after half-close\n")
	closeWrite(t, writer.conn)
	raw := readAllTimeout(t, reader.r)
	var stdout bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, io.Discard, bytes.NewReader(raw)); err != nil || stdout.String() != "after half-close\n" {
		t.Errorf("reader got %q: %v", raw, err)
	}
	waitFor(t, func() bool { return fake.Attaching() == 0 })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestExecHijack(t *testing.T) {
	t.Parallel()
	sock, _ := serveUnix(t, servertest.New())
	mustCall(t, sock, "POST", "/containers/create?name=box", `{"Image":"busybox","Cmd":["sleep"]}`, 201)
	mustCall(t, sock, "POST", "/containers/box/start", "", 204)

	for _, tty := range []bool{false, true} {
		body := mustCall(t, sock, "POST", "/v1.50/containers/box/exec",
			fmt.Sprintf(`{"Cmd":["cat"],"AttachStdin":true,"AttachStdout":true,"AttachStderr":true,"Tty":%v}`, tty), 201)
		var created container.ExecCreateResponse
		if err := json.Unmarshal(body, &created); err != nil || created.ID == "" {
			t.Fatalf("exec create %s: %v", body, err)
		}
		hj := hijackRequest(t, sock, "POST", "/v1.50/exec/"+created.ID+"/start", fmt.Sprintf(`{"Detach":false,"Tty":%v}`, tty), true)
		want := "application/vnd.docker.multiplexed-stream"
		if tty {
			want = "application/vnd.docker.raw-stream"
		}
		if hj.resp.StatusCode != 101 || hj.resp.Header.Get("Content-Type") != want {
			t.Fatalf("exec start tty=%v: %d %v", tty, hj.resp.StatusCode, hj.resp.Header)
		}
		io.WriteString(hj.conn, "in exec\n")
		closeWrite(t, hj.conn)
		raw := readAllTimeout(t, hj.r)
		out := raw
		if !tty {
			var stdout bytes.Buffer
			if _, err := stdcopy.StdCopy(&stdout, io.Discard, bytes.NewReader(raw)); err != nil {
				t.Fatal(err)
			}
			out = stdout.Bytes()
		}
		if string(out) != "in exec\n" {
			t.Errorf("tty=%v: exec output %q", tty, raw)
		}
		inspect := mustCall(t, sock, "GET", "/v1.50/exec/"+created.ID+"/json", "", 200)
		if !strings.Contains(string(inspect), `"ExitCode":0`) || !strings.Contains(string(inspect), `"Running":false`) {
			t.Errorf("exec inspect %s", inspect)
		}
	}

	// Detached: 200 at once, no hijack.
	body := mustCall(t, sock, "POST", "/containers/box/exec", `{"Cmd":["echo","hi"]}`, 201)
	var created container.ExecCreateResponse
	json.Unmarshal(body, &created)
	mustCall(t, sock, "POST", "/exec/"+created.ID+"/start", `{"Detach":true}`, 200)
	// Errors: no command, unknown exec, bad resize.
	mustCall(t, sock, "POST", "/containers/box/exec", `{"Cmd":[]}`, 400)
	mustCall(t, sock, "POST", "/exec/0123abcd/start", `{"Detach":true}`, 404)
	mustCall(t, sock, "POST", "/exec/"+created.ID+"/resize?h=x&w=1", "", 400)
	mustCall(t, sock, "GET", "/exec/..%2f..%2fetc/json", "", 404)
}

func TestLogs(t *testing.T) {
	t.Parallel()
	fake := servertest.New()
	srv := newHTTPServer(t, fake)
	h := srv.Config.Handler
	create(t, h, "echo", `{"Image":"busybox","Cmd":["echo","hello"]}`)
	create(t, h, "err", `{"Image":"busybox","Cmd":["stderr","oops"]}`)
	create(t, h, "tty", `{"Image":"busybox","Cmd":["echo","on a tty"],"Tty":true}`)
	for _, name := range []string{"echo", "err", "tty"} {
		do(t, h, "POST", "/containers/"+name+"/start", nil)
		do(t, h, "POST", "/containers/"+name+"/wait", nil)
	}

	get := func(path string) (*http.Response, []byte) {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, raw := get("/v1.50/containers/err/logs?stdout=1&stderr=1&timestamps=1")
	if resp.Header.Get("Content-Type") != "application/vnd.docker.multiplexed-stream" {
		t.Errorf("content type %q", resp.Header.Get("Content-Type"))
	}
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	ts, line, _ := strings.Cut(stderr.String(), " ")
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || line != "oops\n" || stdout.Len() != 0 || len(ts) != len("2006-01-02T15:04:05.000000000Z") {
		t.Errorf("stderr %q stdout %q", stderr.String(), stdout.String())
	}

	// Only stderr asked for: stdout lines are not sent.
	_, raw = get("/v1.50/containers/echo/logs?stderr=1")
	if len(raw) != 0 {
		t.Errorf("stdout leaked: %q", raw)
	}
	// A terminal's log is raw; so is any log for clients before 1.42,
	// but framed.
	resp, raw = get("/v1.50/containers/tty/logs?stdout=1")
	if resp.Header.Get("Content-Type") != "application/vnd.docker.raw-stream" || string(raw) != "on a tty\n" {
		t.Errorf("tty logs %v %q", resp.Header, raw)
	}
	resp, _ = get("/v1.41/containers/echo/logs?stdout=1")
	if resp.Header.Get("Content-Type") != "application/vnd.docker.raw-stream" {
		t.Errorf("1.41 content type %q", resp.Header.Get("Content-Type"))
	}

	// Parameters reach the backend decoded.
	_, _ = get("/v1.50/containers/echo/logs?stdout=true&follow=0&tail=7&since=1700000000.5&until=1800000000&details=1")
	c, _ := fake.Last("ContainerLogs")
	opts := c.Opts.(server.LogsOptions)
	if !opts.Stdout || opts.Stderr || opts.Follow || opts.Tail != 7 || !opts.Details ||
		!opts.Since.Equal(time.Unix(1700000000, 500000000)) || !opts.Until.Equal(time.Unix(1800000000, 0)) {
		t.Errorf("logs options %+v", opts)
	}
	for _, tail := range []string{"all", "", "-3", "lots"} {
		_, _ = get("/v1.50/containers/echo/logs?stdout=1&tail=" + tail)
		if c, _ := fake.Last("ContainerLogs"); c.Opts.(server.LogsOptions).Tail != -1 {
			t.Errorf("tail=%q: %d", tail, c.Opts.(server.LogsOptions).Tail)
		}
	}
	for path, status := range map[string]int{
		"/v1.50/containers/echo/logs":                          400,
		"/v1.50/containers/echo/logs?stdout=1&since=yesterday": 400,
		"/v1.50/containers/echo/logs?stdout=1&until=1.2.3":     400,
		"/v1.50/containers/nobody/logs?stdout=1":               404,
	} {
		if resp, b := get(path); resp.StatusCode != status {
			t.Errorf("%s: %d %s", path, resp.StatusCode, b)
		}
	}
}

func TestLogsFollowFlushes(t *testing.T) {
	t.Parallel()
	sock, _ := serveUnix(t, servertest.New())
	mustCall(t, sock, "POST", "/containers/create?name=talker", `{"Image":"busybox","Cmd":["cat"],"OpenStdin":true}`, 201)
	in := hijackRequest(t, sock, "POST", "/containers/talker/attach?stream=1&stdin=1", "", true)
	mustCall(t, sock, "POST", "/containers/talker/start", "", 204)

	resp, err := unixClient(sock).Get("http://berth/v1.50/containers/talker/logs?stdout=1&follow=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	for _, line := range []string{"one\n", "two\n"} {
		io.WriteString(in.conn, line)
		var hdr [8]byte
		if _, err := io.ReadFull(resp.Body, hdr[:]); err != nil {
			t.Fatal(err)
		}
		payload := make([]byte, binary.BigEndian.Uint32(hdr[4:]))
		if _, err := io.ReadFull(resp.Body, payload); err != nil || string(payload) != line || hdr[0] != 1 {
			t.Fatalf("followed frame %v %q: %v", hdr, payload, err)
		}
	}
	// The container ends: so does the followed log.
	closeWrite(t, in.conn)
	if rest := readAllTimeout(t, resp.Body); len(rest) != 0 {
		t.Errorf("after exit: %q", rest)
	}
}

func TestStats(t *testing.T) {
	t.Parallel()
	fake := servertest.New()
	srv := newHTTPServer(t, fake)
	h := srv.Config.Handler
	create(t, h, "st", `{"Image":"busybox","Cmd":["sleep"]}`)

	rec := do(t, h, "GET", "/v1.50/containers/st/stats?stream=false", nil)
	var st container.StatsResponse
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" || json.Unmarshal(rec.Body.Bytes(), &st) != nil || st.Name != "/st" {
		t.Fatalf("one sample: %d %s", rec.Code, rec.Body)
	}
	if c, _ := fake.Last("ContainerStats"); c.Opts != (server.StatsOptions{}) {
		t.Errorf("options %+v", c.Opts)
	}
	do(t, h, "GET", "/v1.50/containers/st/stats?stream=0&one-shot=1", nil)
	if c, _ := fake.Last("ContainerStats"); c.Opts != (server.StatsOptions{OneShot: true}) {
		t.Errorf("one-shot options %+v", c.Opts)
	}
	do(t, h, "GET", "/v1.40/containers/st/stats?stream=0&one-shot=1", nil)
	if c, _ := fake.Last("ContainerStats"); c.Opts != (server.StatsOptions{}) {
		t.Errorf("one-shot before 1.41: %+v", c.Opts)
	}
	if rec := do(t, h, "GET", "/v1.50/containers/st/stats?one-shot=1", nil); rec.Code != 400 {
		t.Errorf("stream and one-shot: %d", rec.Code)
	}
	if rec := do(t, h, "GET", "/v1.50/containers/nobody/stats?stream=0", nil); rec.Code != 404 {
		t.Errorf("unknown container: %d", rec.Code)
	}

	// Streaming: several samples arrive, each flushed.
	resp, err := srv.Client().Get(srv.URL + "/v1.50/containers/st/stats")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(resp.Body)
	for i := 0; i < 3; i++ {
		if err := dec.Decode(&st); err != nil {
			t.Fatalf("sample %d: %v", i, err)
		}
	}
	resp.Body.Close()
}

func TestEvents(t *testing.T) {
	t.Parallel()
	fake := servertest.New()
	srv := newHTTPServer(t, fake)
	h := srv.Config.Handler
	since := time.Now().Add(-time.Second)
	create(t, h, "ev", `{"Image":"busybox","Cmd":["exit","3"]}`)
	do(t, h, "POST", "/containers/ev/start", nil)
	do(t, h, "POST", "/containers/ev/wait", nil)
	until := time.Now().Add(time.Second)

	path := fmt.Sprintf("/v1.41/events?since=%d&until=%d.%09d&filters=%s", since.Unix(), until.Unix(), until.Nanosecond(), `{"type":{"container":true}}`)
	rec := do(t, h, "GET", path, nil)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("events: %d %v", rec.Code, rec.Header())
	}
	var actions []string
	dec := json.NewDecoder(rec.Body)
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		actions = append(actions, m["Action"].(string))
		// The fields older clients read.
		if m["status"] != m["Action"] || m["id"] == nil || m["id"] != m["Actor"].(map[string]any)["ID"] || m["from"] != "busybox" {
			t.Errorf("legacy fields missing: %v", m)
		}
	}
	if strings.Join(actions, ",") != "create,start,die" {
		t.Errorf("actions %v", actions)
	}
	for p, status := range map[string]int{
		"/events?since=2&until=1":            400,
		"/events?since=now":                  400,
		"/events?filters=nope":               400,
		`/events?filters={"colour":["red"]}`: 400,
	} {
		if rec := do(t, h, "GET", p, nil); rec.Code != status {
			t.Errorf("%s: %d %s", p, rec.Code, rec.Body)
		}
	}

	// A backend that refuses at once gets its status.
	fake.SetError("Events", errdefs.Errorf(errdefs.ErrNotImplemented, "no events here"))
	if rec := do(t, h, "GET", "/v1.50/events", nil); rec.Code != 501 || errorMessage(t, rec) != "no events here" {
		t.Errorf("refused events: %d %s", rec.Code, rec.Body)
	}
	fake.SetError("Events", nil)

	// Live: the header comes before any event, then events as they happen.
	resp, err := srv.Client().Get(srv.URL + "/v1.50/events?since=" + fmt.Sprint(time.Now().Unix()+3600))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("live events: %d", resp.StatusCode)
	}
}
