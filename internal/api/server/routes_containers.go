package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/errdefs"
)

func (s *Server) containerRoutes() []route {
	return []route{
		{method: "GET", pattern: "/containers/json", h: s.getContainers},
		{method: "POST", pattern: "/containers/create", h: s.postContainersCreate},
		{method: "POST", pattern: "/containers/prune", h: s.postContainersPrune},
		{method: "GET", pattern: "/containers/{name}/json", h: s.getContainer},
		{method: "GET", pattern: "/containers/{name}/top", h: s.getContainerTop},
		{method: "GET", pattern: "/containers/{name}/logs", h: s.getContainerLogs, stream: true},
		{method: "GET", pattern: "/containers/{name}/stats", h: s.getContainerStats, stream: true},
		{method: "POST", pattern: "/containers/{name}/resize", h: s.postContainerResize},
		{method: "POST", pattern: "/containers/{name}/start", h: s.postContainerStart},
		{method: "POST", pattern: "/containers/{name}/stop", h: s.postContainerStop},
		{method: "POST", pattern: "/containers/{name}/restart", h: s.postContainerRestart},
		{method: "POST", pattern: "/containers/{name}/kill", h: s.postContainerKill},
		{method: "POST", pattern: "/containers/{name}/update", h: s.postContainerUpdate},
		{method: "POST", pattern: "/containers/{name}/rename", h: s.postContainerRename},
		{method: "POST", pattern: "/containers/{name}/pause", h: s.postContainerPause},
		{method: "POST", pattern: "/containers/{name}/unpause", h: s.postContainerUnpause},
		{method: "POST", pattern: "/containers/{name}/attach", h: s.postContainerAttach, stream: true},
		{method: "GET", pattern: "/containers/{name}/attach/ws", h: s.getContainerAttachWS, stream: true},
		{method: "POST", pattern: "/containers/{name}/wait", h: s.postContainerWait, stream: true},
		{method: "DELETE", pattern: "/containers/{name}", h: s.deleteContainer},
	}
}

// container is the request's container reference, refused as "No such
// container" when it cannot name one.
func (r *request) container() (string, error) {
	name := r.vars["name"]
	return name, checkContainerRef(name)
}

func (s *Server) getContainers(w http.ResponseWriter, r *request) error {
	filters, err := r.filtersValue()
	if err != nil {
		return err
	}
	opts := ContainerListOptions{All: r.boolValue("all"), Size: r.boolValue("size"), Filters: filters}
	if v := r.query.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return invalidf("invalid value for limit %q: must be a number", v)
		}
		opts.Limit = n
	}
	// Old clients send "since" and "before" as parameters; they are
	// filters since API 1.22.
	for _, k := range []string{"since", "before"} {
		if v := r.query.Get(k); v != "" {
			opts.Filters[k] = append(opts.Filters[k], v)
		}
	}
	list, err := s.backend.ContainerList(r.ctx(), opts)
	if err != nil {
		return err
	}
	if list == nil {
		list = []container.Summary{}
	}
	for i := range list {
		c := &list[i]
		c.Health = nil // API 1.52
		if r.olderThan("1.46") {
			c.HostConfig.Annotations = nil
		}
		if r.olderThan("1.48") {
			c.ImageManifestDescriptor = nil
		}
	}
	return writeJSON(w, http.StatusOK, list)
}

func (s *Server) postContainersCreate(w http.ResponseWriter, r *request) error {
	if err := checkJSONType(r); err != nil {
		return err
	}
	body := http.MaxBytesReader(w, r.Body, s.cfg.maxJSONBody)
	defer body.Close()
	req, err := decodeCreate(body, createInput{
		version: r.version, query: r.query, cgroupUnified: *s.cfg.cgroupUnified, limit: s.cfg.maxJSONBody,
	})
	if err != nil {
		return err
	}
	resp, err := s.backend.ContainerCreate(r.ctx(), req)
	if err != nil {
		return err
	}
	if resp.Warnings == nil {
		resp.Warnings = []string{}
	}
	return writeJSON(w, http.StatusCreated, resp)
}

func (s *Server) postContainersPrune(w http.ResponseWriter, r *request) error {
	filters, err := r.filtersValue()
	if err != nil {
		return err
	}
	report, err := s.backend.ContainersPrune(r.ctx(), filters)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, report)
}

func (s *Server) getContainer(w http.ResponseWriter, r *request) error {
	name, err := r.container()
	if err != nil {
		return err
	}
	c, err := s.backend.ContainerInspect(r.ctx(), name, r.boolValue("size"))
	if err != nil {
		return err
	}
	if r.olderThan("1.48") {
		c.ImageManifestDescriptor = nil
	}
	if r.olderThan("1.52") {
		return writeJSON(w, http.StatusOK, inspectWithLegacyNetwork{c})
	}
	return writeJSON(w, http.StatusOK, c)
}

func (s *Server) getContainerTop(w http.ResponseWriter, r *request) error {
	name, err := r.container()
	if err != nil {
		return err
	}
	top, err := s.backend.ContainerTop(r.ctx(), name, r.query.Get("ps_args"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, top)
}

func (s *Server) postContainerResize(w http.ResponseWriter, r *request) error {
	name, err := r.container()
	if err != nil {
		return err
	}
	h, wd, err := r.ttySize()
	if err != nil {
		return err
	}
	if err := s.backend.ContainerResize(r.ctx(), name, h, wd); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) postContainerStart(w http.ResponseWriter, r *request) error {
	name, err := r.container()
	if err != nil {
		return err
	}
	// A host config in the body went away in API 1.24; "{}" or "null"
	// (at most 7 bytes) is still sent by some clients and is harmless.
	if r.ContentLength > 7 || r.ContentLength == -1 {
		return invalidf("starting container with non-empty request body was deprecated since API v1.22 and removed in v1.24")
	}
	if r.query.Get("checkpoint") != "" {
		return notImplementedf("Berth does not implement checkpoints yet")
	}
	return noContent(w, s.backend.ContainerStart(r.ctx(), name))
}

// stopOptions reads "t" and, from API 1.42, "signal".
func (r *request) stopOptions() (StopOptions, error) {
	var opts StopOptions
	if !r.olderThan("1.42") {
		if sig := r.query.Get("signal"); sig != "" {
			if _, err := ParseSignal(sig); err != nil {
				return opts, err
			}
			opts.Signal = sig
		}
	}
	t, err := r.timeoutValue()
	opts.Timeout = t
	return opts, err
}

func (s *Server) postContainerStop(w http.ResponseWriter, r *request) error {
	name, err := r.container()
	if err != nil {
		return err
	}
	opts, err := r.stopOptions()
	if err != nil {
		return err
	}
	return noContent(w, s.backend.ContainerStop(r.ctx(), name, opts))
}

func (s *Server) postContainerRestart(w http.ResponseWriter, r *request) error {
	name, err := r.container()
	if err != nil {
		return err
	}
	opts, err := r.stopOptions()
	if err != nil {
		return err
	}
	return noContent(w, s.backend.ContainerRestart(r.ctx(), name, opts))
}

func (s *Server) postContainerKill(w http.ResponseWriter, r *request) error {
	name, err := r.container()
	if err != nil {
		return err
	}
	sig := r.query.Get("signal")
	if sig != "" {
		if _, err := ParseSignal(sig); err != nil {
			return errdefs.Wrapf(err, "Cannot kill container: %s", name)
		}
	}
	if err := s.backend.ContainerKill(r.ctx(), name, sig); err != nil {
		return errdefs.Wrapf(err, "Cannot kill container: %s", name)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) postContainerUpdate(w http.ResponseWriter, r *request) error {
	name, err := r.container()
	if err != nil {
		return err
	}
	var update container.UpdateConfig
	if err := s.readJSON(w, r, &update); err != nil {
		return err
	}
	if r.olderThan("1.40") {
		update.PidsLimit = nil
	}
	if p := update.PidsLimit; p != nil && *p <= 0 {
		// 0 and -1 (historically any negative) both lift the limit.
		var unlimited int64
		update.PidsLimit = &unlimited
	}
	resp, err := s.backend.ContainerUpdate(r.ctx(), name, update)
	if err != nil {
		return err
	}
	if resp.Warnings == nil {
		resp.Warnings = []string{}
	}
	return writeJSON(w, http.StatusOK, resp)
}

func (s *Server) postContainerRename(w http.ResponseWriter, r *request) error {
	name, err := r.container()
	if err != nil {
		return err
	}
	newName := r.query.Get("name")
	if newName == "" {
		return invalidf("Neither old nor new names may be empty")
	}
	if validateContainerName(newName) != nil {
		// docker's words: it checks the name in its "/" form as it
		// allocates it.
		return invalidf("Error when allocating new name: Invalid container name (/%s), only %s are allowed",
			strings.TrimPrefix(newName, "/"), validContainerNameChars)
	}
	return noContent(w, s.backend.ContainerRename(r.ctx(), name, newName))
}

func (s *Server) postContainerPause(w http.ResponseWriter, r *request) error {
	name, err := r.container()
	if err != nil {
		return err
	}
	return noContent(w, s.backend.ContainerPause(r.ctx(), name))
}

func (s *Server) postContainerUnpause(w http.ResponseWriter, r *request) error {
	name, err := r.container()
	if err != nil {
		return err
	}
	return noContent(w, s.backend.ContainerUnpause(r.ctx(), name))
}

func (s *Server) deleteContainer(w http.ResponseWriter, r *request) error {
	name, err := r.container()
	if err != nil {
		return err
	}
	opts := RemoveOptions{Force: r.boolValue("force"), RemoveVolumes: r.boolValue("v"), RemoveLink: r.boolValue("link")}
	return noContent(w, s.backend.ContainerRemove(r.ctx(), name, opts))
}

// waitCondition reads "condition" (API 1.30 on; before, there was only
// not-running).
func (r *request) waitCondition() (container.WaitCondition, error) {
	v := r.query.Get("condition")
	if r.olderThan("1.30") || v == "" {
		return container.WaitConditionNotRunning, nil
	}
	switch c := container.WaitCondition(v); c {
	case container.WaitConditionNotRunning, container.WaitConditionNextExit, container.WaitConditionRemoved:
		return c, nil
	}
	return "", invalidf("invalid condition: %q", v)
}

// postContainerWait sends the 200 header as soon as the wait is
// registered (API 1.30 on), so the client knows it cannot miss the exit,
// then the result when it comes.
func (s *Server) postContainerWait(w http.ResponseWriter, r *request) error {
	name, err := r.container()
	if err != nil {
		return err
	}
	cond, err := r.waitCondition()
	if err != nil {
		return err
	}
	ch, err := s.backend.ContainerWait(r.ctx(), name, cond)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	if !r.olderThan("1.30") {
		w.WriteHeader(http.StatusOK)
		flush(w)
	}
	var resp container.WaitResponse
	select {
	case resp = <-ch:
	case <-r.ctx().Done():
		// The client left, or the server is stopping.
		return nil
	}
	// Before 1.34 a failed removal was reported by an empty body.
	if cond == container.WaitConditionRemoved && r.olderThan("1.34") && resp.Error != nil {
		return nil
	}
	return json.NewEncoder(w).Encode(resp)
}
