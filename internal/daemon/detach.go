package daemon

import (
	"errors"
	"io"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
)

// defaultDetachKeys is docker's ctrl-p,ctrl-q.
var defaultDetachKeys = []byte{16, 17}

// parseDetachKeys reads docker's detach key notation: comma-separated
// keys, each a single character or "ctrl-<c>" with <c> one of a-z, @, [,
// \, ], ^, _.
func parseDetachKeys(s string) ([]byte, error) {
	var out []byte
	for _, k := range strings.Split(s, ",") {
		if len(k) == 1 {
			out = append(out, k[0])
			continue
		}
		rest, ok := strings.CutPrefix(strings.ToLower(k), "ctrl-")
		if !ok || len(rest) != 1 {
			return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "Invalid detach keys (%s) provided", s)
		}
		switch c := rest[0]; {
		case c >= 'a' && c <= 'z':
			out = append(out, c-'a'+1)
		case c == '@':
			out = append(out, 0)
		case c == '[', c == '\\', c == ']', c == '^', c == '_':
			out = append(out, c-'['+27)
		default:
			return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "Invalid detach keys (%s) provided", s)
		}
	}
	if len(out) == 0 {
		return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "Invalid detach keys (%s) provided", s)
	}
	return out, nil
}

// errDetached ends a stdin stream whose user typed the detach keys.
var errDetached = errors.New("detached from the container")

// detachReader passes a client's stdin through, watching for the detach
// sequence. Bytes that may begin the sequence are held back until it is
// clear whether they do; the sequence itself never reaches the container.
// On the full sequence it calls onDetach and reports errDetached.
type detachReader struct {
	r        io.Reader
	keys     []byte
	matched  int
	out      []byte // ready for the container
	buf      []byte
	err      error
	onDetach func()
}

func newDetachReader(r io.Reader, keys []byte, onDetach func()) *detachReader {
	return &detachReader{r: r, keys: keys, buf: make([]byte, 32<<10), onDetach: onDetach}
}

func (d *detachReader) Read(p []byte) (int, error) {
	for len(d.out) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		n, err := d.r.Read(d.buf)
		for _, b := range d.buf[:n] {
			if d.err != nil {
				break
			}
			d.feed(b)
		}
		if err != nil && d.err == nil {
			// A sequence cut short by EOF was typed, not a detach.
			d.out = append(d.out, d.keys[:d.matched]...)
			d.matched = 0
			d.err = err
		}
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}

func (d *detachReader) feed(b byte) {
	if len(d.keys) == 0 {
		d.out = append(d.out, b)
		return
	}
	if b == d.keys[d.matched] {
		d.matched++
		if d.matched == len(d.keys) {
			d.matched = 0
			d.err = errDetached
			if d.onDetach != nil {
				d.onDetach()
			}
		}
		return
	}
	// Not the sequence after all: release what was held, then look at b
	// afresh (it may start the sequence).
	d.out = append(d.out, d.keys[:d.matched]...)
	d.matched = 0
	if b == d.keys[0] {
		d.matched = 1
		if len(d.keys) == 1 {
			d.matched = 0
			d.err = errDetached
			if d.onDetach != nil {
				d.onDetach()
			}
		}
		return
	}
	d.out = append(d.out, b)
}
