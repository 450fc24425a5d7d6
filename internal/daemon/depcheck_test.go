package daemon

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the engine's boundaries (STYLE rule 15): the
// daemon's process never runs containers (no OCI runtime code in it), and
// never depends on the client side; the container model depends on
// neither the daemon nor the API server.
func TestDependencies(t *testing.T) {
	t.Parallel()
	const mod = "github.com/berth-project/berth/"
	for pkg, banned := range map[string][]string{
		"./":               {"internal/runtime", "internal/cli", "internal/client", "internal/initproc"},
		"../container":     {"internal/daemon", "internal/api", "internal/runtime"},
		"../../cmd/berthd": {"internal/runtime", "internal/cli", "internal/client"},
		"./config":         {"internal/daemon/images", "internal/api", "internal/container"},
	} {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, b := range banned {
				if dep == mod+b || strings.HasPrefix(dep, mod+b+"/") {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}
