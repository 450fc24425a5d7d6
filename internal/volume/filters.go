package volume

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
)

// Filters are the Engine API's filters, key -> values, as the API server
// decodes them (its Filters converts to this type directly).
type Filters map[string][]string

// The keys each call accepts, as docker's.
var (
	listFilterKeys  = map[string]bool{"name": true, "label": true, "dangling": true, "driver": true}
	pruneFilterKeys = map[string]bool{"label": true, "label!": true, "all": true}
)

// matcher is a parsed set of filters: a volume matches when it passes
// every key given.
type matcher struct {
	names     []nameFilter
	labels    []labelFilter
	notLabels []labelFilter
	drivers   []string
	dangling  *bool
}

type nameFilter struct {
	s  string
	re *regexp.Regexp // nil when s is not a valid regexp
}

type labelFilter struct {
	key, value string
	hasValue   bool
}

func invalidFilter(format string, args ...any) error {
	return errdefs.Errorf(errdefs.ErrInvalidParameter, format, args...)
}

// parseFilters checks f against the accepted keys and parses the values.
// "all" is not part of the matcher: prune reads it itself.
func parseFilters(f Filters, accepted map[string]bool) (*matcher, error) {
	m := &matcher{}
	for _, key := range slices.Sorted(maps.Keys(f)) {
		if !accepted[key] {
			return nil, invalidFilter("invalid filter '%s'", key)
		}
		values := f[key]
		switch key {
		case "name":
			for _, v := range values {
				// Docker matches a name exactly or as a regular
				// expression, and skips a value that is no valid one.
				re, err := regexp.Compile(v)
				if err != nil {
					re = nil
				}
				m.names = append(m.names, nameFilter{s: v, re: re})
			}
		case "label", "label!":
			for _, v := range values {
				k, val, ok := strings.Cut(v, "=")
				lf := labelFilter{key: k, value: val, hasValue: ok}
				if key == "label" {
					m.labels = append(m.labels, lf)
				} else {
					m.notLabels = append(m.notLabels, lf)
				}
			}
		case "driver":
			m.drivers = append(m.drivers, values...)
		case "dangling":
			b, err := parseDangling(values)
			if err != nil {
				return nil, err
			}
			m.dangling = &b
		}
	}
	return m, nil
}

// parseDangling reads dangling=true|1|false|0 as docker does: one truth
// value, however many times given.
func parseDangling(values []string) (bool, error) {
	isTrue := slices.Contains(values, "true") || slices.Contains(values, "1")
	isFalse := slices.Contains(values, "false") || slices.Contains(values, "0")
	if isTrue == isFalse {
		return false, invalidFilter("invalid filter 'dangling=%s'", strings.Join(values, ","))
	}
	return isTrue, nil
}

// parseAll reads prune's all=true|false.
func parseAll(values []string) (bool, error) {
	switch len(values) {
	case 0:
		return false, nil
	case 1:
		b, err := strconv.ParseBool(values[0])
		if err != nil {
			return false, invalidFilter("invalid filter 'all': %v", err)
		}
		return b, nil
	default:
		return false, invalidFilter("invalid filter 'all=%s': only one value is expected", fmt.Sprint(values))
	}
}

// match reports whether v passes m; referenced says whether any
// container uses v.
func (m *matcher) match(v *Volume, referenced bool) bool {
	if len(m.names) > 0 && !slices.ContainsFunc(m.names, func(n nameFilter) bool {
		return n.s == v.Name || (n.re != nil && n.re.MatchString(v.Name))
	}) {
		return false
	}
	if len(m.drivers) > 0 && !slices.Contains(m.drivers, v.Driver) {
		return false
	}
	if len(m.labels) > 0 && !allLabels(m.labels, v.Labels) {
		return false
	}
	if len(m.notLabels) > 0 && allLabels(m.notLabels, v.Labels) {
		return false
	}
	if m.dangling != nil && *m.dangling == referenced {
		return false
	}
	return true
}

// allLabels reports whether labels has every one of want (a key, or a
// key=value), as docker's label filters.
func allLabels(want []labelFilter, labels map[string]string) bool {
	for _, w := range want {
		got, ok := labels[w.key]
		if !ok || (w.hasValue && got != w.value) {
			return false
		}
	}
	return true
}
