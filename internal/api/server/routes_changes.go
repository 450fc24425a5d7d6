package server

import (
	"net/http"

	"github.com/moby/moby/api/types/container"
)

// GET /containers/{id}/changes is docker diff: what the container changed
// in its image's filesystem.

func (s *Server) changesRoutes() []route {
	return []route{
		{method: "GET", pattern: "/containers/{name}/changes", h: s.getContainerChanges},
	}
}

func (s *Server) getContainerChanges(w http.ResponseWriter, r *request) error {
	name, err := r.container()
	if err != nil {
		return err
	}
	changes, err := s.backend.ContainerChanges(r.ctx(), name)
	if err != nil {
		return err
	}
	if changes == nil {
		changes = []container.FilesystemChange{}
	}
	return writeJSON(w, http.StatusOK, changes)
}
