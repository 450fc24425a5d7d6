package server

import (
	"errors"
	"net/http"

	"github.com/moby/moby/api/types/container"
)

func (s *Server) execRoutes() []route {
	return []route{
		{method: "POST", pattern: "/containers/{name}/exec", h: s.postExecCreate},
		{method: "POST", pattern: "/exec/{id}/start", h: s.postExecStart, stream: true},
		{method: "POST", pattern: "/exec/{id}/resize", h: s.postExecResize},
		{method: "GET", pattern: "/exec/{id}/json", h: s.getExec},
	}
}

// exec is the request's exec ID, refused as "No such exec instance" when
// it cannot be one.
func (r *request) exec() (string, error) {
	id := r.vars["id"]
	return id, checkExecRef(id)
}

func (s *Server) postExecCreate(w http.ResponseWriter, r *request) error {
	name, err := r.container()
	if err != nil {
		return err
	}
	var req container.ExecCreateRequest
	if err := s.readJSON(w, r, &req); err != nil {
		return err
	}
	if len(req.Cmd) == 0 {
		return invalidf("No exec command specified")
	}
	if r.olderThan("1.42") {
		req.ConsoleSize = nil
	}
	id, err := s.backend.ExecCreate(r.ctx(), name, req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, container.ExecCreateResponse{ID: id})
}

// postExecStart runs the exec: detached, it answers once it started;
// attached, it hijacks the connection when the backend is ready and
// streams until the process ends.
func (s *Server) postExecStart(w http.ResponseWriter, r *request) error {
	id, err := r.exec()
	if err != nil {
		return err
	}
	var req container.ExecStartRequest
	if err := s.readJSON(w, r, &req); err != nil {
		return err
	}
	if r.olderThan("1.42") || !req.Tty {
		req.ConsoleSize = nil
	}
	if req.Detach {
		if err := s.backend.ExecStart(r.ctx(), id, ExecStartOptions{Detach: true, Tty: req.Tty, ConsoleSize: req.ConsoleSize}); err != nil {
			return err
		}
		w.WriteHeader(http.StatusOK)
		return nil
	}
	if _, ok := w.(http.Hijacker); !ok {
		return invalidf("error starting exec %s, hijack connection missing", id)
	}
	h, ctx := newHijack(w, r)
	err = s.backend.ExecStart(ctx, id, ExecStartOptions{Tty: req.Tty, ConsoleSize: req.ConsoleSize, Streams: h.streams})
	if !h.hijacked() {
		h.release()
		if err == nil {
			return errors.New("exec ended without taking the connection over")
		}
		return err
	}
	if err != nil && ctx.Err() == nil {
		s.log.Debug("exec ended with an error", "exec", id, "error", err)
	}
	h.finish(err, "")
	return nil
}

func (s *Server) postExecResize(w http.ResponseWriter, r *request) error {
	id, err := r.exec()
	if err != nil {
		return err
	}
	h, wd, err := r.ttySize()
	if err != nil {
		return err
	}
	if err := s.backend.ExecResize(r.ctx(), id, h, wd); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) getExec(w http.ResponseWriter, r *request) error {
	id, err := r.exec()
	if err != nil {
		return err
	}
	e, err := s.backend.ExecInspect(r.ctx(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, e)
}
