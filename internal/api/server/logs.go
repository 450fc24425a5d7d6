package server

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/moby/moby/api/types"
)

// rfc3339NanoFixed is RFC 3339 with the nanoseconds always nine digits,
// so timestamped log lines line up (docker's format).
const rfc3339NanoFixed = "2006-01-02T15:04:05.000000000Z07:00"

// logsOptions reads the query of GET /containers/{name}/logs.
func (r *request) logsOptions() (LogsOptions, error) {
	opts := LogsOptions{
		Stdout:     r.boolValue("stdout"),
		Stderr:     r.boolValue("stderr"),
		Follow:     r.boolValue("follow"),
		Timestamps: r.boolValue("timestamps"),
		Details:    r.boolValue("details"),
		Tail:       r.tailValue(),
	}
	if !opts.Stdout && !opts.Stderr {
		return opts, invalidf("Bad parameters: you must choose at least one stream")
	}
	var err error
	if opts.Since, err = r.timestampValue("since"); err != nil {
		return opts, err
	}
	// until=0 (docker logs --until 0) means no bound, as dockerd has it,
	// not the epoch.
	if r.query.Get("until") != "0" {
		if opts.Until, err = r.timestampValue("until"); err != nil {
			return opts, err
		}
	}
	return opts, nil
}

// getContainerLogs streams the log: raw for a terminal (and for clients
// before API 1.42), stdcopy frames otherwise, each message flushed. The
// header goes out before the first message, so from then on errors are
// written into the stream ("Error grabbing logs").
func (s *Server) getContainerLogs(w http.ResponseWriter, r *request) error {
	name, err := r.container()
	if err != nil {
		return err
	}
	opts, err := r.logsOptions()
	if err != nil {
		return err
	}
	msgs, tty, err := s.backend.ContainerLogs(r.ctx(), name, opts)
	if err != nil {
		return err
	}
	contentType := types.MediaTypeRawStream
	if !tty && !r.olderThan("1.42") {
		contentType = types.MediaTypeMultiplexedStream
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	flush(w)

	var stdout, stderr, syserr io.Writer = w, w, w
	if !tty {
		mux := &muxWriter{w: w}
		stdout, stderr, syserr = mux.stream(streamStdout), mux.stream(streamStderr), mux.stream(streamSystemErr)
	}
	for {
		var m LogMessage
		var ok bool
		select {
		case m, ok = <-msgs:
		case <-r.ctx().Done():
			// Let the backend see the end and close its channel.
			go drain(msgs)
			return nil
		}
		if !ok {
			return nil
		}
		if m.Err != nil {
			fmt.Fprintf(syserr, "Error grabbing logs: %v\n", m.Err)
			flush(w)
			continue
		}
		out := stdout
		switch {
		case m.Stream == "stderr" && opts.Stderr:
			out = stderr
		case m.Stream == "stdout" && opts.Stdout:
		default:
			continue
		}
		line := m.Line
		if opts.Details {
			line = append([]byte(logAttrs(m.Attrs)+" "), line...)
		}
		if opts.Timestamps {
			line = append([]byte(m.Time.UTC().Format(rfc3339NanoFixed)+" "), line...)
		}
		if _, err := out.Write(line); err != nil {
			go drain(msgs)
			return nil
		}
		// Flush when the backend has nothing more queued: a follower sees
		// each line at once, a long log goes out in big writes.
		if len(msgs) == 0 {
			flush(w)
		}
	}
}

func drain(msgs <-chan LogMessage) {
	for range msgs {
	}
}

// logAttrs renders --details: key=value pairs, sorted, escaped, joined.
func logAttrs(attrs map[string]string) string {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = url.QueryEscape(k) + "=" + url.QueryEscape(attrs[k])
	}
	return strings.Join(parts, ",")
}
