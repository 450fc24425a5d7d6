package cli

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/system"
)

func TestInfo(t *testing.T) {
	t.Parallel()
	d := newFakeDaemon(t)
	d.json("GET /info", http.StatusOK, system.Info{
		ID: "BERTH", Containers: 3, ContainersRunning: 1, ContainersStopped: 2, Images: 4,
		ServerVersion: "0.4.0", Driver: "overlay", LoggingDriver: "json-file", CgroupDriver: "cgroupfs", CgroupVersion: "1",
		OSType: "linux", Architecture: "x86_64", NCPU: 2, MemTotal: 8 << 30, Name: "host1", DockerRootDir: "/var/lib/berth",
		KernelVersion: "6.1.0", OperatingSystem: "Debian GNU/Linux 12", DefaultRuntime: "berth",
		SecurityOptions: []string{"name=seccomp,profile=builtin"}, LiveRestoreEnabled: true,
		Warnings: []string{"WARNING: bridge networking is not available"},
	})
	cases := map[string]string{
		"{{.ServerVersion}}":                         "0.4.0\n",
		"{{.Containers}} {{.ContainersRunning}}":     "3 1\n",
		"{{.Driver}} {{.OSType}} {{.NCPU}}":          "overlay linux 2\n",
		"{{.ClientInfo.Version}}":                    "1.2.3\n",
		"{{json .SecurityOptions}}":                  "[\"name=seccomp,profile=builtin\"]\n",
		"{{.DockerRootDir}}|{{.LiveRestoreEnabled}}": "/var/lib/berth|true\n",
	}
	for f, want := range cases {
		if r := d.berth("info", "--format", f); r.out != want || r.code != 0 {
			t.Errorf("--format %s: %q (exit %d %s)", f, r.out, r.code, r.err)
		}
	}
	r := d.berth("system", "info")
	for _, want := range []string{"Client:\n Version:    1.2.3\n Context:    default\n Debug Mode: false\n\nServer:\n Containers: 3\n  Running: 1\n  Paused: 0\n  Stopped: 2\n Images: 4\n Server Version: 0.4.0\n Storage Driver: overlay\n",
		" Security Options:\n  seccomp\n   Profile: builtin\n", " Total Memory: 8GiB\n", " Live Restore Enabled: true\n"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("info lacks %q:\n%s", want, r.out)
		}
	}
	if r.err != "WARNING: bridge networking is not available\n" {
		t.Errorf("warnings on stderr: %q", r.err)
	}
	if r := d.berth("info", "--format", "{{json .}}"); !strings.Contains(r.out, `"ServerVersion":"0.4.0"`) || !strings.Contains(r.out, `"ClientInfo":{`) {
		t.Errorf("json: %s", r.out)
	}
}

func TestEvents(t *testing.T) {
	t.Parallel()
	d := newFakeDaemon(t)
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6, time.Local)
	d.handle("GET /events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		for _, m := range []events.Message{
			{Type: events.ContainerEventType, Action: events.ActionStart, Actor: events.Actor{ID: "abc", Attributes: map[string]string{"name": "web", "image": "busybox"}}, TimeNano: ts.UnixNano()},
			{Type: events.ContainerEventType, Action: events.ActionDie, Actor: events.Actor{ID: "abc", Attributes: map[string]string{"exitCode": "0"}}, TimeNano: ts.UnixNano()},
		} {
			writeJSONLine(w, m)
		}
	})
	r := d.berth("events", "--since", "1h", "--until", "0s", "--filter", "container=web")
	want := ts.Format(rfc3339NanoFixed) + " container start abc (image=busybox, name=web)\n" +
		ts.Format(rfc3339NanoFixed) + " container die abc (exitCode=0)\n"
	if r.code != 0 || r.out != want {
		t.Errorf("events: %d\n%q\nwant\n%q\n%s", r.code, r.out, want, r.err)
	}
	q := d.sent("GET /events")[0].Query
	for _, s := range []string{"since=", "until=", "filters="} {
		if !strings.Contains(q, s) {
			t.Errorf("events query %q lacks %s", q, s)
		}
	}
	if r := d.berth("system", "events", "--format", "{{.Action}} {{.Actor.Attributes.name}}"); r.out != "start web\ndie <no value>\n" {
		t.Errorf("format: %q", r.out)
	}
}

func TestDfAndSystemPrune(t *testing.T) {
	t.Parallel()
	d := newFakeDaemon(t)
	d.json("GET /system/df", http.StatusOK, map[string]any{
		"LayersSize": 4260000,
		"Images":     []map[string]any{{"Id": "sha256:aaaa", "RepoTags": []string{"busybox:latest"}, "Size": 4260000, "SharedSize": 0, "Containers": 1}},
		"Containers": []map[string]any{{"Id": "c1", "Image": "busybox", "State": "running", "SizeRw": 100, "Names": []string{"/web"}, "Command": "sh"}},
		"Volumes":    []any{},
		"BuildCache": []any{},
	})
	r := d.berth("system", "df")
	want := "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n" +
		"Images          1         1         4.26MB    0B (0%)\n" +
		"Containers      1         1         100B      0B (0%)\n" +
		"Local Volumes   0         0         0B        0B\n" +
		"Build Cache     0         0         0B        0B\n"
	if r.code != 0 || r.out != want {
		t.Errorf("df: %d %s\n%s\nwant\n%s", r.code, r.err, r.out, want)
	}
	r = d.berth("system", "df", "-v")
	for _, s := range []string{"Images space usage:\n\nREPOSITORY", "busybox      latest", "\nContainers space usage:\n\nCONTAINER ID", "web", "\nLocal Volumes space usage:\n\nVOLUME NAME", "\nBuild cache usage: 0B\n"} {
		if !strings.Contains(r.out, s) {
			t.Errorf("df -v lacks %q:\n%s", s, r.out)
		}
	}

	d.json("POST /containers/prune", http.StatusOK, map[string]any{"ContainersDeleted": []string{"c2"}, "SpaceReclaimed": 10})
	d.json("POST /images/prune", http.StatusOK, map[string]any{"ImagesDeleted": []map[string]string{{"Deleted": "sha256:bbb"}}, "SpaceReclaimed": 990})
	d.fail("POST /networks/prune", http.StatusNotFound, "page not found")
	d.fail("POST /build/prune", http.StatusNotFound, "page not found")
	r = d.berthIn("y\n", "system", "prune", "--volumes")
	wantOut := "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n" +
		"  - all anonymous volumes not used by at least one container\n  - all dangling images\n  - unused build cache\n\n" +
		"Are you sure you want to continue? [y/N] " +
		"Deleted Containers:\nc2\n\nDeleted Images:\ndeleted: sha256:bbb\n\nTotal reclaimed space: 1kB\n"
	if r.code != 0 || r.out != wantOut {
		t.Errorf("system prune: %d %s\n%q\nwant\n%q", r.code, r.err, r.out, wantOut)
	}
}
