package server

import (
	"bytes"
	"encoding/json"
)

// extended renders a wire value with extra top-level fields: the fields
// older API versions expect and that github.com/moby/moby/api has dropped
// (VirtualSize of images, "status"/"id"/"from" of events, ...). A field the
// value already has is kept as it is.
type extended struct {
	v     any
	extra map[string]any
}

func withFields(v any, extra map[string]any) any {
	if len(extra) == 0 {
		return v
	}
	return extended{v: v, extra: extra}
}

func (e extended) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e.v); err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(buf.Bytes(), &fields); err != nil || fields == nil {
		// Not an object: nothing to extend.
		return bytes.TrimSpace(buf.Bytes()), nil
	}
	for k, v := range e.extra {
		if _, ok := fields[k]; ok {
			continue
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		fields[k] = raw
	}
	return json.Marshal(fields)
}
