package cli

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/image"
)

func TestTagRmiHistory(t *testing.T) {
	t.Parallel()
	d := newFakeDaemon(t)
	d.handle("POST /images/{name}/tag", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	d.handle("DELETE /images/{name}", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("name") {
		case "gone":
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "No such image: gone:latest"})
		case "used":
			writeJSON(w, http.StatusConflict, map[string]string{"message": "conflict: unable to remove repository reference"})
		default:
			writeJSON(w, http.StatusOK, []image.DeleteResponse{{Untagged: "busybox:latest"}, {Deleted: "sha256:6d3e"}})
		}
	})
	now := time.Now()
	d.json("GET /images/{name}/history", http.StatusOK, []image.HistoryResponseItem{
		{ID: "sha256:6d3e4188a38af91b0c1577b9e88c53368926b2fe0e1fb985d6e8a70040520c4d", Created: now.Add(-48 * time.Hour).Unix(), CreatedBy: "/bin/sh -c #(nop) CMD [\"sh\"]", Size: 0},
		{ID: "<missing>", Created: now.Add(-48 * time.Hour).Unix(), CreatedBy: "/bin/sh -c #(nop) ADD file:8d6a4b1f6c8c3e1a9b0e2f4d6c8a0b2d4f6e8a0c2e4f6a8b in / ", Size: 4260000, Comment: "imported"},
	})
	cases := []struct {
		args     []string
		out, err string
		code     int
	}{
		{[]string{"tag", "busybox", "localhost:5000/busybox:v1"}, "", "", 0},
		{[]string{"rmi", "busybox"}, "Untagged: busybox:latest\nDeleted: sha256:6d3e\n", "", 0},
		{[]string{"rmi", "gone"}, "", "Error response from daemon: No such image: gone:latest\n", 1},
		{[]string{"rmi", "-f", "gone", "busybox"}, "Untagged: busybox:latest\nDeleted: sha256:6d3e\n", "Error response from daemon: No such image: gone:latest\n", 0},
		{[]string{"image", "rm", "-f", "used"}, "", "conflict: unable to remove", 1},
		{[]string{"history", "-q", "busybox"}, "6d3e4188a38a\n<missing>\n", "", 0},
		{[]string{"history", "--format", "{{.Size}}|{{.Comment}}", "-H=false", "busybox"}, "0|\n4260000|imported\n", "", 0},
		{[]string{"image", "history", "busybox"}, "IMAGE          CREATED      CREATED BY                                      SIZE      COMMENT\n" +
			"6d3e4188a38a   2 days ago   /bin/sh -c #(nop) CMD [\"sh\"]                    0B        \n" +
			"<missing>      2 days ago   /bin/sh -c #(nop) ADD file:8d6a4b1f6c8c3e1a9…   4.26MB    imported\n", "", 0},
	}
	for _, c := range cases {
		r := d.berth(c.args...)
		if r.out != c.out || !strings.Contains(r.err, c.err) || r.code != c.code {
			t.Errorf("%v: got out %q err %q exit %d; want %q %q %d", c.args, r.out, r.err, r.code, c.out, c.err, c.code)
		}
	}
	if q := d.sent("POST /images/busybox/tag"); len(q) != 1 || q[0].Query != "repo=localhost%3A5000%2Fbusybox&tag=v1" {
		t.Errorf("tag %+v", q)
	}
	if q := d.sent("DELETE /images/busybox"); len(q) != 2 || q[0].Query != "" || q[1].Query != "force=1" {
		t.Errorf("rmi %+v", q)
	}
}

func TestSaveLoadImport(t *testing.T) {
	t.Parallel()
	d := newFakeDaemon(t)
	d.handle("GET /images/get", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("TARBYTES")) })
	d.handle("POST /images/load", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"stream":"Loaded image: busybox:latest (` + string(body) + `)\n"}` + "\n"))
	})
	d.handle("POST /images/create", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"sha256:feedbeef"}` + "\n"))
	})
	dir := t.TempDir()
	out := filepath.Join(dir, "x.tar")
	if r := d.berth("save", "-o", out, "busybox", "alpine"); r.code != 0 {
		t.Fatalf("save: %d %s", r.code, r.err)
	}
	if b, _ := os.ReadFile(out); string(b) != "TARBYTES" {
		t.Errorf("saved %q", b)
	}
	if q := d.sent("GET /images/get"); len(q) != 1 || q[0].Query != "names=busybox&names=alpine" {
		t.Errorf("save query %+v", q)
	}
	if r := d.berth("image", "save", "busybox"); r.out != "TARBYTES" {
		t.Errorf("save to stdout: %q", r.out)
	}
	if r := d.berth("load", "-i", out); r.code != 0 || r.out != "Loaded image: busybox:latest (TARBYTES)\n" {
		t.Errorf("load -i: %d %q %q", r.code, r.out, r.err)
	}
	if r := d.berthIn("FROMSTDIN", "load", "-q"); r.out != "Loaded image: busybox:latest (FROMSTDIN)\n" {
		t.Errorf("load stdin: %q %q", r.out, r.err)
	}
	if q := d.sent("POST /images/load"); len(q) != 2 || !strings.Contains(q[0].Query, "quiet=1") {
		t.Errorf("load query %+v", q)
	}
	if r := d.berthIn("ROOTFS", "import", "-c", "CMD [\"sh\"]", "-m", "hello", "-", "mine:1"); r.code != 0 || r.out != "sha256:feedbeef\n" {
		t.Errorf("import: %d %q %q", r.code, r.out, r.err)
	}
	q := d.sent("POST /images/create")
	if len(q) != 1 || string(q[0].Body) != "ROOTFS" || !strings.Contains(q[0].Query, "fromSrc=-") ||
		!strings.Contains(q[0].Query, "repo=mine%3A1") || !strings.Contains(q[0].Query, "message=hello") {
		t.Errorf("import request %+v", q)
	}
}

func TestLoginPullPushUseSavedCredentials(t *testing.T) {
	t.Parallel()
	d := newFakeDaemon(t)
	cfgDir := t.TempDir()
	d.handle("POST /auth", func(w http.ResponseWriter, r *http.Request) {
		var req map[string]string
		json.NewDecoder(r.Body).Decode(&req)
		if req["password"] != "s3cret" {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "login attempt to http://localhost:5000/v2/ failed with status: 401 Unauthorized"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"Status": "Login Succeeded"})
	})
	progress := `{"status":"Pulling from x","id":"v1"}` + "\n" + `{"status":"Digest: sha256:1"}` + "\n"
	d.handle("POST /images/create", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(progress)) })
	d.handle("POST /images/{name...}", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status":"The push refers to repository [localhost:5000/x]"}` + "\n" + `{"aux":{"Tag":"v1","Digest":"sha256:1","Size":1}}` + "\n"))
	})

	if r := d.berthIn("wrong\n", "--config", cfgDir, "login", "-u", "me", "--password-stdin", "localhost:5000"); r.code != 1 || !strings.Contains(r.err, "401 Unauthorized") {
		t.Errorf("bad login: %d %q", r.code, r.err)
	}
	r := d.berthIn("s3cret\n", "--config", cfgDir, "login", "-u", "me", "--password-stdin", "http://localhost:5000/v2/")
	if r.code != 0 || r.out != "Login Succeeded\n" {
		t.Fatalf("login: %d %q %q", r.code, r.out, r.err)
	}
	var cfg struct {
		Auths map[string]struct{ Auth string } `json:"auths"`
	}
	raw, _ := os.ReadFile(filepath.Join(cfgDir, "config.json"))
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	if got, _ := base64.StdEncoding.DecodeString(cfg.Auths["localhost:5000"].Auth); string(got) != "me:s3cret" {
		t.Errorf("saved auth %q in %s", got, raw)
	}
	if fi, _ := os.Stat(filepath.Join(cfgDir, "config.json")); fi.Mode().Perm() != 0o600 {
		t.Errorf("config.json mode %v", fi.Mode())
	}

	r = d.berth("--config", cfgDir, "pull", "localhost:5000/x")
	if r.code != 0 || r.out != "Using default tag: latest\nv1: Pulling from x\nDigest: sha256:1\nlocalhost:5000/x:latest\n" {
		t.Errorf("pull: %d %q %q", r.code, r.out, r.err)
	}
	pulls := d.sent("POST /images/create")
	auth, _ := base64.URLEncoding.DecodeString(pulls[0].Header.Get("X-Registry-Auth"))
	if !strings.Contains(string(auth), `"username":"me"`) || !strings.Contains(string(auth), `"password":"s3cret"`) {
		t.Errorf("pull sent auth %q", auth)
	}
	if !strings.Contains(pulls[0].Query, "fromImage=localhost%3A5000%2Fx") || !strings.Contains(pulls[0].Query, "tag=latest") {
		t.Errorf("pull query %q", pulls[0].Query)
	}
	if r := d.berth("--config", cfgDir, "pull", "-q", "localhost:5000/x:v1"); r.out != "localhost:5000/x:v1\n" {
		t.Errorf("pull -q: %q", r.out)
	}
	r = d.berth("--config", cfgDir, "push", "localhost:5000/x:v1")
	if r.code != 0 || r.out != "The push refers to repository [localhost:5000/x]\n" {
		t.Errorf("push: %d %q %q", r.code, r.out, r.err)
	}
	if pushes := d.sent("POST /images/localhost:5000/x/push"); len(pushes) != 1 || pushes[0].Header.Get("X-Registry-Auth") == "" || pushes[0].Query != "tag=v1" {
		t.Errorf("push request %+v", pushes)
	}

	if r := d.berth("--config", cfgDir, "logout", "localhost:5000"); r.out != "Removing login credentials for localhost:5000\n" {
		t.Errorf("logout: %q %q", r.out, r.err)
	}
	if r := d.berth("--config", cfgDir, "logout", "localhost:5000"); r.out != "Not logged in to localhost:5000\n" {
		t.Errorf("second logout: %q", r.out)
	}
	if r := d.berth("--config", cfgDir, "login", "-p", "x", "--password-stdin", "-u", "me"); r.code != 1 || !strings.Contains(r.err, "conflicting options") {
		t.Errorf("conflicting login flags: %d %q", r.code, r.err)
	}
}

func TestSearchAndImagePrune(t *testing.T) {
	t.Parallel()
	d := newFakeDaemon(t)
	d.json("GET /images/search", http.StatusOK, []map[string]any{
		{"name": "busybox", "description": "Busybox base image.", "star_count": 3300, "is_official": true},
		{"name": "someone/busybox-with-a-very-long-name", "description": "A very long description that goes on and on beyond forty-five characters", "star_count": 2},
	})
	d.json("POST /images/prune", http.StatusOK, map[string]any{
		"ImagesDeleted": []map[string]string{{"Untagged": "old:1"}, {"Deleted": "sha256:aaa"}}, "SpaceReclaimed": 1000,
	})
	r := d.berth("search", "--limit", "5", "busybox")
	want := "NAME                                    DESCRIPTION                                     STARS     OFFICIAL\n" +
		"busybox                                 Busybox base image.                             3300      [OK]\n" +
		"someone/busybox-with-a-very-long-name   A very long description that goes on and on …   2         \n"
	if r.code != 0 || r.out != want {
		t.Errorf("search: %d\n%s\nwant\n%s", r.code, r.out, want)
	}
	if q := d.sent("GET /images/search"); !strings.Contains(q[0].Query, "limit=5") || !strings.Contains(q[0].Query, "term=busybox") {
		t.Errorf("search query %q", q[0].Query)
	}
	if r := d.berth("search", "--format", "{{.Name}}: {{.IsOfficial}}", "busybox"); r.out != "busybox: [OK]\nsomeone/busybox-with-a-very-long-name: \n" {
		t.Errorf("search format: %q", r.out)
	}
	r = d.berth("image", "prune", "-a", "-f")
	if r.out != "Deleted Images:\nuntagged: old:1\ndeleted: sha256:aaa\n\nTotal reclaimed space: 1kB\n" {
		t.Errorf("image prune: %q", r.out)
	}
	if q := d.sent("POST /images/prune"); !strings.Contains(q[0].Query, "dangling") || !strings.Contains(q[0].Query, "false") {
		t.Errorf("image prune -a query %q", q[0].Query)
	}
}
