package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"

	"github.com/moby/moby/api/pkg/stdcopy"
	sdk "github.com/moby/moby/client"
	"github.com/moby/term"
	xterm "golang.org/x/term"
)

// multiplexedStream is the media type of a stdcopy-framed attach stream
// (API 1.42 on; raw streams are "application/vnd.docker.raw-stream").
const multiplexedStream = "application/vnd.docker.multiplexed-stream"

// defaultDetachKeys is docker's detach sequence.
const defaultDetachKeys = "ctrl-p,ctrl-q"

// hijacked copies between the user's streams and an attach or exec
// connection. Without a terminal the daemon frames stdout and stderr
// (stdcopy) and they are split again here; with one the stream is raw.
type hijacked struct {
	in         io.Reader // nil when stdin is not attached
	out, err   io.Writer // nil when not attached
	resp       sdk.HijackedResponse
	tty        bool
	detachKeys string
	log        *slog.Logger
}

// stream runs until the output ends (the process is gone), the user types
// the detach keys (a term.EscapeError), or ctx ends. A terminal on stdin is
// put in raw mode for the duration.
func (h *hijacked) stream(ctx context.Context) error {
	restore, err := h.setUpInput()
	if err != nil {
		return err
	}
	var restoreOnce sync.Once
	restoreTerm := func() { restoreOnce.Do(restore) }
	defer restoreTerm()

	outputDone := make(chan error, 1)
	go func() {
		outputDone <- h.copyOutput()
		// Give the terminal back before the caller prints anything.
		restoreTerm()
	}()
	inputDone := make(chan error, 1)
	detached := make(chan error, 1)
	go func() {
		if h.in != nil {
			in := h.in
			if h.tty {
				keys := h.detachKeys
				if keys == "" {
					keys = defaultDetachKeys
				}
				if seq, err := term.ToBytes(keys); err == nil {
					in = term.NewEscapeProxy(in, seq)
				}
			}
			_, err := io.Copy(h.resp.Conn, in)
			restoreTerm()
			var esc term.EscapeError
			if errors.As(err, &esc) {
				detached <- err
				return
			}
			if err != nil {
				h.log.Debug("copying stdin", "err", err)
			}
		}
		// Stdin is done: tell the daemon by half-closing the connection.
		if err := h.resp.CloseWrite(); err != nil {
			h.log.Debug("closing the attach stream's write side", "err", err)
		}
		close(inputDone)
	}()

	select {
	case err := <-outputDone:
		return err
	case <-inputDone:
		// Stdin ended: the output still carries what the process writes.
		if h.out != nil || h.err != nil {
			select {
			case err := <-outputDone:
				return err
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	case err := <-detached:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *hijacked) setUpInput() (restore func(), err error) {
	restore = func() {}
	if h.in == nil || !h.tty {
		return restore, nil
	}
	fd, ok := fdOf(h.in)
	if !ok || !xterm.IsTerminal(fd) {
		return restore, nil
	}
	state, err := xterm.MakeRaw(fd)
	if err != nil {
		return restore, err
	}
	return func() { xterm.Restore(fd, state) }, nil
}

func (h *hijacked) copyOutput() error {
	if h.out == nil && h.err == nil {
		return nil
	}
	out, errw := h.out, h.err
	if out == nil {
		out = io.Discard
	}
	if errw == nil {
		errw = io.Discard
	}
	// The container's (or exec's) terminal decides, as in the docker
	// CLI: daemons before API 1.42 answer raw-stream whether they
	// multiplex or not, so the media type can mislead; only a
	// multiplexed-stream answer is taken at its word.
	raw := h.tty
	if mt, ok := h.resp.MediaType(); ok && mt == multiplexedStream {
		raw = false
	}
	var err error
	if raw {
		_, err = io.Copy(out, h.resp.Reader)
	} else {
		_, err = stdcopy.StdCopy(out, errw, h.resp.Reader)
	}
	return err
}
