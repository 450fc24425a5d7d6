package servertest

import (
	"context"
	"io"
	"slices"

	"github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
)

// ContainerLogs sends the stored lines that match opts, then, with
// Follow, new ones until the container stops or ctx ends.
func (f *Fake) ContainerLogs(ctx context.Context, name string, opts server.LogsOptions) (<-chan server.LogMessage, bool, error) {
	if err := f.enter("ContainerLogs", name, opts); err != nil {
		return nil, false, err
	}
	f.mu.Lock()
	c, err := f.findContainer(name)
	if err != nil {
		f.mu.Unlock()
		return nil, false, err
	}
	tty := c.cfg.Tty
	f.mu.Unlock()

	keep := func(m server.LogMessage) bool {
		if !opts.Since.IsZero() && m.Time.Before(opts.Since) {
			return false
		}
		if !opts.Until.IsZero() && m.Time.After(opts.Until) {
			return false
		}
		return (m.Stream == "stdout" && opts.Stdout) || (m.Stream == "stderr" && opts.Stderr)
	}
	ch := make(chan server.LogMessage)
	go func() {
		defer close(ch)
		f.mu.Lock()
		var past []server.LogMessage
		for _, m := range c.logs {
			if keep(m) {
				past = append(past, m)
			}
		}
		if opts.Tail >= 0 && len(past) > opts.Tail {
			past = past[len(past)-opts.Tail:]
		}
		sent := len(c.logs)
		changed := c.changed
		f.mu.Unlock()
		for _, m := range past {
			select {
			case ch <- m:
			case <-ctx.Done():
				return
			}
		}
		for opts.Follow {
			f.mu.Lock()
			running := c.state == container.StateRunning || c.state == container.StatePaused
			f.mu.Unlock()
			if !running && sent == f.logCount(c) {
				return
			}
			select {
			case <-changed:
			case <-ctx.Done():
				return
			}
			f.mu.Lock()
			fresh := slices.Clone(c.logs[sent:])
			sent = len(c.logs)
			changed = c.changed
			f.mu.Unlock()
			for _, m := range fresh {
				if !keep(m) {
					continue
				}
				select {
				case ch <- m:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return ch, tty, nil
}

func (f *Fake) logCount(c *fakeContainer) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(c.logs)
}

// ContainerAttach hijacks the connection, copies stdin to the program
// (closing it when the client's stdin ends) and its output to the client,
// until the program exits or ctx ends.
func (f *Fake) ContainerAttach(ctx context.Context, name string, opts server.AttachOptions) error {
	if err := f.enter("ContainerAttach", name, opts); err != nil {
		return err
	}
	f.mu.Lock()
	c, err := f.findContainer(name)
	if err != nil {
		f.mu.Unlock()
		return err
	}
	tty := c.cfg.Tty
	if opts.Stream && c.state == container.StateExited {
		f.mu.Unlock()
		return errdefs.Errorf(errdefs.ErrConflict, "You cannot attach to a stopped container, start it first")
	}
	if c.stdinR == nil {
		c.stdinR, c.stdinW = io.Pipe()
	}
	stdinW := c.stdinW
	f.mu.Unlock()

	streams, err := opts.Streams(tty)
	if err != nil {
		return err
	}
	defer streams.Stdin.Close()
	f.mu.Lock()
	f.attaching++
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.attaching--
		f.mu.Unlock()
	}()
	out := &output{tty: tty}
	if opts.Stdout {
		out.stdout = streams.Stdout
	}
	if opts.Stderr {
		out.stderr = streams.Stderr
	}

	f.mu.Lock()
	if opts.Logs {
		for _, m := range c.logs {
			w := out.stdout
			if m.Stream == "stderr" && !tty {
				w = out.stderr
			}
			if w != nil {
				_, _ = w.Write(m.Line)
			}
		}
	}
	if !opts.Stream {
		f.mu.Unlock()
		return nil
	}
	c.outputs = append(c.outputs, out)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		c.outputs = slices.DeleteFunc(c.outputs, func(o *output) bool { return o == out })
		f.mu.Unlock()
	}()

	if opts.Stdin {
		go func() {
			_, _ = io.Copy(stdinW, streams.Stdin)
			_ = stdinW.Close()
		}()
	}
	// Wait for the run in progress, or the next one, to end.
	f.mu.Lock()
	target := c.exits + 1
	f.mu.Unlock()
	for {
		f.mu.Lock()
		exits, removed := c.exits, c.removed
		changed := c.changed
		f.mu.Unlock()
		if removed || exits >= target {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Attaching returns how many attach sessions are streaming.
func (f *Fake) Attaching() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attaching
}
