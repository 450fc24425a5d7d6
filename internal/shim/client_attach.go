package shim

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
)

// Attach connects opts' streams to a process's stdio and copies until the
// process's output ends (nil), ctx ends (ctx.Err()) or a writer fails. It
// can be called before Start or StartExec, and several times at once: each
// attached client gets all output produced while it is attached.
func (c *Client) Attach(ctx context.Context, opts AttachOptions) error {
	c.beginAttach()
	registered := false
	defer func() {
		if !registered {
			c.endAttach()
		}
	}()
	conn, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer c.forget(conn)
	defer interrupt(ctx, conn)()
	req := request{
		Op: opAttach, Exec: opts.ExecID,
		Stdin: opts.Stdin != nil, Stdout: opts.Stdout != nil, Stderr: opts.Stderr != nil,
		CloseStdin: opts.CloseStdin,
	}
	var resp response
	if err := writeMsg(conn, &req); err != nil {
		return c.connError(ctx, err)
	}
	if err := readMsg(conn, &resp); err != nil {
		return c.connError(ctx, err)
	}
	if err := resp.err(); err != nil {
		return err
	}
	registered = true
	c.endAttach()
	if opts.Attached != nil {
		opts.Attached()
	}
	if opts.Stdin != nil {
		go func() {
			// The shim reads the end of stdin from our half-close.
			if _, err := io.Copy(conn, opts.Stdin); err == nil {
				conn.CloseWrite()
			}
		}()
	}
	var hdr [frameHeader]byte
	for {
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			return c.connError(ctx, err)
		}
		n := binary.BigEndian.Uint32(hdr[1:])
		var w io.Writer
		switch hdr[0] {
		case frameEnd:
			return nil
		case frameStdout:
			w = opts.Stdout
		case frameStderr:
			w = opts.Stderr
		default:
			return fmt.Errorf("shim in %s: bad attach frame %d", c.stateDir, hdr[0])
		}
		if n > maxFrame {
			return fmt.Errorf("shim in %s: attach frame of %d bytes", c.stateDir, n)
		}
		if w == nil {
			w = io.Discard
		}
		if _, err := io.CopyN(w, conn, int64(n)); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
	}
}

// maxFrame bounds one attach frame: the shim reads at most 32 KiB at once.
const maxFrame = 1 << 20
