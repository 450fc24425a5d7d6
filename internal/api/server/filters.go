package server

import (
	"bytes"
	"encoding/json"
	"slices"
)

// decodeFilters reads the "filters" query parameter. Docker clients send
// {"label":{"a=b":true}} (API 1.22 on) or {"label":["a=b"]} (older); both
// become key -> sorted values. Keys are checked by the backend, which
// knows which it supports.
func decodeFilters(s string) (Filters, error) {
	if s == "" {
		return Filters{}, nil
	}
	raw := []byte(s)
	var sets map[string]map[string]bool
	if err := json.Unmarshal(raw, &sets); err == nil {
		f := Filters{}
		for k, set := range sets {
			vals := make([]string, 0, len(set))
			for v := range set {
				vals = append(vals, v)
			}
			slices.Sort(vals)
			f[k] = vals
		}
		return f, nil
	}
	var lists map[string][]string
	if err := json.Unmarshal(raw, &lists); err != nil {
		if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
			return nil, invalidf(`invalid filters %q: values must be {"key":{"value":true}} or {"key":["value"]}`, s)
		}
		return nil, invalidf("invalid filters %q: not a JSON object: %v", s, err)
	}
	f := Filters{}
	for k, vals := range lists {
		vals = slices.Clone(vals)
		slices.Sort(vals)
		f[k] = slices.Compact(vals)
	}
	return f, nil
}

// filtersValue reads the request's "filters" parameter.
func (r *request) filtersValue() (Filters, error) {
	return decodeFilters(r.query.Get("filters"))
}
