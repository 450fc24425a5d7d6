package cli

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
)

func psDaemon(t *testing.T) *fakeDaemon {
	d := newFakeDaemon(t)
	now := time.Now()
	d.json("GET /containers/json", http.StatusOK, []container.Summary{
		{
			ID: "4f66ad9a0b2e3c1d4f66ad9a0b2e3c1d4f66ad9a0b2e3c1d4f66ad9a0b2e3c1d", Names: []string{"/web"},
			Image: "busybox", ImageID: "sha256:aaaaaaaaaaaabbbb", Command: "sleep 3600 && echo done",
			Created: now.Add(-2 * time.Minute).Unix(), State: container.StateRunning, Status: "Up 2 minutes",
			Labels: map[string]string{"b": "2", "a": "1"},
			Ports: []container.PortSummary{
				{PrivatePort: 80, Type: "tcp"}, {PrivatePort: 81, Type: "tcp"},
				{IP: netip.MustParseAddr("0.0.0.0"), PrivatePort: 443, PublicPort: 8443, Type: "tcp"},
			},
			SizeRw: 12, SizeRootFs: 4260000,
		},
		{
			ID: "0123456789abcdef", Names: []string{"/db", "/web/db"}, Image: "sha256:0123456789abcdef0000",
			ImageID: "sha256:0123456789abcdef0000", Command: "true",
			Created: now.Add(-3 * time.Hour).Unix(), State: container.StateExited, Status: "Exited (0) 3 seconds ago",
		},
	})
	return d
}

func TestPs(t *testing.T) {
	t.Parallel()
	d := psDaemon(t)
	r := d.berth("ps", "-a")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.err)
	}
	want := "" +
		"CONTAINER ID   IMAGE          COMMAND                  CREATED         STATUS                     PORTS                              NAMES\n" +
		"4f66ad9a0b2e   busybox        \"sleep 3600 && echo …\"   2 minutes ago   Up 2 minutes               80-81/tcp, 0.0.0.0:8443->443/tcp   web\n" +
		"0123456789ab   0123456789ab   \"true\"                   3 hours ago     Exited (0) 3 seconds ago                                      db\n"
	if r.out != want {
		t.Errorf("got\n%s\nwant\n%s", r.out, want)
	}
	q := d.sent("GET /containers/json")
	if len(q) == 0 || !strings.Contains(q[0].Query, "all=1") {
		t.Errorf("query %+v", q)
	}

	cases := []struct {
		args []string
		want string
	}{
		{[]string{"ps", "-q"}, "4f66ad9a0b2e\n0123456789ab\n"},
		{[]string{"ps", "-q", "--no-trunc"}, "4f66ad9a0b2e3c1d4f66ad9a0b2e3c1d4f66ad9a0b2e3c1d4f66ad9a0b2e3c1d\n0123456789abcdef\n"},
		{[]string{"ps", "--format", "{{.Names}} {{.State}} {{.Labels}} {{.Label \"a\"}}"}, "web running a=1,b=2 1\ndb exited  \n"},
		{[]string{"ps", "--no-trunc", "--format", "{{.Names}}|{{.Command}}"}, "web|\"sleep 3600 && echo done\"\ndb,web/db|\"true\"\n"},
		{[]string{"ps", "--format", "table {{.Names}}\t{{.Size}}"}, "NAMES     SIZE\nweb       12B (virtual 4.26MB)\ndb        0B\n"},
	}
	for _, c := range cases {
		r := d.berth(c.args...)
		if r.code != 0 || r.out != c.want {
			t.Errorf("%v: exit %d %s\n got %q\nwant %q", c.args, r.code, r.err, r.out, c.want)
		}
	}

	r = d.berth("ps", "--format", "json")
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if len(lines) != 2 {
		t.Fatalf("json: %q", r.out)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"ID": "4f66ad9a0b2e", "Names": "web", "State": "running", "Command": `"sleep 3600 && echo …"`, "Ports": "80-81/tcp, 0.0.0.0:8443->443/tcp"} {
		if m[k] != v {
			t.Errorf("json %s = %v, want %v", k, m[k], v)
		}
	}
}

func TestPsOptionsReachTheDaemon(t *testing.T) {
	t.Parallel()
	d := psDaemon(t)
	d.berth("container", "ls", "-n", "3", "--filter", "status=exited", "-f", "label=a=1")
	d.berth("ps", "-l")
	d.berth("ps", "--format", "{{.Size}}")
	q := d.sent("GET /containers/json")
	if len(q) != 3 {
		t.Fatalf("%d requests", len(q))
	}
	for _, want := range []string{"limit=3", "filters=", "status", "exited", "label"} {
		if !strings.Contains(q[0].Query, want) {
			t.Errorf("query %q lacks %q", q[0].Query, want)
		}
	}
	if !strings.Contains(q[1].Query, "limit=1") {
		t.Errorf("-l: %q", q[1].Query)
	}
	if !strings.Contains(q[2].Query, "size=1") {
		t.Errorf("{{.Size}} did not ask for sizes: %q", q[2].Query)
	}
	if r := d.berth("ps", "--bogus"); r.code != 125 || !strings.Contains(r.err, "unknown flag: --bogus") {
		t.Errorf("bad flag: exit %d %q", r.code, r.err)
	}
	if r := d.berth("ps", "extra"); r.code != 1 || !strings.Contains(r.err, "accepts no arguments") {
		t.Errorf("extra arg: exit %d %q", r.code, r.err)
	}
}
