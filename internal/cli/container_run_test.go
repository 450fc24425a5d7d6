package cli

import (
	"net/http"
	"strings"
	"testing"
)

func TestRunCopiesOutputAndExitCode(t *testing.T) {
	t.Parallel()
	for _, exit := range []int{0, 3} {
		d := newRunDaemon(t)
		d.stdout, d.stderr, d.exit = "hello\n", "warn\n", exit
		r := d.berth("run", "--rm", "busybox", "sh", "-c", "echo hello; echo warn >&2")
		if r.code != exit || r.out != "hello\n" || r.err != "warn\n" {
			t.Errorf("exit %d: got exit %d out %q err %q", exit, r.code, r.out, r.err)
		}
		if w := d.sent("POST /containers/c0ffee000000c0ffee000000/wait"); len(w) != 1 || w[0].Query != "condition=removed" {
			t.Errorf("--rm waits with %+v", w)
		}
	}
}

func TestRunStdin(t *testing.T) {
	t.Parallel()
	d := newRunDaemon(t)
	d.echo = true
	r := d.berthIn("typed input\n", "run", "-i", "busybox", "cat")
	if r.code != 0 || r.out != "typed input\n" {
		t.Errorf("got exit %d out %q err %q", r.code, r.out, r.err)
	}
	if a := d.sent("POST /containers/c0ffee000000c0ffee000000/attach"); len(a) != 1 || !strings.Contains(a[0].Query, "stdin=1") {
		t.Errorf("attach %+v", a)
	}
	if w := d.sent("POST /containers/c0ffee000000c0ffee000000/wait"); len(w) != 1 || w[0].Query != "condition=next-exit" {
		t.Errorf("wait %+v", w)
	}
}

func TestRunDetached(t *testing.T) {
	t.Parallel()
	d := newRunDaemon(t)
	r := d.berth("run", "-d", "busybox", "sleep", "1")
	if r.code != 0 || r.out != "c0ffee000000c0ffee000000\n" {
		t.Errorf("got exit %d out %q err %q", r.code, r.out, r.err)
	}
	if a := d.sent("POST /containers/c0ffee000000c0ffee000000/attach"); len(a) != 0 {
		t.Errorf("-d attached")
	}
	if r := d.berth("run", "-d", "-a", "stdout", "busybox"); r.code != 1 || !strings.Contains(r.err, "cannot specify both --attach and --detach") {
		t.Errorf("-d -a: exit %d %q", r.code, r.err)
	}
	if r := d.berth("run", "-it", "busybox"); r.code != 1 || !strings.Contains(r.err, "the input device is not a TTY") {
		t.Errorf("-it without a tty: exit %d %q", r.code, r.err)
	}
}

func TestRunExitCodes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		createCode int
		startMsg   string
		want       int
	}{
		{"not found", 0, `failed to create task: exec: "nope": executable file not found in $PATH`, 127},
		{"no such file", 0, `exec /bin/nope: no such file or directory`, 127},
		{"permission", 0, `exec /etc/passwd: permission denied`, 126},
		{"other start failure", 0, `cgroup setup failed`, 125},
		{"create failure", http.StatusConflict, "", 125},
	}
	for _, c := range cases {
		d := newFakeDaemon(t)
		if c.createCode != 0 {
			d.fail("POST /containers/create", c.createCode, `Conflict. The container name "/web" is already in use`)
		} else {
			d.json("POST /containers/create", http.StatusCreated, map[string]any{"Id": "abc"})
		}
		d.json("POST /containers/{id}/wait", http.StatusOK, map[string]any{"StatusCode": 0})
		d.fail("POST /containers/{id}/start", http.StatusBadRequest, c.startMsg)
		r := d.berth("run", "-d", "--name", "web", "busybox", "nope")
		if r.code != c.want || !strings.Contains(r.err, "Error response from daemon:") || !strings.Contains(r.err, "Run 'berth run --help'") {
			t.Errorf("%s: exit %d (want %d), stderr %q", c.name, r.code, c.want, r.err)
		}
	}
	d := newFakeDaemon(t)
	for _, args := range [][]string{
		{"run", "--restart", "on-failure:x", "busybox"},
		{"run", "--pull", "sometimes", "busybox"},
		{"run", "--rm", "--restart", "always", "busybox"},
		{"run", "--sysctl", "kernel.bogus=1", "busybox"},
		{"run", "--bogus-flag", "busybox"},
	} {
		if r := d.berth(args...); r.code != 125 {
			t.Errorf("%v: exit %d, want 125 (%s)", args, r.code, r.err)
		}
	}
}

func TestRunPullsMissingImage(t *testing.T) {
	t.Parallel()
	d := newRunDaemon(t)
	d.stdout = "hi\n"
	created := 0
	d.handle("POST /containers/create", func(w http.ResponseWriter, r *http.Request) {
		created++
		if created == 1 {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "No such image: busybox:latest"})
			return
		}
		writeJSON(w, http.StatusCreated, map[string]any{"Id": "c0ffee000000c0ffee000000"})
	})
	d.handle("POST /images/create", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"Pulling from library/busybox","id":"latest"}` + "\n" +
			`{"status":"Status: Downloaded newer image for busybox:latest"}` + "\n"))
	})
	r := d.berth("run", "busybox", "echo", "hi")
	if r.code != 0 || r.out != "hi\n" {
		t.Fatalf("exit %d out %q err %q", r.code, r.out, r.err)
	}
	for _, want := range []string{"Unable to find image 'busybox:latest' locally", "latest: Pulling from library/busybox", "Status: Downloaded newer image"} {
		if !strings.Contains(r.err, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.err)
		}
	}
	p := d.sent("POST /images/create")
	if len(p) != 1 || !strings.Contains(p[0].Query, "fromImage=docker.io%2Flibrary%2Fbusybox") && !strings.Contains(p[0].Query, "fromImage=busybox") {
		t.Errorf("pull request %+v", p)
	}
}

func TestRunPullNeverAndFailedPull(t *testing.T) {
	t.Parallel()
	d := newFakeDaemon(t)
	d.fail("POST /containers/create", http.StatusNotFound, "No such image: busybox:latest")
	d.handle("POST /images/create", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"errorDetail":{"message":"pull access denied for busybox"},"error":"pull access denied for busybox"}` + "\n"))
	})
	r := d.berth("run", "--pull", "never", "busybox")
	if r.code != 125 || !strings.Contains(r.err, "No such image: busybox:latest") || len(d.sent("POST /images/create")) != 0 {
		t.Errorf("--pull never: exit %d %q", r.code, r.err)
	}
	r = d.berth("run", "busybox")
	if r.code != 125 || !strings.Contains(r.err, "pull access denied for busybox") {
		t.Errorf("failed pull: exit %d %q", r.code, r.err)
	}
}
