package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"text/template"
	"unicode"
)

// funcs are the functions docker offers in --format templates.
var funcs = template.FuncMap{
	"json":     toJSON,
	"split":    strings.Split,
	"join":     join,
	"title":    title,
	"lower":    strings.ToLower,
	"upper":    strings.ToUpper,
	"pad":      pad,
	"truncate": truncate,
	"println":  fmt.Sprintln,
}

// headerFuncs replace the functions while a header row is rendered: the
// header is the column title, which must come out unchanged.
var headerFuncs = template.FuncMap{
	"json":     func(v string) string { return v },
	"split":    func(v, _ string) string { return v },
	"join":     func(v, _ string) string { return v },
	"title":    func(v string) string { return v },
	"lower":    func(v string) string { return v },
	"upper":    func(v string) string { return v },
	"truncate": func(v string, _ int) string { return v },
}

// Parse parses a template with docker's functions.
func Parse(text string) (*template.Template, error) {
	return template.New("").Funcs(funcs).Parse(text)
}

// toJSON is the "json" function: compact JSON without HTML escaping, as
// docker prints it.
func toJSON(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSpace(buf.String()), nil
}

// join joins a slice's elements, or a map's values in sorted order.
func join(v any, sep string) (string, error) {
	if v == nil {
		return "", nil
	}
	if ss, ok := v.([]string); ok {
		return strings.Join(ss, sep), nil
	}
	rv := reflect.ValueOf(v)
	var parts []string
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		for i := range rv.Len() {
			parts = append(parts, fmt.Sprint(rv.Index(i).Interface()))
		}
	case reflect.Map:
		for _, k := range rv.MapKeys() {
			parts = append(parts, fmt.Sprint(rv.MapIndex(k).Interface()))
		}
		sort.Strings(parts)
	default:
		return "", fmt.Errorf("expected slice, got %T", v)
	}
	return strings.Join(parts, sep), nil
}

// title upper-cases the first letter of each word (ASCII words, as the
// values docker formats are).
func title(s string) string {
	prev := ' '
	return strings.Map(func(r rune) rune {
		up := unicode.IsSpace(prev) || unicode.IsPunct(prev)
		prev = r
		if up {
			return unicode.ToTitle(r)
		}
		return r
	}, s)
}

func pad(s string, before, after int) string {
	if s == "" {
		return s
	}
	return strings.Repeat(" ", before) + s + strings.Repeat(" ", after)
}

// truncate cuts s to n bytes, as docker's does.
func truncate(s string, n int) string {
	if len(s) < n {
		return s
	}
	return s[:n]
}

// New is an empty template with docker's functions, for callers that add
// functions of their own before parsing.
func New() *template.Template {
	return template.New("").Funcs(funcs)
}
