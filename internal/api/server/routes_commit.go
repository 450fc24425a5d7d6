package server

import (
	"net/http"

	"github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/errdefs"
)

// POST /commit makes an image of a container's changes.

func (s *Server) commitRoutes() []route {
	return []route{
		{method: "POST", pattern: "/commit", h: s.postCommit, cpu: true},
	}
}

// commitBody is the optional container.Config of a commit. Embedding the
// pointer leaves it nil for an absent body, "null" and "{}" alike, as
// dockerd reads it: then nothing of the container's config is overridden.
type commitBody struct {
	*container.Config
}

func (s *Server) postCommit(w http.ResponseWriter, r *request) error {
	name := r.query.Get("container")
	if name == "" {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "No container name or ID supplied")
	}
	if err := checkContainerRef(name); err != nil {
		return err
	}
	var body commitBody
	if err := s.readJSON(w, r, &body); err != nil {
		return err
	}
	opts := CommitOptions{
		Author:  r.query.Get("author"),
		Comment: r.query.Get("comment"),
		Pause:   r.boolOr("pause", true),
		Changes: r.query["changes"],
		Config:  body.Config,
	}
	// A tag without a repository is ignored, as dockerd does.
	if repo := r.query.Get("repo"); repo != "" {
		var err error
		if opts.Repo, opts.Tag, err = repoTag(repo, r.query.Get("tag")); err != nil {
			return err
		}
	}
	id, err := s.backend.ContainerCommit(r.ctx(), name, opts)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, container.CommitResponse{ID: id})
}
