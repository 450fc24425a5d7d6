package server_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/registry"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
)

// messages decodes a JSON progress stream.
func messages(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("progress stream %q: %v", body, err)
		}
		out = append(out, m)
	}
	return out
}

func TestPull(t *testing.T) {
	t.Parallel()
	fake, h := newHandler(t)
	auth := base64.URLEncoding.EncodeToString([]byte(`{"username":"u","password":"p","serveraddress":"r.example"}`))
	rec := do(t, h, "POST", "/v1.50/images/create?fromImage=alpine&tag=3.20&platform=linux/amd64", nil, "X-Registry-Auth", auth)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("pull: %d %s", rec.Code, rec.Body)
	}
	msgs := messages(t, rec.Body.Bytes())
	if last := msgs[len(msgs)-1]["status"]; last != "Status: Downloaded newer image for alpine:3.20" {
		t.Errorf("last message %v", last)
	}
	c, _ := fake.Last("ImagePull")
	opts := c.Opts.(server.ImagePullOptions)
	if c.Name != "alpine" || opts.Tag != "3.20" || opts.Platform != "linux/amd64" || opts.Auth == nil ||
		*opts.Auth != (registry.AuthConfig{Username: "u", Password: "p", ServerAddress: "r.example"}) {
		t.Errorf("pull call %+v %+v", c, opts)
	}

	// Unpadded base64url works; a header that does not decode is ignored,
	// as dockerd ignores it for pulls.
	unpadded := base64.RawURLEncoding.EncodeToString([]byte(`{"username":"x"}`))
	do(t, h, "POST", "/images/create?fromImage=busybox", nil, "X-Registry-Auth", unpadded)
	if c, _ := fake.Last("ImagePull"); c.Opts.(server.ImagePullOptions).Auth.Username != "x" {
		t.Errorf("unpadded auth %+v", c.Opts)
	}
	do(t, h, "POST", "/images/create?fromImage=busybox", nil, "X-Registry-Auth", "!!not base64!!")
	if c, _ := fake.Last("ImagePull"); c.Opts.(server.ImagePullOptions).Auth != nil {
		t.Errorf("bad auth header not ignored %+v", c.Opts)
	}
	// "docker pull -a" sends a trailing colon.
	do(t, h, "POST", "/images/create?fromImage=busybox:", nil)
	if c, _ := fake.Last("ImagePull"); c.Name != "busybox" {
		t.Errorf("trailing colon: %q", c.Name)
	}

	// An error in the middle of the stream is reported once, in it.
	rec = do(t, h, "POST", "/images/create?fromImage=fail/midway", nil)
	msgs = messages(t, rec.Body.Bytes())
	errs := 0
	for _, m := range msgs {
		if m["errorDetail"] != nil {
			errs++
		}
	}
	if rec.Code != 200 || errs != 1 {
		t.Errorf("mid-stream failure: %d %s", rec.Code, rec.Body)
	}
	// An error before any output is a status.
	fake.SetError("ImagePull", errdefs.Errorf(errdefs.ErrNotFound, "pull access denied for nothere, repository does not exist or may require 'docker login'"))
	rec = do(t, h, "POST", "/images/create?fromImage=nothere", nil)
	if rec.Code != 404 || !strings.Contains(errorMessage(t, rec), "pull access denied") {
		t.Errorf("early failure: %d %s", rec.Code, rec.Body)
	}
	fake.SetError("ImagePull", nil)

	for path, status := range map[string]int{
		"/images/create?fromImage=busybox/UPPER":                 400,
		"/images/create?fromImage=busybox&tag=bad tag":           400,
		"/images/create?fromImage=busybox&tag=sha256:abc":        400,
		"/images/create?fromImage=scratch":                       403,
		"/images/create?fromImage=busybox&platform=linux//amd64": 400,
		"/images/create": 400,
	} {
		if rec := do(t, h, "POST", strings.ReplaceAll(path, " ", "%20"), nil); rec.Code != status {
			t.Errorf("%s: %d %s", path, rec.Code, rec.Body)
		}
	}
}

func TestImportAndLoadStreamBigBodies(t *testing.T) {
	t.Parallel()
	fake, h := newHandler(t, server.WithMaxJSONBody(1<<10))
	big := bytes.Repeat([]byte("layer data "), 200<<10) // 2.2 MB, far over the JSON cap
	rec := do(t, h, "POST", "/v1.50/images/create?fromSrc=-&repo=imported&tag=v1&message=hi&changes=CMD%20sh", bytes.NewReader(big))
	if rec.Code != 200 {
		t.Fatalf("import: %d %s", rec.Code, rec.Body)
	}
	c, _ := fake.Last("ImageImport")
	opts := c.Opts.(server.ImageImportOptions)
	if opts.Repo != "imported" || opts.Tag != "v1" || opts.Message != "hi" || len(opts.Changes) != 1 || opts.Changes[0] != "CMD sh" {
		t.Errorf("import options %+v", opts)
	}
	rec = do(t, h, "POST", "/v1.50/images/load", bytes.NewReader(big))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "Loaded image") {
		t.Fatalf("load: %d %s", rec.Code, rec.Body)
	}
	if c, _ := fake.Last("ImageLoad"); c.Opts != true {
		t.Errorf("quiet default %v", c.Opts)
	}
	do(t, h, "POST", "/v1.50/images/load?quiet=0", bytes.NewReader([]byte("x")))
	if c, _ := fake.Last("ImageLoad"); c.Opts != false {
		t.Errorf("quiet=0 %v", c.Opts)
	}
	// An empty archive fails before any output: a status.
	if rec := do(t, h, "POST", "/v1.50/images/load", bytes.NewReader(nil)); rec.Code != 400 {
		t.Errorf("empty load: %d %s", rec.Code, rec.Body)
	}
	for path, status := range map[string]int{
		"/images/create?fromSrc=-&repo=Bad%20Repo":                          400,
		"/images/create?fromSrc=-&repo=a@sha256:" + strings.Repeat("a", 64): 400,
		"/images/create?fromSrc=ftp://example.com/x.tar":                    400,
	} {
		if rec := do(t, h, "POST", path, bytes.NewReader([]byte("x"))); rec.Code != status {
			t.Errorf("%s: %d %s", path, rec.Code, rec.Body)
		}
	}
}

func TestImageEndpoints(t *testing.T) {
	t.Parallel()
	fake, h := newHandler(t)
	expect := func(method, path string, status int) []byte {
		t.Helper()
		rec := do(t, h, method, path, nil)
		if rec.Code != status {
			t.Fatalf("%s %s: %d, want %d (%s)", method, path, rec.Code, status, rec.Body)
		}
		return rec.Body.Bytes()
	}
	expect("POST", "/images/create?fromImage=library/alpine&tag=latest", 200)

	expect("POST", "/v1.50/images/busybox/tag?repo=localhost:5000/team/box&tag=v2", 201)
	if c, _ := fake.Last("ImageTag"); c.Name != "busybox" || c.Opts != "localhost:5000/team/box:v2" {
		t.Errorf("tag %+v", c)
	}
	expect("POST", "/v1.50/images/busybox/tag?repo=mine", 201)
	if c, _ := fake.Last("ImageTag"); c.Opts != "mine:latest" {
		t.Errorf("default tag %+v", c)
	}
	expect("POST", "/v1.50/images/busybox/tag?repo=sha256", 400)
	expect("POST", "/v1.50/images/busybox/tag", 400)
	expect("POST", "/v1.50/images/busybox/tag?repo=x&tag=-bad", 400)

	// Names with slashes and ports route to the greedy patterns.
	info := expect("GET", "/v1.50/images/localhost:5000/team/box:v2/json", 200)
	if !strings.Contains(string(info), `"localhost:5000/team/box:v2"`) {
		t.Errorf("inspect %s", info)
	}
	expect("GET", "/v1.50/images/localhost:5000/team/box:v2/history", 200)
	expect("GET", "/v1.50/images/nothere/json", 404)

	// Old clients get the fields they read.
	var old map[string]any
	json.Unmarshal(expect("GET", "/v1.41/images/busybox/json", 200), &old)
	for _, k := range []string{"VirtualSize", "Parent", "DockerVersion", "Comment", "Author", "Created"} {
		if _, ok := old[k]; !ok {
			t.Errorf("1.41 inspect lacks %s: %v", k, old)
		}
	}
	var list []map[string]any
	json.Unmarshal(expect("GET", "/v1.41/images/json?all=1", 200), &list)
	if len(list) == 0 || list[0]["VirtualSize"] == nil || list[0]["Containers"] != float64(-1) {
		t.Errorf("1.41 list %v", list)
	}
	list = nil
	json.Unmarshal(expect("GET", "/v1.50/images/json?filters="+`{"reference":{"mine":true}}`, 200), &list)
	if len(list) != 1 || list[0]["VirtualSize"] != nil {
		t.Errorf("1.50 filtered list %v", list)
	}
	expect("GET", "/v1.24/images/json?filter=mine", 200)
	if c, _ := fake.Last("ImageList"); c.Opts.(server.ImageListOptions).Filters["reference"][0] != "mine" {
		t.Errorf("1.24 filter %+v", c.Opts)
	}

	expect("POST", "/v1.50/images/mine/push", 200)
	expect("POST", "/v1.50/images/localhost:5000/team/box/push?tag=v2", 200)
	if c, _ := fake.Last("ImagePush"); c.Name != "localhost:5000/team/box" || c.Opts.(server.ImagePushOptions).Tag != "v2" {
		t.Errorf("push %+v", c)
	}
	expect("POST", `/v1.50/images/mine/push?platform={"os":"linux","architecture":"arm64","variant":"v8"}`, 200)
	if c, _ := fake.Last("ImagePush"); c.Opts.(server.ImagePushOptions).Platform != "linux/arm64/v8" {
		t.Errorf("push platform %+v", c.Opts)
	}
	expect("POST", `/v1.50/images/mine/push?platform={"os":"linux"}`, 400)
	expect("POST", "/v1.50/images/nothere/push", 404)

	tar := expect("GET", "/v1.50/images/get?names=busybox&names=mine", 200)
	if string(tar) != "fake-archive:busybox,mine\n" {
		t.Errorf("save %q", tar)
	}
	expect("GET", "/v1.50/images/busybox/get", 200)
	expect("GET", "/v1.50/images/get?names=nothere", 404)
	expect("GET", "/v1.50/images/get", 400)

	res := expect("GET", "/v1.50/images/search?term=busy&limit=1&filters="+`{"is-official":["true"]}`, 200)
	if !strings.Contains(string(res), `"name":"busybox"`) {
		t.Errorf("search %s", res)
	}
	expect("GET", "/v1.50/images/search?term=busy&limit=-1", 400)
	expect("GET", "/v1.50/images/search?term=busy&limit=many", 400)
	expect("GET", "/v1.50/images/search?term=busy&filters="+`{"colour":["red"]}`, 400)
	expect("GET", "/v1.50/images/search", 400)

	del := expect("DELETE", "/v1.50/images/mine?force=1&noprune=1", 200)
	if !strings.Contains(string(del), `"Untagged":"mine:latest"`) {
		t.Errorf("delete %s", del)
	}
	if c, _ := fake.Last("ImageDelete"); c.Opts != [2]bool{true, true} {
		t.Errorf("delete options %+v", c.Opts)
	}
	expect("DELETE", "/v1.50/images/%20", 400)
	expect("POST", "/v1.50/images/prune?filters="+`{"dangling":["true"]}`, 200)
}

func TestSystemEndpoints(t *testing.T) {
	t.Parallel()
	fake, h := newHandler(t)
	rec := do(t, h, "GET", "/v1.41/info", nil)
	var info map[string]any
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &info) != nil {
		t.Fatalf("info: %d %s", rec.Code, rec.Body)
	}
	if info["BridgeNfIptables"] != false || info["Swarm"].(map[string]any)["LocalNodeState"] != "inactive" || info["Images"] != float64(1) {
		t.Errorf("info %v", info)
	}

	rec = do(t, h, "GET", "/v1.50/system/df", nil)
	var du map[string]any
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &du) != nil {
		t.Fatalf("df: %d %s", rec.Code, rec.Body)
	}
	for _, k := range []string{"LayersSize", "Images", "Containers", "Volumes", "BuildCache", "ImageUsage"} {
		if _, ok := du[k]; !ok {
			t.Errorf("df lacks %s: %s", k, rec.Body)
		}
	}
	if imgs := du["Images"].([]any); len(imgs) != 1 || imgs[0].(map[string]any)["VirtualSize"] != nil {
		t.Errorf("1.50 df images %v", du["Images"])
	}
	if vols, ok := du["Volumes"].([]any); !ok || len(vols) != 0 {
		t.Errorf("df volumes must be [] for old clients: %v", du["Volumes"])
	}
	rec = do(t, h, "GET", "/v1.50/system/df?type=image&type=volume", nil)
	du = nil
	json.Unmarshal(rec.Body.Bytes(), &du)
	if _, ok := du["Containers"]; ok || du["Images"] == nil {
		t.Errorf("df by type %s", rec.Body)
	}
	if c, _ := fake.Last("DiskUsage"); strings.Join(c.Opts.(server.DiskUsageOptions).Types, ",") != "image,volume" {
		t.Errorf("df options %+v", c.Opts)
	}
	if rec := do(t, h, "GET", "/v1.50/system/df?type=pets", nil); rec.Code != 400 || errorMessage(t, rec) != "unknown object type: pets" {
		t.Errorf("df bad type: %d %s", rec.Code, rec.Body)
	}
	// Before 1.42 the type parameter did not exist; before 1.44 images
	// had a VirtualSize.
	rec = do(t, h, "GET", "/v1.41/system/df?type=pets", nil)
	du = nil
	json.Unmarshal(rec.Body.Bytes(), &du)
	if imgs, _ := du["Images"].([]any); rec.Code != 200 || len(imgs) != 1 || imgs[0].(map[string]any)["VirtualSize"] == nil {
		t.Errorf("1.41 df: %d %s", rec.Code, rec.Body)
	}

	rec = do(t, h, "POST", "/v1.50/auth", strings.NewReader(`{"username":"me","password":"pw","serveraddress":"r.example"}`))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"Status":"Login Succeeded"`) {
		t.Errorf("auth: %d %s", rec.Code, rec.Body)
	}
	rec = do(t, h, "POST", "/v1.50/auth", strings.NewReader(`{"username":"bad"}`))
	if rec.Code != 401 {
		t.Errorf("bad login: %d %s", rec.Code, rec.Body)
	}
	rec = do(t, h, "POST", "/v1.50/auth", strings.NewReader(`{"username":5}`))
	if rec.Code != 400 {
		t.Errorf("wrong type: %d %s", rec.Code, rec.Body)
	}
}
