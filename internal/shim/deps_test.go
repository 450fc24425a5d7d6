package shim

import (
	"os/exec"
	"strings"
	"testing"
)

// TestShimDependencies keeps berth-shim small: what it links is what a
// thousand idle shims pay for. os/signal parks a thread for good; HTTP,
// TLS and gRPC bring their own goroutines and heap; the runtime runs in
// the runtime binary, never in the shim.
func TestShimDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/berth-project/berth/cmd/berth-shim").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{
		"os/signal", "net/http", "crypto/tls", "google.golang.org/grpc",
		"github.com/berth-project/berth/internal/runtime",
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("berth-shim links %s", dep)
			}
		}
	}
}
