package volume

import (
	"context"
	"slices"
	"strings"
)

// List returns the volumes that pass filters (docker's volume ls keys:
// name, a substring or regular expression; label, key or key=value;
// dangling, true or false: no container references it; driver), sorted
// by name.
func (s *Store) List(ctx context.Context, filters Filters) ([]Volume, error) {
	m, err := parseFilters(filters, listFilterKeys)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.find(m), nil
}

// find returns the volumes m matches, sorted by name.
func (s *Store) find(m *matcher) []Volume {
	s.mu.Lock()
	out := make([]Volume, 0, len(s.vols))
	for _, v := range s.vols {
		if v.pending {
			continue
		}
		view := v.view()
		if m.match(&view, view.RefCount > 0) {
			out = append(out, view)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Volume) int { return strings.Compare(a.Name, b.Name) })
	return out
}
