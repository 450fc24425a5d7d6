package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
)

func TestStopKillRmPause(t *testing.T) {
	t.Parallel()
	d := newFakeDaemon(t)
	for _, op := range []string{"stop", "restart", "kill", "pause", "unpause"} {
		d.handle("POST /containers/{id}/"+op, func(w http.ResponseWriter, r *http.Request) {
			if r.PathValue("id") == "gone" {
				writeJSON(w, http.StatusNotFound, map[string]string{"message": "No such container: gone"})
				return
			}
			w.WriteHeader(http.StatusNoContent)
		})
	}
	d.handle("DELETE /containers/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "gone" {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "No such container: gone"})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	cases := []struct {
		args     []string
		out, err string
		code     int
	}{
		{[]string{"stop", "a", "b"}, "a\nb\n", "", 0},
		{[]string{"stop", "-t", "3", "-s", "SIGUSR1", "a"}, "a\n", "", 0},
		{[]string{"container", "stop", "a", "gone", "b"}, "a\nb\n", "Error response from daemon: No such container: gone\n", 1},
		{[]string{"restart", "-t", "0", "a"}, "a\n", "", 0},
		{[]string{"kill", "-s", "HUP", "a"}, "a\n", "", 0},
		{[]string{"pause", "a"}, "a\n", "", 0},
		{[]string{"unpause", "gone"}, "", "Error response from daemon: No such container: gone\n", 1},
		{[]string{"rm", "-f", "-v", "a"}, "a\n", "", 0},
		{[]string{"rm", "gone"}, "", "Error response from daemon: No such container: gone\n", 1},
		// rm -f of a missing container reports it but succeeds, as docker.
		{[]string{"rm", "-f", "gone", "a"}, "a\n", "Error response from daemon: No such container: gone\n", 0},
		{[]string{"container", "remove", "a"}, "a\n", "", 0},
	}
	for _, c := range cases {
		r := d.berth(c.args...)
		if r.out != c.out || r.err != c.err || r.code != c.code {
			t.Errorf("%v: got out %q err %q exit %d; want %q %q %d", c.args, r.out, r.err, r.code, c.out, c.err, c.code)
		}
	}
	if q := d.sent("POST /containers/a/stop"); len(q) < 2 || q[1].Query != "signal=SIGUSR1&t=3" {
		t.Errorf("stop query: %+v", q)
	}
	if q := d.sent("POST /containers/a/kill"); len(q) != 1 || q[0].Query != "signal=HUP" {
		t.Errorf("kill query: %+v", q)
	}
	if q := d.sent("DELETE /containers/a"); len(q) == 0 || !strings.Contains(q[0].Query, "force=1") || !strings.Contains(q[0].Query, "v=1") {
		t.Errorf("rm query: %+v", q)
	}
}

func TestWaitTopPortRenameUpdate(t *testing.T) {
	t.Parallel()
	d := newFakeDaemon(t)
	d.handle("POST /containers/{id}/wait", func(w http.ResponseWriter, r *http.Request) {
		code := map[string]int{"a": 0, "b": 7}[r.PathValue("id")]
		writeJSON(w, http.StatusOK, map[string]any{"StatusCode": code})
	})
	d.json("GET /containers/{id}/top", http.StatusOK, container.TopResponse{
		Titles: []string{"UID", "PID", "CMD"}, Processes: [][]string{{"root", "4242", "sleep 3600"}},
	})
	d.handle("GET /containers/{id}/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.PathValue("id") {
		case "web":
			w.Write([]byte(`{"Id":"web","NetworkSettings":{"Ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}],"443/tcp":[{"HostIp":"0.0.0.0","HostPort":"8443"}],"53/udp":null}}}`))
		default:
			w.Write([]byte(`{"Id":"none","NetworkSettings":{"Ports":{}}}`))
		}
	})
	d.handle("POST /containers/{id}/rename", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("name") == "taken" {
			writeJSON(w, http.StatusConflict, map[string]string{"message": "name taken"})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	d.json("POST /containers/{id}/update", http.StatusOK, map[string]any{"Warnings": []string{"careful"}})
	cases := []struct {
		args     []string
		out, err string
		code     int
	}{
		{[]string{"wait", "a", "b"}, "0\n7\n", "", 0},
		{[]string{"top", "a", "-ef"}, "UID                 PID                 CMD\nroot                4242                sleep 3600\n", "", 0},
		{[]string{"port", "web"}, "80/tcp -> 0.0.0.0:8080\n443/tcp -> 0.0.0.0:8443\n", "", 0},
		{[]string{"port", "web", "443"}, "0.0.0.0:8443\n", "", 0},
		{[]string{"port", "web", "53/udp"}, "", "No public port '53/udp' published for web", 1},
		{[]string{"port", "isolated"}, "", "", 0},
		{[]string{"rename", "a", "b"}, "", "", 0},
		{[]string{"rename", "a", "taken"}, "", "Error response from daemon: name taken\nError: failed to rename container named a\n", 1},
		{[]string{"update", "--memory", "64m", "--restart", "on-failure:2", "a"}, "a\ncareful\n", "", 0},
		{[]string{"update", "a"}, "", "you must provide one or more flags", 1},
	}
	for _, c := range cases {
		r := d.berth(c.args...)
		if r.out != c.out || !strings.Contains(r.err, c.err) || r.code != c.code {
			t.Errorf("%v: got out %q err %q exit %d; want %q %q %d", c.args, r.out, r.err, r.code, c.out, c.err, c.code)
		}
	}
	if q := d.sent("GET /containers/a/top"); len(q) != 1 || q[0].Query != "ps_args=-ef" {
		t.Errorf("top query %+v", q)
	}
	u := d.sent("POST /containers/a/update")
	var body map[string]any
	if len(u) == 0 || json.Unmarshal(u[0].Body, &body) != nil {
		t.Fatalf("update %+v", u)
	}
	if body["Memory"] != float64(64<<20) || body["RestartPolicy"].(map[string]any)["Name"] != "on-failure" {
		t.Errorf("update body %s", u[0].Body)
	}
}

func TestLogsDemux(t *testing.T) {
	t.Parallel()
	d := newFakeDaemon(t)
	d.handle("GET /containers/{id}/json", func(w http.ResponseWriter, r *http.Request) {
		tty := r.PathValue("id") == "tty"
		writeJSON(w, http.StatusOK, map[string]any{"Id": r.PathValue("id"), "Config": map[string]any{"Tty": tty}})
	})
	d.handle("GET /containers/{id}/logs", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "tty" {
			w.Write([]byte("raw line\r\n"))
			return
		}
		writeFrame(w, 1, []byte("out 1\n"))
		writeFrame(w, 2, []byte("err 1\n"))
		writeFrame(w, 1, []byte("out 2\n"))
	})
	r := d.berth("logs", "-f", "--since", "2026-01-02T03:04:05Z", "--until", "2026-01-03T00:00:00Z", "-t", "-n", "5", "--details", "plain")
	if r.code != 0 || r.out != "out 1\nout 2\n" || r.err != "err 1\n" {
		t.Errorf("plain: exit %d out %q err %q", r.code, r.out, r.err)
	}
	q := d.sent("GET /containers/plain/logs")[0].Query
	for _, want := range []string{"follow=1", "since=1767323045", "until=1767398400", "tail=5", "timestamps=1", "details=1", "stdout=1", "stderr=1"} {
		if !strings.Contains(q, want) {
			t.Errorf("logs query %q lacks %q", q, want)
		}
	}
	if r := d.berth("container", "logs", "tty"); r.out != "raw line\r\n" || r.err != "" {
		t.Errorf("tty: out %q err %q", r.out, r.err)
	}
}

func TestExecExitCodes(t *testing.T) {
	t.Parallel()
	d := newFakeDaemon(t)
	d.json("GET /containers/{id}/json", http.StatusOK, map[string]any{"Id": "c1", "State": map[string]any{"Running": true}})
	d.json("POST /containers/{id}/exec", http.StatusCreated, map[string]any{"Id": "e1"})
	exit := 0
	d.handle("POST /exec/{id}/start", func(w http.ResponseWriter, r *http.Request) {
		var req map[string]any
		json.NewDecoder(r.Body).Decode(&req)
		if req["Detach"] == true {
			w.WriteHeader(http.StatusOK)
			return
		}
		hijack(w, "application/vnd.docker.multiplexed-stream", func(conn net.Conn, rw *bufio.ReadWriter) {
			writeFrame(rw, 1, []byte("from exec\n"))
			writeFrame(rw, 2, []byte("exec err\n"))
			rw.Flush()
		})
	})
	d.handle("GET /exec/{id}/json", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"ID": "e1", "ExitCode": exit})
	})
	for _, code := range []int{0, 42} {
		exit = code
		r := d.berth("exec", "-e", "A=1", "-u", "nobody", "-w", "/tmp", "c1", "sh", "-c", "exit")
		if r.code != code || r.out != "from exec\n" || r.err != "exec err\n" {
			t.Errorf("exit %d: got exit %d out %q err %q", code, r.code, r.out, r.err)
		}
	}
	var create map[string]any
	json.Unmarshal(d.sent("POST /containers/c1/exec")[0].Body, &create)
	if create["User"] != "nobody" || create["WorkingDir"] != "/tmp" || create["AttachStdout"] != true ||
		create["AttachStdin"] == true || create["Env"].([]any)[0] != "A=1" {
		t.Errorf("exec create body %v", create)
	}
	if r := d.berth("exec", "-d", "c1", "sleep", "1"); r.code != 0 || r.out != "" {
		t.Errorf("-d: exit %d out %q err %q", r.code, r.out, r.err)
	}
	if r := d.berth("exec", "-it", "c1", "sh"); r.code != 1 || !strings.Contains(r.err, "not a TTY") {
		t.Errorf("-it without tty: exit %d %q", r.code, r.err)
	}
	d.fail("GET /containers/{id}/json", http.StatusNotFound, "No such container: c1")
	if r := d.berth("exec", "c1", "true"); r.code != 1 || r.err != "Error response from daemon: No such container: c1\n" {
		t.Errorf("missing container: exit %d %q", r.code, r.err)
	}
}

func TestStartAttachAndPrune(t *testing.T) {
	t.Parallel()
	d := newRunDaemon(t)
	d.stdout, d.exit = "started\n", 5
	d.json("GET /containers/{id}/json", http.StatusOK, map[string]any{
		"Id": "c0ffee000000c0ffee000000", "Config": map[string]any{"Tty": false, "OpenStdin": false},
		"HostConfig": map[string]any{"AutoRemove": false}, "State": map[string]any{"Running": false},
	})
	r := d.berth("start", "-a", "web")
	if r.code != 5 || r.out != "started\n" {
		t.Errorf("start -a: exit %d out %q err %q", r.code, r.out, r.err)
	}
	if r := d.berth("start", "-a", "x", "y"); r.code != 1 || !strings.Contains(r.err, "cannot start and attach multiple") {
		t.Errorf("start -a two: %d %q", r.code, r.err)
	}
	if r := d.berth("attach", "web"); r.code != 1 || !strings.Contains(r.err, "You cannot attach to a stopped container") {
		t.Errorf("attach stopped: %d %q", r.code, r.err)
	}

	p := newFakeDaemon(t)
	p.json("POST /containers/prune", http.StatusOK, map[string]any{"ContainersDeleted": []string{"aaa", "bbb"}, "SpaceReclaimed": 4260000})
	if r := p.berthIn("n\n", "container", "prune"); r.code != 0 || len(p.sent("POST /containers/prune")) != 0 ||
		r.out != "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] " {
		t.Errorf("prune declined: %d %q", r.code, r.out)
	}
	r = p.berthIn("y\n", "container", "prune", "--filter", "until=1h")
	want := "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] " +
		"Deleted Containers:\naaa\nbbb\n\nTotal reclaimed space: 4.26MB\n"
	if r.code != 0 || r.out != want {
		t.Errorf("prune: %d\n%q\nwant\n%q", r.code, r.out, want)
	}
	if q := p.sent("POST /containers/prune"); len(q) != 1 || !strings.Contains(q[0].Query, "until") {
		t.Errorf("prune query %+v", q)
	}
}

func TestStatsNoStream(t *testing.T) {
	t.Parallel()
	d := newFakeDaemon(t)
	d.json("GET /containers/json", http.StatusOK, []container.Summary{{ID: "aaaaaaaaaaaaaaaa"}})
	d.handle("GET /containers/{id}/stats", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "nope" {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "No such container: nope"})
			return
		}
		w.Write([]byte(`{"id":"aaaaaaaaaaaaaaaa","name":"/web","cpu_stats":{"cpu_usage":{"total_usage":3000000000},"system_cpu_usage":20000000000,"online_cpus":2},` +
			`"precpu_stats":{"cpu_usage":{"total_usage":1000000000},"system_cpu_usage":10000000000},` +
			`"memory_stats":{"usage":10485760,"limit":104857600,"stats":{"total_inactive_file":2097152}},` +
			`"networks":{"eth0":{"rx_bytes":1000,"tx_bytes":2000}},` +
			`"blkio_stats":{"io_service_bytes_recursive":[{"op":"Read","value":4096},{"op":"Write","value":8192}]},"pids_stats":{"current":3}}`))
	})
	r := d.berth("stats", "--no-stream")
	want := "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O     BLOCK I/O        PIDS\n" +
		"aaaaaaaaaaaa   web       40.00%    8MiB / 100MiB       8.00%     1kB / 2kB   4.1kB / 8.19kB   3\n"
	if r.code != 0 {
		t.Fatalf("exit %d %s", r.code, r.err)
	}
	if r.out != want {
		t.Errorf("got\n%s\nwant\n%s", r.out, want)
	}
	for _, part := range []string{"40.00%", "8MiB / 100MiB", "8.00%", "1kB / 2kB", "4.1kB / 8.19kB", "web"} {
		if !strings.Contains(r.out, part) {
			t.Errorf("stats lacks %q:\n%s", part, r.out)
		}
	}
	if r := d.berth("stats", "--no-stream", "--format", "{{.Container}} {{.CPUPerc}} {{.PIDs}}", "web"); r.out != "web 40.00% 3\n" {
		t.Errorf("format: %q %s", r.out, r.err)
	}
	if r := d.berth("stats", "--no-stream", "nope"); r.code != 1 || !strings.Contains(r.err, "No such container: nope") {
		t.Errorf("missing: %d %q", r.code, r.err)
	}
}

func TestStatsStreamRedraws(t *testing.T) {
	t.Parallel()
	d := newFakeDaemon(t)
	d.json("GET /containers/json", http.StatusOK, []container.Summary{{ID: "aaaaaaaaaaaaaaaa"}})
	d.handle("GET /containers/{id}/stats", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; ; i++ {
			if _, err := w.Write([]byte(`{"id":"aaaaaaaaaaaaaaaa","name":"/web","pids_stats":{"current":` + strconv.Itoa(i+1) + `}}` + "\n")); err != nil {
				return
			}
			http.NewResponseController(w).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 1300*time.Millisecond)
	defer cancel()
	var out, errb bytes.Buffer
	code := Main(ctx, Streams{In: strings.NewReader(""), Out: &out, Err: &errb},
		[]string{"-H", d.host, "stats", "--format", "{{.Name}} {{.PIDs}}"})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "web ") {
		t.Errorf("expected a redraw every 500ms, got %q", out.String())
	}
	if q := d.sent("GET /containers/aaaaaaaaaaaaaaaa/stats"); len(q) != 1 || !strings.Contains(q[0].Query, "stream=true") {
		t.Errorf("stats request %+v", q)
	}
}
