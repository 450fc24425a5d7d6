package shim

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/berth-project/berth/internal/errdefs"
)

// The shim's RPC is one request and one response per connection, each a
// 4-byte big-endian length and a JSON body. An attach connection goes on
// after its response: the client writes raw stdin bytes (and shuts down
// its write side at stdin's end); the shim writes frames of a stream byte
// and a 4-byte length. Unix sockets make connections cheap, and one call a
// connection keeps the shim free of multiplexing state.

// Operations.
const (
	opStart      = "start"
	opState      = "state"
	opWait       = "wait"
	opKill       = "kill"
	opKillExec   = "killExec" // an op of its own: a shim without it must not signal the init
	opPause      = "pause"
	opResume     = "resume"
	opUpdate     = "update"
	opStats      = "stats"
	opPids       = "pids"
	opResize     = "resize"
	opCloseStdin = "closeStdin"
	opExec       = "exec"
	opStartExec  = "startExec"
	opWaitExec   = "waitExec"
	opDelete     = "delete"
	opAttach     = "attach"
	opPing       = "ping"
)

type request struct {
	Op        string          `json:"op"`
	Exec      string          `json:"exec,omitempty"`
	Signal    int             `json:"signal,omitempty"`
	All       bool            `json:"all,omitempty"`
	Width     uint16          `json:"width,omitempty"`
	Height    uint16          `json:"height,omitempty"`
	Process   json.RawMessage `json:"process,omitempty"`
	OpenStdin bool            `json:"openStdin,omitempty"`
	Resources json.RawMessage `json:"resources,omitempty"`
	// attach
	Stdin      bool `json:"stdin,omitempty"`
	Stdout     bool `json:"stdout,omitempty"`
	Stderr     bool `json:"stderr,omitempty"`
	CloseStdin bool `json:"closeStdin,omitempty"`
}

type response struct {
	Error string      `json:"error,omitempty"`
	Class string      `json:"class,omitempty"`
	Pid   int         `json:"pid,omitempty"`
	State *State      `json:"state,omitempty"`
	Exit  *ExitStatus `json:"exit,omitempty"`
	// Raw is the runtime's own output (events --stats, ps --format json),
	// decoded by the client so the shim carries no types for it.
	Raw json.RawMessage `json:"raw,omitempty"`
}

// maxMessage bounds one RPC body: a ps of a huge container fits, a
// corrupt length does not make anyone allocate gigabytes.
const maxMessage = 16 << 20

func writeMsg(w io.Writer, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	buf := make([]byte, 4, 4+len(body))
	binary.BigEndian.PutUint32(buf, uint32(len(body)))
	_, err = w.Write(append(buf, body...))
	return err
}

func readMsg(r io.Reader, v any) error {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxMessage {
		return fmt.Errorf("shim message of %d bytes is too large", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return err
	}
	return json.Unmarshal(body, v)
}

// Attach stream frames.
const (
	frameEnd    = 0 // the process's output ended; no payload
	frameStdout = 1
	frameStderr = 2
	frameHeader = 5
)

// Error classes on the wire.
var classes = []struct {
	name  string
	class error
}{
	{"notfound", errdefs.ErrNotFound},
	{"conflict", errdefs.ErrConflict},
	{"invalid", errdefs.ErrInvalidParameter},
	{"unavailable", errdefs.ErrUnavailable},
	{"notimplemented", errdefs.ErrNotImplemented},
	{"notmodified", errdefs.ErrNotModified},
	{"forbidden", errdefs.ErrForbidden},
}

func errorResponse(err error) response {
	r := response{Error: err.Error()}
	for _, c := range classes {
		if errors.Is(err, c.class) {
			r.Class = c.name
			break
		}
	}
	return r
}

func (r *response) err() error {
	if r.Error == "" {
		return nil
	}
	for _, c := range classes {
		if c.name == r.Class {
			return errdefs.Errorf(c.class, "%s", r.Error)
		}
	}
	return errors.New(r.Error)
}
