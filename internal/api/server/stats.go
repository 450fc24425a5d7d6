package server

import (
	"encoding/json"
	"net/http"

	"github.com/moby/moby/api/types/container"
)

// getContainerStats sends one sample (stream=0) or one per interval until
// the client leaves (the default); the header goes with the first sample,
// so a missing container is still a 404.
func (s *Server) getContainerStats(w http.ResponseWriter, r *request) error {
	name, err := r.container()
	if err != nil {
		return err
	}
	opts := StatsOptions{Stream: r.boolOr("stream", true)}
	if !r.olderThan("1.41") {
		opts.OneShot = r.boolOr("one-shot", false)
	}
	if opts.OneShot && opts.Stream {
		return invalidf("cannot have stream=true and one-shot=true")
	}
	enc := json.NewEncoder(w)
	started := false
	send := func(st container.StatsResponse) error {
		if !started {
			started = true
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
		}
		if err := enc.Encode(st); err != nil {
			return err
		}
		flush(w)
		return nil
	}
	err = s.backend.ContainerStats(r.ctx(), name, opts, send)
	if started && r.ctx().Err() != nil {
		return nil
	}
	return err
}
