package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

// handler serves one endpoint; a returned error becomes the response
// (status from its class) unless the response has already started.
type handler func(w http.ResponseWriter, r *request) error

// request is an HTTP request with what routing found out about it.
type request struct {
	*http.Request
	version string            // the API version of the request
	vars    map[string]string // path parameters
	query   url.Values        // the URL's query; bodies are never read as forms
}

func (r *request) ctx() context.Context { return r.Context() }

// olderThan reports whether the request speaks an API version before v.
func (r *request) olderThan(v string) bool { return before(r.version, v) }

// route is one endpoint. A pattern segment "{x}" matches one path segment
// into vars["x"]; "{x...}" matches one or more (image names hold slashes),
// and may sit anywhere in the pattern.
type route struct {
	method  string
	pattern string
	h       handler
	// stream marks endpoints that may run for as long as the client wants
	// (follow logs, events, wait, attach): they end when the server shuts
	// down rather than holding its shutdown up.
	stream bool
	// cpu marks endpoints whose work is CPU-bound in the daemon itself
	// (compression, hashing, tar): they run with the scheduler widened
	// (WithCPUWidening).
	cpu bool

	segs []string
}

// router matches cleaned path segments against routes, in order.
type router struct {
	routes []route
}

func newRouter(routes []route) *router {
	rt := &router{}
	for _, r := range routes {
		r.segs = strings.Split(strings.TrimPrefix(r.pattern, "/"), "/")
		rt.routes = append(rt.routes, r)
	}
	return rt
}

// match finds the route for method and path segments.
func (rt *router) match(method string, segs []string) (*route, map[string]string) {
	for i := range rt.routes {
		r := &rt.routes[i]
		if r.method != method {
			continue
		}
		if vars, ok := matchSegments(r.segs, segs); ok {
			return r, vars
		}
	}
	return nil, nil
}

func matchSegments(pattern, segs []string) (map[string]string, bool) {
	greedy := -1
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "...}") {
			greedy = i
			break
		}
	}
	if greedy < 0 {
		if len(pattern) != len(segs) {
			return nil, false
		}
		vars := map[string]string{}
		if !matchFixed(pattern, segs, vars) {
			return nil, false
		}
		return vars, true
	}
	tail := len(pattern) - greedy - 1
	if len(segs) < len(pattern) {
		return nil, false
	}
	vars := map[string]string{}
	if !matchFixed(pattern[:greedy], segs[:greedy], vars) ||
		!matchFixed(pattern[greedy+1:], segs[len(segs)-tail:], vars) {
		return nil, false
	}
	name := strings.TrimSuffix(strings.TrimPrefix(pattern[greedy], "{"), "...}")
	vars[name] = strings.Join(segs[greedy:len(segs)-tail], "/")
	return vars, true
}

func matchFixed(pattern, segs []string, vars map[string]string) bool {
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			vars[p[1:len(p)-1]] = segs[i]
			continue
		}
		if p != segs[i] {
			return false
		}
	}
	return true
}

// splitPath turns the request's escaped path into decoded segments, so
// that "%2F" stays inside its segment (a container named "/web", an image
// "library/busybox" inside a greedy parameter) while "." and ".." and empty
// segments never reach a handler: such a path names nothing, and dockerd
// would only redirect it.
func splitPath(escaped string) ([]string, bool) {
	if !strings.HasPrefix(escaped, "/") {
		return nil, false
	}
	parts := strings.Split(escaped[1:], "/")
	for i, p := range parts {
		seg, err := url.PathUnescape(p)
		if err != nil || seg == "" || seg == "." || seg == ".." {
			return nil, false
		}
		parts[i] = seg
	}
	return parts, true
}
