package images

import (
	"context"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/registry"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/errdefs"
)

// ImageSearch is GET /images/search: the registry's search API where it
// has one (Docker Hub), else its catalog, filtered on the name. A term
// that starts with a registry host ("127.0.0.1:5000/busy") searches that
// registry, as docker does. Filters: stars=N, is-official, is-automated.
func (s *Service) ImageSearch(ctx context.Context, term string, limit int, filters server.Filters, auth *registry.AuthConfig) ([]registry.SearchResult, error) {
	if err := checkFilters(filters, map[string]bool{"stars": true, "is-official": true, "is-automated": true}); err != nil {
		return nil, err
	}
	minStars := 0
	for _, v := range filters["stars"] {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid filter 'stars=%s'", v)
		}
		minStars = max(minStars, n)
	}
	official, err := boolFilter(filters, "is-official")
	if err != nil {
		return nil, err
	}
	// is-automated is deprecated: no repository is automated any more,
	// so is-automated=true matches nothing.
	automated, err := boolFilter(filters, "is-automated")
	if err != nil {
		return nil, err
	}
	index, remote := splitSearchTerm(term)
	var dopts []distribution.Option
	if limit > 0 {
		dopts = append(dopts, distribution.WithSearchLimit(min(limit, 100)))
	}
	if hasCredentials(auth) {
		dopts = append(dopts, distribution.WithAuth(*auth))
	} else if s.opts.ConfigDir != "" {
		dopts = append(dopts, distribution.WithConfigDir(s.opts.ConfigDir))
	}
	results, err := s.client.Search(ctx, index, remote, dopts...)
	if err != nil {
		return nil, err
	}
	out := []registry.SearchResult{}
	for _, r := range results {
		if r.StarCount < minStars || (official != nil && r.IsOfficial != *official) || (automated != nil && *automated) {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

func boolFilter(f server.Filters, key string) (*bool, error) {
	var out *bool
	for _, v := range f[key] {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid filter '%s=%s'", key, v)
		}
		out = &b
	}
	return out, nil
}

// splitSearchTerm splits "host[:port]/rest" into the registry and the
// term, as docker does: the first component is a registry when it has a
// '.' or a ':' or is localhost; otherwise the registry is Docker Hub ("").
func splitSearchTerm(term string) (index, remote string) {
	first, rest, ok := strings.Cut(term, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return first, rest
	}
	return "", term
}
