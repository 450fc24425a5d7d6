package server

import (
	"net/http"
)

// GET /containers/{id}/export is docker export: the container's whole
// filesystem as one tar.

func (s *Server) exportRoutes() []route {
	return []route{
		{method: "GET", pattern: "/containers/{name}/export", h: s.getContainerExport, cpu: true},
	}
}

func (s *Server) getContainerExport(w http.ResponseWriter, r *request) error {
	name, err := r.container()
	if err != nil {
		return err
	}
	out := &lazyWriter{w: w, contentType: "application/x-tar"}
	err = s.backend.ContainerExport(r.ctx(), name, out)
	switch {
	case err != nil && out.started:
		// Only a broken connection tells the client its tar is cut short.
		s.log.Warn("container export failed mid-stream", "container", name, "error", err)
		panic(http.ErrAbortHandler)
	case err != nil:
		return err
	case !out.started:
		_, _ = out.Write(nil)
	}
	return nil
}
