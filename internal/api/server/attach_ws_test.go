package server_test

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/api/server/servertest"
	"github.com/berth-project/berth/internal/errdefs"
)

// The websocket client of these tests is written out by hand (RFC 6455),
// so that they check the frames on the wire rather than what a library
// makes of them.

const (
	opText  = 0x1
	opBin   = 0x2
	opClose = 0x8
)

// wsConn is a client websocket over the test server's unix socket.
type wsConn struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	resp *http.Response
	// closing is set once the client sent a close frame: the server's
	// close is then the answer, not to be answered.
	closing bool
}

// wsDial sends a websocket handshake for path with extra headers (a
// header given as "" is left out) and reads the response head.
func wsDial(t *testing.T, sock, path string, extra map[string]string) *wsConn {
	t.Helper()
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	key := base64.StdEncoding.EncodeToString(nonce)
	hdr := map[string]string{
		"Connection":            "Upgrade",
		"Upgrade":               "websocket",
		"Sec-WebSocket-Key":     key,
		"Sec-WebSocket-Version": "13",
		// Any origin is accepted, as by dockerd.
		"Origin": "http://elsewhere.example",
	}
	for k, v := range extra {
		hdr[k] = v
	}
	var req strings.Builder
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: berth\r\n", path)
	for k, v := range hdr {
		if v != "" {
			fmt.Fprintf(&req, "%s: %s\r\n", k, v)
		}
	}
	req.WriteString("\r\n")
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, req.String()); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		if got, want := resp.Header.Get("Sec-WebSocket-Accept"), base64.StdEncoding.EncodeToString(sum[:]); got != want {
			t.Fatalf("Sec-WebSocket-Accept %q, want %q", got, want)
		}
	}
	return &wsConn{t: t, conn: conn, r: r, resp: resp}
}

// send writes one masked frame, as a client must.
func (c *wsConn) send(op byte, payload []byte) {
	c.t.Helper()
	if err := c.trySend(op, payload); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

func (c *wsConn) trySend(op byte, payload []byte) error {
	frame := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		frame = append(frame, 0x80|byte(n))
	case n <= 0xffff:
		frame = append(frame, 0x80|126)
		frame = binary.BigEndian.AppendUint16(frame, uint16(n))
	default:
		frame = append(frame, 0x80|127)
		frame = binary.BigEndian.AppendUint64(frame, uint64(n))
	}
	mask := make([]byte, 4)
	_, _ = rand.Read(mask)
	frame = append(frame, mask...)
	for i, b := range payload {
		frame = append(frame, b^mask[i%4])
	}
	_, err := c.conn.Write(frame)
	return err
}

// sendClose sends a close frame with a status code.
func (c *wsConn) sendClose(code uint16) {
	c.t.Helper()
	c.send(opClose, binary.BigEndian.AppendUint16(nil, code))
	c.closing = true
}

// frame reads one frame from the server, which never masks.
func (c *wsConn) frame() (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		return 0, nil, err
	}
	if h[0]&0x80 == 0 {
		return 0, nil, errors.New("fragmented frame: the server sends each write whole")
	}
	if h[1]&0x80 != 0 {
		return 0, nil, errors.New("masked frame from the server")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(c.r, ext[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(c.r, ext[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(ext[:])
	}
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("frame of %d bytes", n)
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(c.r, payload); err != nil {
		return 0, nil, err
	}
	return h[0] & 0x0f, payload, nil
}

// wsOutput is what the server sent until its close frame.
type wsOutput struct {
	data      string
	ops       map[byte]bool // opcodes of the data frames
	closeCode int           // 0: the connection ended without a close frame
	reason    string
}

// readUntilClose reads frames until the server's close frame (answering
// it, as a client does) or the connection's end.
func (c *wsConn) readUntilClose() wsOutput {
	c.t.Helper()
	out := wsOutput{ops: map[byte]bool{}}
	var data strings.Builder
	for {
		op, payload, err := c.frame()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				out.data = data.String()
				return out
			}
			c.t.Fatalf("read frame: %v (so far %q)", err, data.String())
		}
		if op == opClose {
			if len(payload) >= 2 {
				out.closeCode = int(binary.BigEndian.Uint16(payload))
				out.reason = string(payload[2:])
			}
			if !c.closing {
				// Answer, unless the server is gone already (it does not
				// wait for the answer when it shuts down).
				c.trySend(opClose, binary.BigEndian.AppendUint16(nil, uint16(max(out.closeCode, 1000))))
			}
			out.data = data.String()
			return out
		}
		out.ops[op] = true
		data.WriteString(string(payload))
	}
}

// readData reads data frames until want has arrived.
func (c *wsConn) readData(want string) (ops map[byte]bool) {
	c.t.Helper()
	ops = map[byte]bool{}
	var got strings.Builder
	for got.Len() < len(want) {
		op, payload, err := c.frame()
		if err != nil {
			c.t.Fatalf("read frame: %v (so far %q, want %q)", err, got.String(), want)
		}
		if op == opClose {
			c.t.Fatalf("closed (%x) after %q, want %q", payload, got.String(), want)
		}
		ops[op] = true
		got.Write(payload)
	}
	if got.String() != want {
		c.t.Fatalf("output %q, want %q", got.String(), want)
	}
	return ops
}

func TestAttachWSStdinStdout(t *testing.T) {
	t.Parallel()
	fake := servertest.New()
	sock, _ := serveUnix(t, fake)
	mustCall(t, sock, "POST", "/v1.50/containers/create?name=cat", `{"Image":"busybox","Cmd":["cat"],"OpenStdin":true}`, 201)

	ws := wsDial(t, sock, "/v1.50/containers/cat/attach/ws?stream=1&stdin=1&stdout=1&detachKeys=ctrl-x",
		map[string]string{"Sec-WebSocket-Protocol": "tty, raw"})
	if ws.resp.StatusCode != 101 || ws.resp.Header.Get("Api-Version") != "1.50" ||
		ws.resp.Header.Get("Sec-WebSocket-Protocol") != "tty" {
		t.Fatalf("attach/ws response: %d %v", ws.resp.StatusCode, ws.resp.Header)
	}
	call, ok := fake.Last("ContainerAttach")
	opts, _ := call.Opts.(server.AttachOptions)
	if !ok || call.Name != "cat" || !opts.Stream || !opts.Stdin || !opts.Stdout || opts.Stderr || opts.Logs || opts.DetachKeys != "ctrl-x" {
		t.Fatalf("backend call %+v", call)
	}
	mustCall(t, sock, "POST", "/v1.50/containers/cat/start", "", 204)

	ws.send(opText, []byte("hello\n"))
	if ops := ws.readData("hello\n"); !ops[opBin] || ops[opText] {
		t.Errorf("frames %v: API 1.50 sends binary frames", ops)
	}
	ws.send(opBin, []byte("world\n"))
	ws.readData("world\n")

	// The client closes: the attach ends (the fake's cat sees its stdin
	// end, as docker's would with StdinOnce), and the server answers the
	// close.
	ws.sendClose(1000)
	out := ws.readUntilClose()
	if out.closeCode != 1000 || out.data != "" {
		t.Errorf("after the client's close: %+v", out)
	}
	waitFor(t, func() bool { return fake.Attaching() == 0 })
	if _, err := ws.r.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("connection still open after the close handshake: %v", err)
	}
}

// Frames are text before API 1.28 and binary from it on (docker's API
// history, v1.28); stdin, stdout and stderr count from 1.42 on, and
// before, all three are attached. Without a terminal, stderr arrives in
// the same frames as stdout.
func TestAttachWSVersions(t *testing.T) {
	t.Parallel()
	fake := servertest.New()
	sock, _ := serveUnix(t, fake)
	for _, c := range []struct{ name, cmd string }{{"out", `["echo","to stdout"]`}, {"err", `["stderr","to stderr"]`}} {
		mustCall(t, sock, "POST", "/containers/create?name="+c.name, `{"Image":"busybox","Cmd":`+c.cmd+`}`, 201)
		mustCall(t, sock, "POST", "/containers/"+c.name+"/start", "", 204)
		mustCall(t, sock, "POST", "/containers/"+c.name+"/wait", "", 200)
	}
	for _, c := range []struct {
		version, container, query string
		op                        byte
		want                      string
	}{
		{"1.24", "out", "logs=1", opText, "to stdout\n"},
		{"1.27", "err", "logs=1&stderr=0", opText, "to stderr\n"},
		{"1.28", "out", "logs=1&stdout=0", opBin, "to stdout\n"},
		{"1.41", "err", "logs=1", opBin, "to stderr\n"},
		{"1.42", "out", "logs=1&stdout=1", opBin, "to stdout\n"},
		{"1.42", "err", "logs=1&stdout=1&stderr=1", opBin, "to stderr\n"},
		{"1.50", "err", "logs=1&stdout=1", 0, ""},
		{"1.50", "out", "logs=1&stderr=1", 0, ""},
	} {
		path := fmt.Sprintf("/v%s/containers/%s/attach/ws?%s", c.version, c.container, c.query)
		ws := wsDial(t, sock, path, nil)
		if ws.resp.StatusCode != 101 {
			t.Errorf("%s: %d", path, ws.resp.StatusCode)
			continue
		}
		out := ws.readUntilClose()
		if out.data != c.want || out.closeCode != 1000 {
			t.Errorf("%s: output %q close %d, want %q and 1000", path, out.data, out.closeCode, c.want)
		}
		if c.want != "" && (len(out.ops) != 1 || !out.ops[c.op]) {
			t.Errorf("%s: frames %v, want opcode %d", path, out.ops, c.op)
		}
	}
}

func TestAttachWSErrorsBeforeUpgrade(t *testing.T) {
	t.Parallel()
	fake := servertest.New()
	sock, _ := serveUnix(t, fake)
	mustCall(t, sock, "POST", "/containers/create?name=box", `{"Image":"busybox","Cmd":["cat"],"OpenStdin":true}`, 201)

	for _, c := range []struct {
		name, path string
		hdr        map[string]string
		status     int
		msg        string
	}{
		{"unknown container", "/v1.50/containers/nobody/attach/ws?stream=1&stdout=1", nil, 404, "No such container: nobody"},
		{"not a websocket", "/v1.50/containers/box/attach/ws?stream=1&stdout=1", map[string]string{"Upgrade": "", "Connection": ""}, 400,
			"/v1.50/containers/box/attach/ws is a websocket endpoint: the request must ask to upgrade to a websocket (Connection: Upgrade, Upgrade: websocket); POST /containers/{id}/attach serves plain HTTP clients"},
		{"upgrade to tcp", "/containers/box/attach/ws", map[string]string{"Upgrade": "tcp"}, 400, "is a websocket endpoint"},
		{"no key", "/containers/box/attach/ws", map[string]string{"Sec-WebSocket-Key": ""}, 400, "websocket handshake without a Sec-WebSocket-Key header"},
		{"old websocket", "/containers/box/attach/ws", map[string]string{"Sec-WebSocket-Version": "8"}, 400, `unsupported websocket version "8": only version 13 (RFC 6455) is supported`},
		{"bad query", "/containers/box/attach/ws?stream=1&%zz", nil, 400, "invalid query string"},
		{"bad name", "/containers/b%20ox/attach/ws", nil, 404, "No such container: b ox"},
	} {
		ws := wsDial(t, sock, c.path, c.hdr)
		body, _ := io.ReadAll(ws.resp.Body)
		var e struct{ Message string }
		_ = json.Unmarshal(body, &e)
		if ws.resp.StatusCode != c.status || !strings.Contains(e.Message, c.msg) {
			t.Errorf("%s: %d %s, want %d with %q", c.name, ws.resp.StatusCode, body, c.status, c.msg)
		}
		if c.name == "old websocket" && ws.resp.Header.Get("Sec-WebSocket-Version") != "13" {
			t.Errorf("%s: no Sec-WebSocket-Version: 13 in %v", c.name, ws.resp.Header)
		}
	}
	// A plain GET, as curl sends it.
	if code, body := call(t, sock, "GET", "/containers/box/attach/ws?stream=1", ""); code != 400 || !strings.Contains(string(body), "is a websocket endpoint") {
		t.Errorf("plain GET: %d %s", code, body)
	}

	// The backend's own refusals (the daemon's check of detachKeys) are
	// ordinary errors too.
	fake.SetError("ContainerAttach", errdefs.Errorf(errdefs.ErrInvalidParameter, "Invalid detach keys (ctrl-) provided"))
	ws := wsDial(t, sock, "/containers/box/attach/ws?stream=1&detachKeys=ctrl-", nil)
	if body, _ := io.ReadAll(ws.resp.Body); ws.resp.StatusCode != 400 || !strings.Contains(string(body), `"message":"Invalid detach keys (ctrl-) provided"`) {
		t.Errorf("bad detach keys: %d %s", ws.resp.StatusCode, body)
	}
	fake.SetError("ContainerAttach", nil)

	// Nothing stayed attached, and the server still serves, websockets too.
	if n := fake.Attaching(); n != 0 {
		t.Errorf("%d attaches left", n)
	}
	mustCall(t, sock, "GET", "/_ping", "", 200)
	mustCall(t, sock, "POST", "/containers/box/start", "", 204)
	ws = wsDial(t, sock, "/containers/box/attach/ws?stream=1&stdin=1&stdout=1", nil)
	if ws.resp.StatusCode != 101 {
		t.Fatalf("attach after the errors: %d", ws.resp.StatusCode)
	}
	ws.send(opText, []byte("still here\n"))
	ws.readData("still here\n")
}

// A client that goes away without a close ends the attach too.
func TestAttachWSHangup(t *testing.T) {
	t.Parallel()
	fake := servertest.New()
	sock, _ := serveUnix(t, fake)
	mustCall(t, sock, "POST", "/containers/create?name=quiet", `{"Image":"busybox","Cmd":["sleep"]}`, 201)
	mustCall(t, sock, "POST", "/containers/quiet/start", "", 204)
	ws := wsDial(t, sock, "/containers/quiet/attach/ws?stream=1&stdout=1&stderr=1", nil)
	if ws.resp.StatusCode != 101 {
		t.Fatalf("attach/ws: %d", ws.resp.StatusCode)
	}
	waitFor(t, func() bool { return fake.Attaching() == 1 })
	ws.conn.Close()
	waitFor(t, func() bool { return fake.Attaching() == 0 })
	mustCall(t, sock, "GET", "/_ping", "", 200)
}

// The attach ends with the container, with a normal close.
func TestAttachWSContainerExit(t *testing.T) {
	t.Parallel()
	fake := servertest.New()
	sock, _ := serveUnix(t, fake)
	mustCall(t, sock, "POST", "/containers/create?name=brief", `{"Image":"busybox","Cmd":["sleep"]}`, 201)
	mustCall(t, sock, "POST", "/containers/brief/start", "", 204)
	ws := wsDial(t, sock, "/containers/brief/attach/ws?stream=1&stdout=1", nil)
	if ws.resp.StatusCode != 101 {
		t.Fatalf("attach/ws: %d", ws.resp.StatusCode)
	}
	waitFor(t, func() bool { return fake.Attaching() == 1 })
	mustCall(t, sock, "POST", "/containers/brief/kill", "", 204)
	if out := ws.readUntilClose(); out.closeCode != 1000 || out.data != "" {
		t.Errorf("after the exit: %+v", out)
	}
	waitFor(t, func() bool { return fake.Attaching() == 0 })
}

// A shutdown ends websocket attaches, as it does the hijacked ones.
func TestAttachWSShutdown(t *testing.T) {
	t.Parallel()
	fake := servertest.New()
	sock, stop := serveUnix(t, fake)
	mustCall(t, sock, "POST", "/containers/create?name=long", `{"Image":"busybox","Cmd":["sleep"]}`, 201)
	mustCall(t, sock, "POST", "/containers/long/start", "", 204)
	ws := wsDial(t, sock, "/containers/long/attach/ws?stream=1&stdout=1", nil)
	if ws.resp.StatusCode != 101 {
		t.Fatalf("attach/ws: %d", ws.resp.StatusCode)
	}
	waitFor(t, func() bool { return fake.Attaching() == 1 })
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %v with a websocket attached", d)
	}
	ws.readUntilClose()
	if n := fake.Attaching(); n != 0 {
		t.Errorf("%d attaches left after shutdown", n)
	}
}
