package server

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/volume"

	"github.com/berth-project/berth/internal/errdefs"
)

// The filters GET /volumes and POST /volumes/prune accept, as dockerd.
var (
	volumeListFilters  = []string{"dangling", "driver", "label", "name"}
	volumePruneFilters = []string{"label", "label!", "all"}
)

// clusterVolumesVersion is the API version that brought swarm's cluster
// volumes (and the ClusterVolumeSpec of a create); before it dockerd
// ignores the field.
const clusterVolumesVersion = "1.42"

// errNotSwarmManager is dockerd's answer to swarm-only requests on an
// engine outside a swarm, which Berth always is.
var errNotSwarmManager = errdefs.Errorf(errdefs.ErrUnavailable,
	`This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.`)

func (s *Server) volumeRoutes() []route {
	return []route{
		{method: "GET", pattern: "/volumes", h: s.getVolumes},
		{method: "POST", pattern: "/volumes/create", h: s.postVolumesCreate},
		{method: "POST", pattern: "/volumes/prune", h: s.postVolumesPrune},
		{method: "GET", pattern: "/volumes/{name}", h: s.getVolume},
		{method: "PUT", pattern: "/volumes/{name}", h: s.putVolume},
		{method: "DELETE", pattern: "/volumes/{name}", h: s.deleteVolume},
	}
}

func (s *Server) getVolumes(w http.ResponseWriter, r *request) error {
	filters, err := r.filtersValue()
	if err != nil {
		return err
	}
	if err := checkFilterKeys(filters, volumeListFilters); err != nil {
		return err
	}
	if d, ok := filters["dangling"]; ok {
		if len(d) != 1 || (d[0] != "true" && d[0] != "false" && d[0] != "1" && d[0] != "0") {
			return invalidf("invalid filter 'dangling=%s'", strings.Join(d, ","))
		}
	}
	list, err := s.backend.VolumeList(r.ctx(), filters)
	if err != nil {
		return err
	}
	if list.Volumes == nil {
		list.Volumes = []volume.Volume{}
	}
	for i := range list.Volumes {
		list.Volumes[i] = forVersion(r, list.Volumes[i])
	}
	return writeJSON(w, http.StatusOK, list)
}

// forVersion drops what the request's API version does not know.
func forVersion(r *request, v volume.Volume) volume.Volume {
	if r.olderThan(clusterVolumesVersion) {
		v.ClusterVolume = nil
	}
	return v
}

func (s *Server) getVolume(w http.ResponseWriter, r *request) error {
	v, err := s.backend.VolumeInspect(r.ctx(), r.vars["name"])
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, forVersion(r, v))
}

func (s *Server) postVolumesCreate(w http.ResponseWriter, r *request) error {
	var req volume.CreateRequest
	if err := s.readJSON(w, r, &req); err != nil {
		return err
	}
	if req.ClusterVolumeSpec != nil {
		if !r.olderThan(clusterVolumesVersion) {
			return errNotSwarmManager
		}
		req.ClusterVolumeSpec = nil
	}
	if err := checkVolumeCreate(req); err != nil {
		return err
	}
	if req.Driver == "" {
		req.Driver = "local"
	}
	v, err := s.backend.VolumeCreate(r.ctx(), req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, forVersion(r, v))
}

// checkVolumeCreate refuses what no driver could take: names and option
// keys with control characters or NUL (which would reach paths and
// mount(2)), and a name longer than a path component can be.
func checkVolumeCreate(req volume.CreateRequest) error {
	if len(req.Name) > 255 {
		return invalidf("volume name is too long: %d bytes (at most 255)", len(req.Name))
	}
	if hasControl(req.Name) {
		return invalidf("invalid volume name %q: control characters are not allowed", req.Name)
	}
	if hasControl(req.Driver) {
		return invalidf("invalid volume driver %q: control characters are not allowed", req.Driver)
	}
	for k, v := range req.DriverOpts {
		if k == "" || hasControl(k) || strings.ContainsRune(v, 0) {
			return invalidf("invalid volume option %q", k)
		}
	}
	return nil
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(c rune) bool { return c < 0x20 || c == 0x7f })
}

// putVolume is a cluster volume's update: swarm only, as in dockerd on an
// engine outside a swarm.
func (s *Server) putVolume(w http.ResponseWriter, r *request) error {
	return errdefs.Errorf(errdefs.ErrUnavailable, "volume update only valid for cluster volumes, but swarm is unavailable")
}

func (s *Server) deleteVolume(w http.ResponseWriter, r *request) error {
	return noContent(w, s.backend.VolumeRemove(r.ctx(), r.vars["name"], r.boolValue("force")))
}

func (s *Server) postVolumesPrune(w http.ResponseWriter, r *request) error {
	filters, err := r.filtersValue()
	if err != nil {
		return err
	}
	if err := checkFilterKeys(filters, volumePruneFilters); err != nil {
		return err
	}
	// API 1.42 made prune remove only anonymous volumes unless all=true;
	// older clients keep the old meaning, as dockerd does for them.
	if r.olderThan("1.42") && !contains(filters["all"], "true") {
		filters["all"] = append(filters["all"], "true")
	}
	if all := filters["all"]; len(all) > 1 {
		return invalidf("invalid filter 'all=%s': only one value is expected", all)
	} else if len(all) == 1 {
		if _, err := strconv.ParseBool(all[0]); err != nil {
			return invalidf("invalid filter 'all': %v", err)
		}
	}
	rep, err := s.backend.VolumesPrune(r.ctx(), filters)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rep)
}
