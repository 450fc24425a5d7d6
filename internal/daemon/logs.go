package daemon

import (
	"context"
	"errors"
	"io/fs"
	"os"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/logs"
)

// ContainerLogs is GET /containers/{id}/logs: the container's log as the
// shim wrote it (internal/logs), filtered by stream, since, until and
// tail; with follow, new entries until the container stops (then what
// remains) or ctx ends.
func (d *Daemon) ContainerLogs(ctx context.Context, name string, opts server.LogsOptions) (<-chan server.LogMessage, bool, error) {
	if !opts.Stdout && !opts.Stderr {
		return nil, false, errdefs.Errorf(errdefs.ErrInvalidParameter, "Bad parameters: you must choose at least one stream")
	}
	c, r, err := d.get(name)
	if err != nil {
		return nil, false, err
	}
	c.Lock()
	tty := c.Config.Tty
	driver, path := c.HostConfig.LogConfig.Type, c.LogPath
	done := r.exited
	if !c.State.IsRunning() {
		done = closedChan
	}
	c.Unlock()
	if driver == logs.None || path == "" {
		return nil, tty, errdefs.Errorf(errdefs.ErrNotImplemented, "configured logging driver does not support reading")
	}
	out := make(chan server.LogMessage, 16)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) && (!opts.Follow || isClosed(done)) {
		// Never started: nothing logged yet.
		close(out)
		return out, tty, nil
	}
	msgs, errs := logs.Read(ctx, driver, path, logs.ReadOptions{
		Since:  opts.Since,
		Until:  opts.Until,
		Tail:   opts.Tail,
		Follow: opts.Follow,
		Done:   done,
	})
	go func() {
		defer close(out)
		for m := range msgs {
			if (m.Stream == "stdout" && !opts.Stdout) || (m.Stream == "stderr" && !opts.Stderr) {
				continue
			}
			lm := server.LogMessage{Stream: m.Stream, Line: m.Line, Time: m.Time, Attrs: m.Attrs}
			select {
			case out <- lm:
			case <-ctx.Done():
				// Drain so the reader's goroutine ends.
				for range msgs {
				}
			}
		}
		for err := range errs {
			var corrupt *logs.CorruptError
			if errors.As(err, &corrupt) {
				d.log.Warn("container log", "container", c.ID, "err", err)
				continue
			}
			select {
			case out <- server.LogMessage{Err: err}:
			case <-ctx.Done():
			}
		}
	}()
	return out, tty, nil
}

var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// replayLogs writes the container's log so far to an attach's streams
// (attach with logs=1).
func (d *Daemon) replayLogs(ctx context.Context, c *container.Container, streams server.Streams, stdout, stderr bool) error {
	msgs, tty, err := d.ContainerLogs(ctx, c.ID, server.LogsOptions{Stdout: stdout, Stderr: stderr, Tail: -1})
	if err != nil {
		if errdefs.IsNotImplemented(err) {
			return nil
		}
		return err
	}
	for m := range msgs {
		if m.Err != nil {
			return m.Err
		}
		w := streams.Stdout
		if m.Stream == "stderr" && !tty && streams.Stderr != nil {
			w = streams.Stderr
		}
		if w == nil {
			continue
		}
		if _, err := w.Write(m.Line); err != nil {
			return err
		}
	}
	return nil
}
