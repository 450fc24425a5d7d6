package server

import (
	"encoding/json"
	"mime"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
)

func (s *Server) systemRoutes() []route {
	return []route{
		{method: "GET", pattern: "/_ping", h: s.ping},
		{method: "HEAD", pattern: "/_ping", h: s.ping},
		{method: "GET", pattern: "/version", h: s.getVersion},
		{method: "GET", pattern: "/info", h: s.getInfo},
		{method: "GET", pattern: "/system/df", h: s.getDiskUsage},
		{method: "GET", pattern: "/events", h: s.getEvents, stream: true},
		{method: "POST", pattern: "/auth", h: s.postAuth},
	}
}

// ping answers the docker CLI's first request; the version headers set by
// the middleware are what the client negotiates with.
func (s *Server) ping(w http.ResponseWriter, r *request) error {
	h := w.Header()
	h.Add("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Add("Pragma", "no-cache")
	if s.cfg.builderVersion != "" {
		h.Set("Builder-Version", s.cfg.builderVersion)
	}
	h.Set("Swarm", string(swarm.LocalNodeStateInactive))
	h.Set("Content-Type", "text/plain; charset=utf-8")
	if r.Method == http.MethodHead {
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return nil
	}
	w.WriteHeader(http.StatusOK)
	_, err := w.Write([]byte("OK"))
	return err
}

func (s *Server) getVersion(w http.ResponseWriter, r *request) error {
	v, err := s.backend.Version(r.ctx())
	if err != nil {
		return err
	}
	// The server, not the engine, knows which API versions it serves.
	v.APIVersion, v.MinAPIVersion = s.cfg.maxVersion, s.cfg.minVersion
	if v.Os == "" {
		v.Os = runtime.GOOS
	}
	if v.Arch == "" {
		v.Arch = runtime.GOARCH
	}
	fillEngineComponent(&v)
	return writeJSON(w, http.StatusOK, v)
}

// fillEngineComponent completes the "Engine" component, which the docker
// CLI shows instead of the top-level fields when components are present:
// the API versions are the server's, the rest defaults to the top level.
func fillEngineComponent(v *system.VersionResponse) {
	for i := range v.Components {
		c := &v.Components[i]
		if c.Name != "Engine" {
			continue
		}
		if c.Details == nil {
			c.Details = map[string]string{}
		}
		c.Details["ApiVersion"], c.Details["MinAPIVersion"] = v.APIVersion, v.MinAPIVersion
		for k, val := range map[string]string{
			"GitCommit": v.GitCommit, "GoVersion": v.GoVersion, "Os": v.Os, "Arch": v.Arch,
			"KernelVersion": v.KernelVersion, "BuildTime": v.BuildTime, "Experimental": strconv.FormatBool(v.Experimental),
		} {
			if _, ok := c.Details[k]; !ok {
				c.Details[k] = val
			}
		}
	}
}

func (s *Server) getInfo(w http.ResponseWriter, r *request) error {
	info, err := s.backend.Info(r.ctx())
	if err != nil {
		return err
	}
	if info.Swarm.LocalNodeState == "" {
		info.Swarm.LocalNodeState = swarm.LocalNodeStateInactive
	}
	extra := map[string]any{}
	if r.olderThan("1.44") {
		for k, rt := range info.Runtimes {
			rt.Status = nil
			info.Runtimes[k] = rt
		}
	}
	if r.olderThan("1.46") {
		info.Containerd = nil
	}
	if r.olderThan("1.49") {
		info.FirewallBackend = nil
	}
	if r.olderThan("1.50") {
		info.DiscoveredDevices = nil
		extra["BridgeNfIptables"] = false
		extra["BridgeNfIp6tables"] = false
	}
	return writeJSON(w, http.StatusOK, withFields(info, extra))
}

// diskUsageTypes reads the "type" parameters of /system/df (API 1.42 on);
// none means every type.
func diskUsageTypes(r *request) ([]string, error) {
	types := r.query["type"]
	if r.olderThan("1.42") || len(types) == 0 {
		return nil, nil
	}
	for _, t := range types {
		switch system.DiskUsageObject(t) {
		case system.ContainerObject, system.ImageObject, system.VolumeObject, system.BuildCacheObject:
		default:
			return nil, invalidf("unknown object type: %s", t)
		}
	}
	return types, nil
}

func (s *Server) getDiskUsage(w http.ResponseWriter, r *request) error {
	types, err := diskUsageTypes(r)
	if err != nil {
		return err
	}
	du, err := s.backend.DiskUsage(r.ctx(), DiskUsageOptions{Types: types, Verbose: true})
	if err != nil {
		return err
	}
	out := legacyDiskUsage(du, types)
	if r.olderThan("1.44") {
		// Image summaries had VirtualSize, which old clients show.
		if imgs, ok := out["Images"].([]image.Summary); ok {
			withSize := make([]any, len(imgs))
			for i, img := range imgs {
				withSize[i] = withFields(img, map[string]any{"VirtualSize": img.Size})
			}
			out["Images"] = withSize
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// legacyDiskUsage renders /system/df as clients before API 1.52 read it:
// the item lists at the top (LayersSize, Images, Containers, Volumes,
// BuildCache, each [] rather than null when asked for) beside the usage
// summaries, which carry no items there.
func legacyDiskUsage(du system.DiskUsage, types []string) map[string]any {
	want := func(t system.DiskUsageObject) bool {
		return len(types) == 0 || contains(types, string(t))
	}
	out := map[string]any{}
	if want(system.ImageObject) {
		u := orZero(du.ImageUsage)
		out["LayersSize"] = u.TotalSize
		out["Images"] = nonNil(u.Items)
		u.Items = nil
		out["ImageUsage"] = u
	}
	if want(system.ContainerObject) {
		u := orZero(du.ContainerUsage)
		out["Containers"] = nonNil(u.Items)
		u.Items = nil
		out["ContainerUsage"] = u
	}
	if want(system.VolumeObject) {
		u := orZero(du.VolumeUsage)
		out["Volumes"] = nonNil(u.Items)
		u.Items = nil
		out["VolumeUsage"] = u
	}
	if want(system.BuildCacheObject) {
		u := orZero(du.BuildCacheUsage)
		out["BuildCache"] = nonNil(u.Items)
		u.Items = nil
		out["BuildCacheUsage"] = u
	}
	return out
}

func orZero[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (s *Server) getEvents(w http.ResponseWriter, r *request) error {
	since, err := r.timestampValue("since")
	if err != nil {
		return err
	}
	until, err := r.timestampValue("until")
	if err != nil {
		return err
	}
	if !until.IsZero() && until.Before(since) {
		return invalidf("`since` time (%s) cannot be after `until` time (%s)", r.query.Get("since"), r.query.Get("until"))
	}
	filters, err := r.filtersValue()
	if err != nil {
		return err
	}

	if err := checkFilterKeys(filters, eventFilterKeys); err != nil {
		return err
	}

	// The header goes with the first event, or once the subscription has
	// stood for a moment (clients wait for it before they report that they
	// listen), so a backend that refuses at once still gets its status.
	contentType := negotiateEventsType(r.Header.Get("Accept"))
	var mu sync.Mutex
	started := false
	begin := func() {
		if !started {
			started = true
			w.Header().Set("Content-Type", contentType)
			w.WriteHeader(http.StatusOK)
			flush(w)
		}
	}
	timer := time.AfterFunc(eventsHeaderDelay, func() {
		mu.Lock()
		defer mu.Unlock()
		begin()
	})
	defer timer.Stop()

	skipImageCreate := r.olderThan("1.46")
	send := func(m events.Message) error {
		if skipImageCreate && m.Type == events.ImageEventType && m.Action == events.ActionCreate {
			return nil
		}
		var buf []byte
		if contentType == types.MediaTypeJSONSequence {
			buf = append(buf, 0x1e)
		}
		b, err := json.Marshal(legacyEvent(m))
		if err != nil {
			return err
		}
		buf = append(append(buf, b...), '\n')
		mu.Lock()
		defer mu.Unlock()
		begin()
		if _, err := w.Write(buf); err != nil {
			return err
		}
		flush(w)
		return nil
	}
	err = s.backend.Events(r.ctx(), EventsOptions{Since: since, Until: until, Filters: filters}, send)
	timer.Stop()
	mu.Lock()
	defer mu.Unlock()
	if err != nil && !started {
		return err
	}
	begin()
	if err != nil && r.ctx().Err() != nil {
		// The client left or the server is stopping: not an error.
		return nil
	}
	return err
}

// eventsHeaderDelay is how long an event stream may stay silent before
// its header goes out anyway.
const eventsHeaderDelay = 50 * time.Millisecond

// eventFilterKeys are the filters docker's events accept.
var eventFilterKeys = []string{"config", "container", "daemon", "event", "image", "label",
	"network", "node", "plugin", "scope", "secret", "service", "type", "volume"}

// checkFilterKeys refuses keys outside accepted, with docker's words.
func checkFilterKeys(f Filters, accepted []string) error {
	for k := range f {
		if !contains(accepted, k) {
			return invalidf("invalid filter '%s'", k)
		}
	}
	return nil
}

// legacyEvent adds the fields clients before API 1.52 read (the docker CLI
// 20.10's stats command follows containers by "id").
func legacyEvent(m events.Message) any {
	switch m.Type {
	case events.ContainerEventType:
		return withFields(m, map[string]any{"id": m.Actor.ID, "status": m.Action, "from": m.Actor.Attributes["image"]})
	case events.ImageEventType:
		return withFields(m, map[string]any{"id": m.Actor.ID, "status": m.Action})
	}
	return m
}

// negotiateEventsType picks the event stream's media type from Accept:
// newline-delimited JSON or JSON text sequences when asked, else what
// dockerd has always sent, "application/json".
func negotiateEventsType(accept string) string {
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case types.MediaTypeNDJSON, types.MediaTypeJSONLines:
			return types.MediaTypeNDJSON
		case types.MediaTypeJSONSequence:
			return types.MediaTypeJSONSequence
		}
	}
	return types.MediaTypeJSON
}

func (s *Server) postAuth(w http.ResponseWriter, r *request) error {
	var auth registry.AuthConfig
	if err := s.readJSON(w, r, &auth); err != nil {
		return err
	}
	status, token, err := s.backend.Login(r.ctx(), auth)
	if err != nil {
		return err
	}
	if status == "" {
		status = "Login Succeeded"
	}
	return writeJSON(w, http.StatusOK, registry.AuthResponse{Status: status, IdentityToken: token})
}
