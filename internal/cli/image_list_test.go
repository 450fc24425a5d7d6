package cli

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/image"
)

func TestImages(t *testing.T) {
	t.Parallel()
	d := newFakeDaemon(t)
	created := time.Now().Add(-7 * 30 * 24 * time.Hour).Unix()
	d.json("GET /images/json", http.StatusOK, []image.Summary{
		{
			ID: "sha256:6d3e4188a38af91b0c1577b9e88c53368926b2fe0e1fb985d6e8a70040520c4d", Created: created, Size: 4277910,
			RepoTags:    []string{"busybox:latest", "localhost:5000/busybox:1", "docker.io/library/busybox:musl"},
			RepoDigests: []string{"busybox@sha256:aaaa000000000000000000000000000000000000000000000000000000000000"},
			Containers:  -1, SharedSize: -1,
		},
		{ID: "sha256:abcdefabcdef0123", Created: created, Size: 1000, Containers: -1, SharedSize: -1},
	})
	r := d.berth("images")
	want := "" +
		"REPOSITORY               TAG       IMAGE ID       CREATED        SIZE\n" +
		"busybox                  latest    6d3e4188a38a   7 months ago   4.28MB\n" +
		"busybox                  musl      6d3e4188a38a   7 months ago   4.28MB\n" +
		"localhost:5000/busybox   1         6d3e4188a38a   7 months ago   4.28MB\n" +
		"<none>                   <none>    abcdefabcdef   7 months ago   1kB\n"
	if r.code != 0 || r.out != want {
		t.Errorf("exit %d %s\ngot\n%s\nwant\n%s", r.code, r.err, r.out, want)
	}
	r = d.berth("images", "--digests", "--format", "table {{.Repository}}:{{.Tag}}")
	want = "" +
		"REPOSITORY:TAG             DIGEST\n" +
		"busybox:latest             sha256:aaaa000000000000000000000000000000000000000000000000000000000000\n" +
		"busybox:musl               sha256:aaaa000000000000000000000000000000000000000000000000000000000000\n" +
		"localhost:5000/busybox:1   <none>\n" +
		"<none>:<none>              <none>\n"
	if r.out != want {
		t.Errorf("--digests: got\n%s\nwant\n%s", r.out, want)
	}
	if r := d.berth("images", "-q"); r.out != "6d3e4188a38a\n6d3e4188a38a\n6d3e4188a38a\nabcdefabcdef\n" {
		t.Errorf("-q: %q", r.out)
	}
	if r := d.berth("image", "ls", "--format", "{{.Repository}} {{.Size}} {{.Containers}}", "busybox"); !strings.HasPrefix(r.out, "busybox 4.28MB N/A\n") {
		t.Errorf("format: %q", r.out)
	}
	q := d.sent("GET /images/json")
	last := q[len(q)-1].Query
	if !strings.Contains(last, "reference") || !strings.Contains(last, "busybox") {
		t.Errorf("image ls busybox did not filter by reference: %q", last)
	}
}
