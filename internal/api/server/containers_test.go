package server_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/api/server/servertest"
)

// create makes a container through the API and returns its ID.
func create(t *testing.T, h http.Handler, name string, body string) string {
	t.Helper()
	path := "/v1.50/containers/create"
	if name != "" {
		path += "?name=" + name
	}
	rec := do(t, h, "POST", path, strings.NewReader(body))
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	var resp container.CreateResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.ID == "" || resp.Warnings == nil {
		t.Fatalf("create response %s: %v", rec.Body, err)
	}
	return resp.ID
}

func lastCreate(t *testing.T, fake *servertest.Fake) server.ContainerCreateRequest {
	t.Helper()
	c, ok := fake.Last("ContainerCreate")
	if !ok {
		t.Fatal("ContainerCreate was not called")
	}
	return c.Opts.(server.ContainerCreateRequest)
}

func TestCreateDecoding(t *testing.T) {
	t.Parallel()
	fake, h := newHandler(t, server.WithCgroupUnified(false))
	create(t, h, "web", `{"Image":"busybox","Cmd":["sleep","1"],"Env":["A=1"],"Labels":{"l":"v"},"Tty":true,
		"HostConfig":{"PidsLimit":-1,"Memory":1048576,"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":3}},
		"NetworkingConfig":{"EndpointsConfig":{"none":null}}}`)
	req := lastCreate(t, fake)
	if req.Name != "web" || req.APIVersion != "1.50" || req.Config.Image != "busybox" || !req.Config.Tty ||
		!reflect.DeepEqual([]string(req.Config.Cmd), []string{"sleep", "1"}) || req.Config.Labels["l"] != "v" {
		t.Errorf("config %+v", req)
	}
	if req.Host.PidsLimit != nil {
		t.Errorf("PidsLimit -1 should mean unset, got %d", *req.Host.PidsLimit)
	}
	if req.Host.Memory != 1<<20 || req.Host.RestartPolicy.MaximumRetryCount != 3 || req.Host.NetworkMode != "default" {
		t.Errorf("host config %+v", req.Host)
	}
	if req.Config.Volumes == nil || req.Host.PortBindings == nil {
		t.Error("nil maps not defaulted")
	}
	nc := req.Networking.(*network.NetworkingConfig)
	if nc.EndpointsConfig["none"] == nil {
		t.Error("a null endpoint was not given settings")
	}

	// No HostConfig at all is fine.
	create(t, h, "", `{"Image":"busybox"}`)
	if req := lastCreate(t, fake); req.Host == nil || req.Name != "" {
		t.Errorf("minimal create %+v", req)
	}
}

func TestCreateVersionAdjustments(t *testing.T) {
	t.Parallel()
	body := `{"Image":"busybox","Healthcheck":{"Test":["CMD","true"],"StartInterval":1000000000},
		"HostConfig":{"AutoRemove":true,"ConsoleSize":[24,80],"Annotations":{"a":"b"}}}`
	cases := []struct {
		version       string
		unified       bool
		autoRemove    bool
		ipc           container.IpcMode
		cgroupns      container.CgroupnsMode
		console       [2]uint
		annotations   bool
		startInterval time.Duration
	}{
		{"1.24", false, false, "shareable", "host", [2]uint{}, false, 0},
		{"1.39", true, true, "shareable", "", [2]uint{}, false, 0},
		{"1.40", false, true, "", "host", [2]uint{}, false, 0},
		{"1.41", false, true, "", "", [2]uint{}, false, 0},
		{"1.42", false, true, "", "", [2]uint{24, 80}, false, 0},
		{"1.43", false, true, "", "", [2]uint{24, 80}, true, 0},
		{"1.44", false, true, "", "", [2]uint{24, 80}, true, time.Second},
		{"1.50", false, true, "", "", [2]uint{24, 80}, true, time.Second},
	}
	for _, c := range cases {
		fake, h := newHandler(t, server.WithCgroupUnified(c.unified))
		rec := do(t, h, "POST", "/v"+c.version+"/containers/create", strings.NewReader(body))
		if rec.Code != 201 {
			t.Fatalf("%s: %d %s", c.version, rec.Code, rec.Body)
		}
		req := lastCreate(t, fake)
		hc := req.Host
		if hc.AutoRemove != c.autoRemove || hc.IpcMode != c.ipc || hc.CgroupnsMode != c.cgroupns ||
			hc.ConsoleSize != c.console || (hc.Annotations != nil) != c.annotations ||
			req.Config.Healthcheck.StartInterval != c.startInterval {
			t.Errorf("API %s: AutoRemove %v Ipc %q Cgroupns %q Console %v Annotations %v StartInterval %v",
				c.version, hc.AutoRemove, hc.IpcMode, hc.CgroupnsMode, hc.ConsoleSize, hc.Annotations, req.Config.Healthcheck.StartInterval)
		}
	}
}

func TestCreateChecks(t *testing.T) {
	t.Parallel()
	_, h := newHandler(t)
	cases := []struct {
		version, query, body, msg string
	}{
		{"1.50", "", `{"HostConfig":{}}`, "config cannot be empty in order to create a container"},
		{"1.50", "", `{"Image":"busybox","HostConfig":{"NetworkMode":"container:"}}`, "invalid network mode: invalid container format container:<name|id>"},
		{"1.50", "", `{"Image":"busybox","Hostname":"h","HostConfig":{"NetworkMode":"container:db"}}`, "conflicting options: hostname and the network mode"},
		{"1.50", "", `{"Image":"busybox","Hostname":"h","HostConfig":{"UTSMode":"host"}}`, "conflicting options: hostname and the UTS mode"},
		{"1.50", "", `{"Image":"busybox","HostConfig":{"Isolation":"hyperv"}}`, "invalid isolation (hyperv): linux only supports 'default'"},
		{"1.50", "", `{"Image":"busybox","HostConfig":{"CpuShares":-2}}`, "invalid CPU shares (-2): value must be a positive integer"},
		{"1.50", "", `{"Image":"busybox","HostConfig":{"CpuRealtimePeriod":10,"CpuRealtimeRuntime":20}}`, "cpu real-time runtime cannot be higher than cpu real-time period"},
		{"1.50", "", `{"Image":"busybox","HostConfig":{"IOMaximumIOps":5}}`, "invalid option: QoS maximum IOPs configuration is not supported on linux"},
		{"1.50", "", `{"Image":"busybox","HostConfig":{"Mounts":[{"Type":"bind","Source":"/a","Target":"/b","VolumeOptions":{}}]}}`, `VolumeOptions must not be specified on mount type "bind"`},
		{"1.43", "", `{"Image":"busybox","NetworkingConfig":{"EndpointsConfig":{"a":{},"b":{}}}}`, "Container cannot be created with multiple network endpoints: a, b"},
		{"1.47", "", `{"Image":"busybox","HostConfig":{"Mounts":[{"Type":"image","Source":"x","Target":"/x"}]}}`, `Mount type "Image" needs API v1.48 or newer`},
		{"1.50", "name=a", `{"Image":"busybox"}`, "Invalid container name (a), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"},
		{"1.50", "name=web%2Fx", `{"Image":"busybox"}`, "Invalid container name (web/x), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"},
		{"1.50", "name=-web", `{"Image":"busybox"}`, "Invalid container name (-web), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"},
		{"1.50", "platform=linux/amd64/v1/x", `{"Image":"busybox"}`, `invalid platform "linux/amd64/v1/x": must be os[/arch[/variant]]`},
	}
	for _, c := range cases {
		path := "/v" + c.version + "/containers/create"
		if c.query != "" {
			path += "?" + c.query
		}
		rec := do(t, h, "POST", path, strings.NewReader(c.body))
		if rec.Code != 400 {
			t.Errorf("%s: status %d (%s)", c.body, rec.Code, rec.Body)
			continue
		}
		if got := errorMessage(t, rec); got != c.msg {
			t.Errorf("%s: message %q, want %q", c.body, got, c.msg)
		}
	}
	// The same multi-network request is fine from 1.44 on; a valid
	// platform and a leading "/" in the name are fine.
	for _, path := range []string{"/v1.44/containers/create", "/containers/create?platform=linux/arm64/v8&name=/web"} {
		rec := do(t, h, "POST", path, strings.NewReader(`{"Image":"busybox","NetworkingConfig":{"EndpointsConfig":{"a":{},"b":{}}}}`))
		if rec.Code != 201 {
			t.Errorf("%s: %d %s", path, rec.Code, rec.Body)
		}
	}
}

func TestContainerLifecycle(t *testing.T) {
	t.Parallel()
	fake, h := newHandler(t)
	id := create(t, h, "web", `{"Image":"busybox","Cmd":["sleep"]}`)

	expect := func(method, path string, status int) *[]byte {
		t.Helper()
		rec := do(t, h, method, path, nil)
		if rec.Code != status {
			t.Fatalf("%s %s: %d, want %d (%s)", method, path, rec.Code, status, rec.Body)
		}
		b := rec.Body.Bytes()
		return &b
	}
	expect("POST", "/v1.50/containers/web/start", 204)
	expect("POST", "/v1.50/containers/web/start", 304)
	expect("POST", "/v1.50/containers/"+id[:6]+"/pause", 204)
	expect("POST", "/v1.50/containers/web/unpause", 204)
	expect("POST", "/v1.50/containers/web/resize?h=24&w=80", 200)
	if c, _ := fake.Last("ContainerResize"); c.Opts != [2]uint{24, 80} {
		t.Errorf("resize %v", c.Opts)
	}
	top := expect("GET", "/v1.50/containers/web/top?ps_args=-ef", 200)
	if c, _ := fake.Last("ContainerTop"); c.Opts != "-ef" || !strings.Contains(string(*top), "Processes") {
		t.Errorf("top %v %s", c.Opts, *top)
	}
	expect("POST", "/v1.50/containers/web/rename?name=web2", 204)
	expect("POST", "/v1.50/containers/web2/update", 200)
	expect("POST", "/v1.50/containers/web2/kill?signal=SIGTERM", 204)
	if c, _ := fake.Last("ContainerKill"); c.Opts != "SIGTERM" {
		t.Errorf("kill signal %v", c.Opts)
	}
	if exit := expect("POST", "/v1.50/containers/web2/wait", 200); strings.TrimSpace(string(*exit)) != `{"StatusCode":143}` {
		t.Errorf("wait after kill: %s", *exit)
	}
	expect("POST", "/v1.50/containers/web2/start", 204)
	expect("POST", "/v1.50/containers/web2/stop?t=3&signal=USR1", 204)
	if c, _ := fake.Last("ContainerStop"); c.Opts.(server.StopOptions).Signal != "USR1" || *c.Opts.(server.StopOptions).Timeout != 3 {
		t.Errorf("stop %+v", c.Opts)
	}
	expect("POST", "/v1.50/containers/web2/stop", 304)
	// Before API 1.42 there was no stop signal.
	expect("POST", "/v1.41/containers/web2/restart?signal=BOGUS", 204)
	if c, _ := fake.Last("ContainerRestart"); c.Opts.(server.StopOptions).Signal != "" || c.Opts.(server.StopOptions).Timeout != nil {
		t.Errorf("restart %+v", c.Opts)
	}
	list := expect("GET", "/v1.50/containers/json?all=1&limit=5&filters="+`{"name":{"web2":true}}`, 200)
	var summaries []container.Summary
	if err := json.Unmarshal(*list, &summaries); err != nil || len(summaries) != 1 || summaries[0].Names[0] != "/web2" {
		t.Errorf("list %s: %v", *list, err)
	}
	if c, _ := fake.Last("ContainerList"); !reflect.DeepEqual(c.Opts, server.ContainerListOptions{All: true, Limit: 5, Filters: server.Filters{"name": {"web2"}}}) {
		t.Errorf("list options %+v", c.Opts)
	}
	inspect := expect("GET", "/v1.50/containers/web2/json?size=true", 200)
	if !strings.Contains(string(*inspect), `"Name":"/web2"`) {
		t.Errorf("inspect %s", *inspect)
	}
	expect("DELETE", "/v1.50/containers/web2", 409)
	expect("DELETE", "/v1.50/containers/web2?force=1&v=true", 204)
	if c, _ := fake.Last("ContainerRemove"); c.Opts != (server.RemoveOptions{Force: true, RemoveVolumes: true}) {
		t.Errorf("remove %+v", c.Opts)
	}
	expect("GET", "/v1.50/containers/web2/json", 404)
	prune := expect("POST", "/v1.50/containers/prune?filters="+`{"until":["10m"]}`, 200)
	if !strings.Contains(string(*prune), "SpaceReclaimed") {
		t.Errorf("prune %s", *prune)
	}
}

func TestContainerListOldFilters(t *testing.T) {
	t.Parallel()
	fake, h := newHandler(t)
	rec := do(t, h, "GET", "/v1.24/containers/json?filters="+`{"label":["a=b","a=b"],"status":["exited"]}`+"&since=abc&before=def", nil)
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != "[]" {
		t.Fatalf("list: %d %s", rec.Code, rec.Body)
	}
	c, _ := fake.Last("ContainerList")
	want := server.Filters{"label": {"a=b"}, "status": {"exited"}, "since": {"abc"}, "before": {"def"}}
	if !reflect.DeepEqual(c.Opts.(server.ContainerListOptions).Filters, want) {
		t.Errorf("filters %v", c.Opts.(server.ContainerListOptions).Filters)
	}
}

func TestWaitSendsHeaderFirst(t *testing.T) {
	t.Parallel()
	fake := servertest.New()
	srv := newHTTPServer(t, fake)
	c := srv.Client()
	_, h := fake, srv.Config.Handler
	id := create(t, h, "waiter", `{"Image":"busybox","Cmd":["sleep"]}`)
	if rec := do(t, h, "POST", "/containers/waiter/start", nil); rec.Code != 204 {
		t.Fatal(rec.Body)
	}

	resp, err := c.Post(srv.URL+"/v1.50/containers/waiter/wait?condition=next-exit", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// The header came while the container still runs.
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("wait: %d %v", resp.StatusCode, resp.Header)
	}
	if rec := do(t, h, "POST", "/containers/"+id+"/kill?signal=9", nil); rec.Code != 204 {
		t.Fatal(rec.Body)
	}
	var wr container.WaitResponse
	if err := json.NewDecoder(resp.Body).Decode(&wr); err != nil || wr.StatusCode != 137 {
		t.Fatalf("wait result %+v: %v", wr, err)
	}

	// Bad condition, unknown container.
	for path, status := range map[string]int{
		"/v1.50/containers/waiter/wait?condition=whenever": 400,
		"/v1.50/containers/nobody/wait":                    404,
		// Before 1.30 the condition did not exist: ignored.
		"/v1.29/containers/waiter/wait?condition=whenever": 200,
	} {
		if rec := do(t, h, "POST", path, nil); rec.Code != status {
			t.Errorf("%s: %d %s", path, rec.Code, rec.Body)
		}
	}
}
