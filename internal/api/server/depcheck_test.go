package server

import (
	"go/build"
	"strings"
	"testing"
)

// TestDependencies keeps the server at its place in the layout: it talks
// to the engine only through backend.go, so it imports no engine package;
// of Berth's own packages only errdefs.
func TestDependencies(t *testing.T) {
	pkg, err := build.Default.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	allowed := []string{
		"github.com/berth-project/berth/internal/errdefs",
		"github.com/moby/moby/api/",
		"github.com/distribution/reference",
		"github.com/opencontainers/go-digest",
		"golang.org/x/sys/unix",
		"golang.org/x/net/websocket", // attach over websocket, as dockerd
	}
	for _, imp := range pkg.Imports {
		if !strings.Contains(imp, ".") {
			continue // the standard library
		}
		ok := false
		for _, a := range allowed {
			if imp == a || strings.HasPrefix(imp, a) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("internal/api/server imports %s: the server reaches the engine only through its Backend interfaces", imp)
		}
	}
}
