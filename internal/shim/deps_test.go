package shim

import (
	"os/exec"
	"strings"
	"testing"
)

// TestShimDependencies keeps berth-shim small: what it links is what a
// thousand idle shims pay for. HTTP, TLS and gRPC bring their own
// goroutines and heap. The runtime's package is linked into the binary
// (cmd/berth-shim/warm.go), not into this package, which the daemon
// links as a client: a pooled shim runs the container's create in itself
// (warm_linux.go). Its os/signal comes with it, for the container's init,
// and the shim never calls it (it would park a thread for good: see
// TestShimNoSignalNotify).
func TestShimDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/berth-project/berth/cmd/berth-shim").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{
		"net/http", "crypto/tls", "google.golang.org/grpc",
	}
	pkgOut, err := exec.Command("go", "list", "-deps", "github.com/berth-project/berth/internal/shim").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, pkgOut)
	}
	for _, dep := range strings.Fields(string(pkgOut)) {
		if dep == "github.com/berth-project/berth/internal/runtime" {
			t.Error("package shim links the runtime: the daemon, its client, would too")
		}
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("berth-shim links %s", dep)
			}
		}
	}
}

// TestShimNoSignalNotify: the shim's own code never imports os/signal.
func TestShimNoSignalNotify(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{join .Imports \" \"}}", "github.com/berth-project/berth/internal/shim", "github.com/berth-project/berth/cmd/berth-shim").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, imp := range strings.Fields(string(out)) {
		if imp == "os/signal" {
			t.Error("the shim imports os/signal")
		}
	}
}
