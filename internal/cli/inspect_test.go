package cli

import (
	"net/http"
	"strings"
	"testing"
)

const webJSON = `{"Id":"4f66ad9a0b2e","Name":"/web","State":{"Status":"running","Running":true,"Pid":42,"ExitCode":0,"OOMKilled":false},` +
	`"Config":{"Image":"busybox","Env":["A=1","B=2"],"Labels":{"x":"y"}},"HostConfig":{"RestartPolicy":{"Name":"always","MaximumRetryCount":0}},` +
	`"NetworkSettings":{"IPAddress":"","Networks":{"none":{"IPAddress":"","Gateway":""}}},"BerthExtra":"kept"}`

func inspectDaemon(t *testing.T) *fakeDaemon {
	d := newFakeDaemon(t)
	d.handle("GET /containers/web/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(webJSON))
	})
	d.fail("GET /containers/{id}/json", http.StatusNotFound, "No such container: nope")
	d.handle("GET /images/busybox/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"Id":"sha256:6d3e","RepoTags":["busybox:latest"],"Config":{"Cmd":["sh"]}}`))
	})
	d.fail("GET /images/{id}/json", http.StatusNotFound, "No such image: nope")
	d.fail("GET /networks/{id}", http.StatusNotFound, "network nope not found")
	d.fail("GET /volumes/{id}", http.StatusNotFound, "get nope: no such volume")
	return d
}

func TestInspect(t *testing.T) {
	t.Parallel()
	d := inspectDaemon(t)
	cases := []struct {
		args     []string
		out, err string
		code     int
	}{
		{[]string{"inspect", "-f", "{{.State.Status}} {{.State.Pid}} {{.HostConfig.RestartPolicy.Name}}", "web"}, "running 42 always\n", "", 0},
		{[]string{"container", "inspect", "--format", "{{json .Config.Env}}", "web"}, "[\"A=1\",\"B=2\"]\n", "", 0},
		{[]string{"inspect", "-f", "{{index .Config.Labels \"x\"}}", "web"}, "y\n", "", 0},
		// A field our API types lack is read from the daemon's JSON.
		{[]string{"inspect", "-f", "{{.BerthExtra}}", "web"}, "kept\n", "", 0},
		{[]string{"inspect", "-f", "{{.Config.Cmd}}", "busybox"}, "[sh]\n", "", 0},
		// An unset address prints as nothing, as with docker.
		{[]string{"inspect", "-f", "{{range .NetworkSettings.Networks}}[{{.IPAddress}}]{{end}}", "web"}, "[]\n", "", 0},
		{[]string{"inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web"}, "\n", "", 0},
		{[]string{"inspect", "--type", "image", "-f", "{{.Id}}", "busybox"}, "sha256:6d3e\n", "", 0},
		{[]string{"inspect", "nope"}, "[]\n", "Error: No such object: nope\n", 1},
		{[]string{"inspect", "-f", "{{.Id}}", "web", "nope"}, "4f66ad9a0b2e\n", "Error: No such object: nope\n", 1},
		{[]string{"container", "inspect", "nope"}, "[]\n", "Error response from daemon: No such container: nope\n", 1},
		{[]string{"inspect", "-f", "{{.Nope}}", "web"}, "\n", "template parsing error", 1},
		{[]string{"inspect", "-f", "{{.Id", "web"}, "", "template parsing error", 64},
		{[]string{"inspect", "--type", "bogus", "web"}, "", `unknown type: "bogus"`, 1},
	}
	for _, c := range cases {
		r := d.berth(c.args...)
		if r.out != c.out || r.code != c.code || !strings.Contains(r.err, c.err) {
			t.Errorf("%v:\n got out %q err %q exit %d\nwant out %q err %q exit %d", c.args, r.out, r.err, r.code, c.out, c.err, c.code)
		}
	}

	r := d.berth("inspect", "web")
	if !strings.HasPrefix(r.out, "[\n    {\n        \"Id\": \"4f66ad9a0b2e\",") || !strings.Contains(r.out, `"BerthExtra": "kept"`) || !strings.HasSuffix(r.out, "}\n]\n") {
		t.Errorf("default output:\n%s", r.out)
	}
	if r := d.berth("inspect", "--format", "json", "web", "busybox"); !strings.HasPrefix(r.out, `[{"Id":"4f66ad9a0b2e"`) || !strings.Contains(r.out, `},{"Id":"sha256:6d3e"`) {
		t.Errorf("json output: %s", r.out)
	}
}
