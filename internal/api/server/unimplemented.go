package server

import (
	"net/http"
	"strings"

	"github.com/moby/moby/api/types/build"

	"github.com/berth-project/berth/internal/errdefs"
)

// This file holds the endpoints of later issues. Berth has no
// build cache yet, so pruning it truthfully removes nothing: that answer
// lets `docker system prune` work. Everything else there answers 501,
// saying what is missing.

var errPageNotFound = errdefs.Errorf(errdefs.ErrNotFound, "page not found")

// laterFamilies are the top-level paths of later issues, by what they are.
var laterFamilies = map[string]string{
	"build":        "image builds",
	"swarm":        "swarm mode",
	"nodes":        "swarm nodes",
	"services":     "swarm services",
	"tasks":        "swarm tasks",
	"secrets":      "swarm secrets",
	"configs":      "swarm configs",
	"plugins":      "plugins",
	"distribution": "distribution inspect",
	"session":      "build sessions",
	"grpc":         "build sessions",
}

// notRouted answers a request no route matched: a later issue's family
// gets 501, anything else docker's 404.
func notRouted(method string, segs []string) error {
	if len(segs) > 0 {
		if what, ok := laterFamilies[segs[0]]; ok {
			return notImplementedf("Berth does not implement %s yet (%s /%s)", what, method, strings.Join(segs, "/"))
		}
	}
	return errPageNotFound
}

// later is the handler of a known endpoint of a later issue.
func later(what string) handler {
	return func(w http.ResponseWriter, r *request) error {
		return notImplementedf("Berth does not implement %s yet", what)
	}
}

func (s *Server) placeholderRoutes() []route {
	return []route{
		{method: "POST", pattern: "/build/prune", h: s.postBuildPrune},
		// No plugins are installed: `docker inspect NAME` asks for a plugin
		// last and needs a 404 to say "No such object".
		{method: "GET", pattern: "/plugins", h: s.getPlugins},
		{method: "GET", pattern: "/plugins/{name}/json", h: s.getPlugin},

		{method: "GET", pattern: "/containers/{name}/checkpoints", h: later("checkpoints")},
		{method: "POST", pattern: "/containers/{name}/checkpoints", h: later("checkpoints")},
		{method: "DELETE", pattern: "/containers/{name}/checkpoints/{checkpoint}", h: later("checkpoints")},
		{method: "POST", pattern: "/build", h: later("image builds")},
	}
}

func (s *Server) getPlugins(w http.ResponseWriter, r *request) error {
	if _, err := r.filtersValue(); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, []struct{}{})
}

func (s *Server) getPlugin(w http.ResponseWriter, r *request) error {
	return errdefs.Errorf(errdefs.ErrNotFound, "plugin %q not found", r.vars["name"])
}

func (s *Server) postBuildPrune(w http.ResponseWriter, r *request) error {
	if _, err := r.filtersValue(); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, build.CachePruneReport{})
}
