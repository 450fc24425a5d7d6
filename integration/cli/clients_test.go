package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/testenv"
)

// client is one command-line client the tables run with.
type client struct {
	name string // subtest name: docker, berth, docker20
	path string
	// legacy marks Debian's docker CLI 20.10 (API 1.41): it runs only the
	// scenarios marked for it.
	legacy bool
}

// DockerCLI is the docker CLI the suite targets first (28.x, client only).
const DockerCLI = "/usr/local/bin/docker"

// legacyCLIPaths are where Debian's docker CLI 20.10 is looked for:
// docker.io's own client, then the copy scripts/setup.sh extracts from the
// docker.io package when that package is not installed.
var legacyCLIPaths = []string{"/usr/bin/docker", "/usr/local/lib/berth/docker-20.10/docker"}

// clients returns the clients to run the tables with. A missing client is
// not silently dropped: its subtests fail with the reason.
func clients() []client {
	return []client{
		{name: "docker", path: DockerCLI},
		{name: "berth"}, // bin/berth, resolved per test
		{name: "docker20", legacy: true},
	}
}

// resolve finds c's binary or fails t with the fix.
func (c client) resolve(t testing.TB) client {
	t.Helper()
	switch c.name {
	case "berth":
		c.path = filepath.Join(testenv.BinDir(t), "berth")
		if fi, err := os.Stat(c.path); err != nil || fi.Mode().Perm()&0o111 == 0 {
			t.Fatalf("no %s: run make (it builds cmd/berth)", c.path)
		}
	case "docker20":
		for _, p := range legacyCLIPaths {
			out, err := exec.Command(p, "--version").Output()
			if err == nil && strings.HasPrefix(string(out), "Docker version 20.10.") {
				c.path = p
				break
			}
		}
		if c.path == "" {
			t.Fatalf("no Debian docker CLI 20.10 in %v: run scripts/setup.sh (it extracts the client from the docker.io package)", legacyCLIPaths)
		}
	default:
		if fi, err := os.Stat(c.path); err != nil || fi.Mode().Perm()&0o111 == 0 {
			t.Fatalf("no docker CLI at %s: the suite drives the real docker CLI 28.x", c.path)
		}
	}
	return c
}
