package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
)

// progressWriter is the output of a streamed image operation (pull, push,
// import, load): docker's JSON messages, each flushed. The 200 header goes
// with the first message, so an error before any output is still a plain
// status; after it, the error becomes a message in the stream, unless the
// backend wrote one itself.
type progressWriter struct {
	w        http.ResponseWriter
	started  bool
	sawError bool
}

func (p *progressWriter) Write(b []byte) (int, error) {
	p.begin()
	if bytes.Contains(b, []byte(`"errorDetail"`)) {
		p.sawError = true
	}
	n, err := p.w.Write(b)
	flush(p.w)
	return n, err
}

func (p *progressWriter) begin() {
	if !p.started {
		p.started = true
		p.w.Header().Set("Content-Type", "application/json")
		p.w.WriteHeader(http.StatusOK)
	}
}

// status writes a {"status": ...} message.
func (p *progressWriter) status(s string) {
	b, _ := json.Marshal(map[string]string{"status": s})
	_, _ = p.Write(append(b, '\n'))
}

// end turns the operation's error into the handler's result.
func (p *progressWriter) end(err error) error {
	if err == nil {
		p.begin()
		return nil
	}
	if !p.started {
		return err
	}
	if !p.sawError {
		b, _ := json.Marshal(errBody(err))
		_, _ = p.Write(append(b, '\n'))
	}
	return nil
}

// lazyWriter sends the 200 header, with its Content-Type, on the first
// write, so an error before any output is still a plain status.
type lazyWriter struct {
	w           http.ResponseWriter
	contentType string
	started     bool
}

func (l *lazyWriter) Write(b []byte) (int, error) {
	if !l.started {
		l.started = true
		l.w.Header().Set("Content-Type", l.contentType)
		l.w.WriteHeader(http.StatusOK)
	}
	return l.w.Write(b)
}

// base64URLDecode reads base64url with or without padding (the docker
// CLI pads; other clients do not), and plain base64 as a fallback.
func base64URLDecode(s string) ([]byte, error) {
	if b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "=")); err == nil {
		return b, nil
	}
	return base64.StdEncoding.DecodeString(s)
}
