package cli

import (
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/system"
)

func versionDaemon(t *testing.T) *fakeDaemon {
	d := newFakeDaemon(t)
	d.json("GET /version", http.StatusOK, system.VersionResponse{
		Version: "0.4.0", APIVersion: "1.50", MinAPIVersion: "1.24", Os: "linux", Arch: "amd64",
		Components: []system.ComponentVersion{{Name: "Engine", Version: "0.4.0", Details: map[string]string{
			"ApiVersion": "1.50", "MinAPIVersion": "1.24", "GoVersion": "go1.26", "GitCommit": "1234567",
			"BuildTime": "2026-01-02T03:04:05Z", "Os": "linux", "Arch": "amd64", "Experimental": "false",
		}}},
	})
	return d
}

func TestVersion(t *testing.T) {
	t.Parallel()
	d := versionDaemon(t)
	r := d.berth("version")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.err)
	}
	want := `Client:
 Version:           1.2.3
 API version:       1.50 (downgraded from 1.56)
 Go version:        ` + runtime.Version() + `
 Git commit:        abcdef0
 Built:             Fri Jan  2 03:04:05 2026
 OS/Arch:           linux/amd64
 Context:           default

Server:
 Engine:
  Version:          0.4.0
  API version:      1.50 (minimum version 1.24)
  Go version:       go1.26
  Git commit:       1234567
  Built:            Fri Jan  2 03:04:05 2026
  OS/Arch:          linux/amd64
  Experimental:     false
`
	if r.out != want {
		t.Errorf("got\n%s\nwant\n%s", r.out, want)
	}
	for format, want := range map[string]string{
		"{{.Server.Version}}":                        "0.4.0\n",
		"{{.Client.Version}} {{.Server.APIVersion}}": "1.2.3 1.50\n",
		"{{.Server.MinAPIVersion}}":                  "1.24\n",
	} {
		if r := d.berth("version", "--format", format); r.out != want || r.code != 0 {
			t.Errorf("--format %s: %q (exit %d, %s)", format, r.out, r.code, r.err)
		}
	}
	if r := d.berth("version", "--format", "json"); !strings.Contains(r.out, `"Server":{`) || !strings.Contains(r.out, `"Version":"1.2.3"`) {
		t.Errorf("json: %s", r.out)
	}
	if r := d.berth("version", "--format", "{{.Nope"); r.code != 64 {
		t.Errorf("bad template: exit %d", r.code)
	}
}

func TestVersionWithoutDaemon(t *testing.T) {
	t.Parallel()
	d := newFakeDaemon(t)
	r := d.berth("-H", "unix:///nonexistent/berth.sock", "version")
	if r.code != 1 || !strings.Contains(r.out, "Client:") || strings.Contains(r.out, "Server:") || r.err == "" {
		t.Errorf("got exit %d\n%s\n%s", r.code, r.out, r.err)
	}
}
