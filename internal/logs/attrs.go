package logs

import (
	"encoding/json"
	"regexp"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
)

// ExtraAttrs are the attributes docker's json-file driver stores with
// every entry, and `docker logs --details` prints: the container's labels
// named by the labels option (comma-separated) or matching labels-regex,
// and its environment variables named by env or matching env-regex.
// A bad regular expression is InvalidParameter; docker fails the start
// on it too.
func ExtraAttrs(opts, labels map[string]string, env []string) (map[string]string, error) {
	attrs := map[string]string{}
	if names := opts["labels"]; names != "" {
		for _, k := range strings.Split(names, ",") {
			if v, ok := labels[k]; ok {
				attrs[k] = v
			}
		}
	}
	if err := addMatching(attrs, labels, opts["labels-regex"]); err != nil {
		return nil, err
	}
	vars := map[string]string{}
	for _, e := range env {
		if k, v, ok := strings.Cut(e, "="); ok {
			vars[k] = v
		}
	}
	if names := opts["env"]; names != "" {
		for _, k := range strings.Split(names, ",") {
			if v, ok := vars[k]; ok {
				attrs[k] = v
			}
		}
	}
	if err := addMatching(attrs, vars, opts["env-regex"]); err != nil {
		return nil, err
	}
	if len(attrs) == 0 {
		return nil, nil
	}
	return attrs, nil
}

// addMatching copies into attrs the entries of from whose key matches
// expr (none for an empty expr).
func addMatching(attrs, from map[string]string, expr string) error {
	if expr == "" {
		return nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "failed to initialize logging driver: %v", err)
	}
	for k, v := range from {
		if re.MatchString(k) {
			attrs[k] = v
		}
	}
	return nil
}

// encodeAttrs is attrs as json-file writes them: a JSON object with
// sorted keys, or nil for none.
func encodeAttrs(attrs map[string]string) ([]byte, error) {
	if len(attrs) == 0 {
		return nil, nil
	}
	return json.Marshal(attrs)
}
