package server

import (
	"errors"
	"net/http"
)

// postContainerAttach hijacks the connection once the backend has checked
// the request (so a missing container is still a plain 404), then streams
// until the backend returns.
func (s *Server) postContainerAttach(w http.ResponseWriter, r *request) error {
	name, err := r.container()
	if err != nil {
		return err
	}
	if _, ok := w.(http.Hijacker); !ok {
		return invalidf("error attaching to container %s, hijack connection missing", name)
	}
	h, ctx := newHijack(w, r)
	err = s.backend.ContainerAttach(ctx, name, AttachOptions{
		Stdin:      r.boolValue("stdin"),
		Stdout:     r.boolValue("stdout"),
		Stderr:     r.boolValue("stderr"),
		Logs:       r.boolValue("logs"),
		Stream:     r.boolValue("stream"),
		DetachKeys: r.query.Get("detachKeys"),
		Streams:    h.streams,
	})
	if !h.hijacked() {
		h.release()
		if err == nil {
			return errors.New("attach ended without taking the connection over")
		}
		return err
	}
	if err != nil && ctx.Err() == nil {
		s.log.Debug("attach ended with an error", "container", name, "error", err)
	}
	h.finish(err, "Error attaching: ")
	return nil
}
