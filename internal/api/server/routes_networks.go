package server

import (
	"net/http"
	"strconv"

	"github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/internal/errdefs"
)

func (s *Server) networkRoutes() []route {
	return []route{
		{method: "GET", pattern: "/networks", h: s.getNetworks},
		{method: "POST", pattern: "/networks/create", h: s.postNetworksCreate},
		{method: "POST", pattern: "/networks/prune", h: s.postNetworksPrune},
		{method: "GET", pattern: "/networks/{id}", h: s.getNetwork},
		{method: "DELETE", pattern: "/networks/{id}", h: s.deleteNetwork},
		{method: "POST", pattern: "/networks/{id}/connect", h: s.postNetworkConnect},
		{method: "POST", pattern: "/networks/{id}/disconnect", h: s.postNetworkDisconnect},
	}
}

// network is the request's network reference. Any string may name a
// network (docker puts no rule on names but "not blank"), but one that
// could never have been created is not found without asking the engine.
func (r *request) network() (string, error) {
	ref := r.vars["id"]
	if checkNetworkName(ref) != nil {
		return "", errdefs.Errorf(errdefs.ErrNotFound, "network %s not found", ref)
	}
	return ref, nil
}

func (s *Server) getNetworks(w http.ResponseWriter, r *request) error {
	filters, err := r.filtersValue()
	if err != nil {
		return err
	}
	if err := checkNetworkListFilters(filters); err != nil {
		return err
	}
	list, err := s.backend.NetworkList(r.ctx(), filters)
	if err != nil {
		return err
	}
	// Before 1.28 the list carried each network's containers, as
	// inspect does.
	if r.olderThan("1.28") {
		full := make([]network.Inspect, 0, len(list))
		for _, n := range list {
			in, err := s.backend.NetworkInspect(r.ctx(), n.ID, NetworkInspectOptions{})
			if errdefs.IsNotFound(err) {
				continue // removed in between
			}
			if err != nil {
				return err
			}
			full = append(full, normalizeInspect(in))
		}
		return writeJSON(w, http.StatusOK, full)
	}
	// dockerd lists networks as inspect does, with their containers
	// left out: clients written against it find an empty map.
	type listed struct {
		network.Network
		Containers map[string]network.EndpointResource `json:"Containers"`
	}
	out := make([]listed, 0, len(list))
	for _, n := range list {
		normalizeNetwork(&n.Network)
		out = append(out, listed{Network: n.Network, Containers: map[string]network.EndpointResource{}})
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) getNetwork(w http.ResponseWriter, r *request) error {
	ref, err := r.network()
	if err != nil {
		return err
	}
	var opts NetworkInspectOptions
	if !r.olderThan("1.28") {
		if v := r.query.Get("verbose"); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return invalidf("invalid value for verbose: %s", v)
			}
			opts.Verbose = b
		}
		opts.Scope = r.query.Get("scope")
	}
	in, err := s.backend.NetworkInspect(r.ctx(), ref, opts)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, normalizeInspect(in))
}

func (s *Server) postNetworksCreate(w http.ResponseWriter, r *request) error {
	var wire createNetworkWire
	if err := s.readJSON(w, r, &wire); err != nil {
		return err
	}
	req, err := wire.request(r.version)
	if err != nil {
		return err
	}
	res, err := s.backend.NetworkCreate(r.ctx(), req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, res)
}

func (s *Server) deleteNetwork(w http.ResponseWriter, r *request) error {
	ref, err := r.network()
	if err != nil {
		return err
	}
	return noContent(w, s.backend.NetworkRemove(r.ctx(), ref))
}

func (s *Server) postNetworkConnect(w http.ResponseWriter, r *request) error {
	ref, err := r.network()
	if err != nil {
		return err
	}
	var wire connectWire
	if err := s.readJSON(w, r, &wire); err != nil {
		return err
	}
	req, err := wire.request(r.version)
	if err != nil {
		return err
	}
	if err := s.backend.NetworkConnect(r.ctx(), ref, req); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) postNetworkDisconnect(w http.ResponseWriter, r *request) error {
	ref, err := r.network()
	if err != nil {
		return err
	}
	var req network.DisconnectRequest
	if err := s.readJSON(w, r, &req); err != nil {
		return err
	}
	if err := s.backend.NetworkDisconnect(r.ctx(), ref, req); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) postNetworksPrune(w http.ResponseWriter, r *request) error {
	filters, err := r.filtersValue()
	if err != nil {
		return err
	}
	if err := checkNetworkPruneFilters(filters); err != nil {
		return err
	}
	report, err := s.backend.NetworksPrune(r.ctx(), filters)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, report)
}

// normalizeNetwork gives maps dockerd never leaves null as empty ones.
func normalizeNetwork(n *network.Network) {
	if n.Options == nil {
		n.Options = map[string]string{}
	}
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
}

func normalizeInspect(in network.Inspect) network.Inspect {
	normalizeNetwork(&in.Network)
	if in.Containers == nil {
		in.Containers = map[string]network.EndpointResource{}
	}
	return in
}
