package server_test

import (
	"encoding/json"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/volume"
	"github.com/moby/moby/client"

	"github.com/berth-project/berth/internal/api/server"
)

func TestSDKVolumes(t *testing.T) {
	t.Parallel()
	c, fake := newSDK(t)
	ctx := sdkContext(t)

	created, err := c.VolumeCreate(ctx, client.VolumeCreateOptions{Name: "data", Labels: map[string]string{"tier": "db"}, DriverOpts: map[string]string{"type": "tmpfs"}})
	if err != nil {
		t.Fatal(err)
	}
	if v := created.Volume; v.Name != "data" || v.Driver != "local" || v.Labels["tier"] != "db" || v.Options["type"] != "tmpfs" || v.Scope != "local" {
		t.Errorf("created %+v", v)
	}
	// The server fills in the default driver.
	if call, _ := fake.Last("VolumeCreate"); call.Opts.(volume.CreateRequest).Driver != "local" {
		t.Errorf("backend got %+v", call.Opts)
	}
	anon, err := c.VolumeCreate(ctx, client.VolumeCreateOptions{Labels: map[string]string{"com.docker.volume.anonymous": ""}})
	if err != nil || len(anon.Volume.Name) != 64 {
		t.Fatalf("anonymous: %+v %v", anon, err)
	}

	in, err := c.VolumeInspect(ctx, "data", client.VolumeInspectOptions{})
	if err != nil || in.Volume.Name != "data" || in.Volume.Mountpoint == "" {
		t.Fatalf("inspect %+v %v", in, err)
	}
	if _, err := c.VolumeInspect(ctx, "nothere", client.VolumeInspectOptions{}); !cerrdefs.IsNotFound(err) || !strings.Contains(err.Error(), "get nothere: no such volume") {
		t.Errorf("inspect missing: %v", err)
	}

	list, err := c.VolumeList(ctx, client.VolumeListOptions{Filters: make(client.Filters).Add("label", "tier=db")})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != "data" {
		t.Fatalf("list by label %+v %v", list, err)
	}
	list, err = c.VolumeList(ctx, client.VolumeListOptions{Filters: make(client.Filters).Add("dangling", "true")})
	if err != nil || len(list.Items) != 2 {
		t.Fatalf("dangling list %+v %v", list, err)
	}
	if _, err := c.VolumeList(ctx, client.VolumeListOptions{Filters: make(client.Filters).Add("dangling", "maybe")}); !cerrdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "invalid filter 'dangling=maybe'") {
		t.Errorf("dangling junk: %v", err)
	}

	// In use: a container mounts it.
	if _, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{Name: "user", Config: &container.Config{Image: "busybox"},
		HostConfig: &container.HostConfig{Binds: []string{"data:/data"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.VolumeRemove(ctx, "data", client.VolumeRemoveOptions{}); !cerrdefs.IsConflict(err) || !strings.Contains(err.Error(), "remove data: volume is in use - [") {
		t.Errorf("remove in use: %v", err)
	}
	if _, err := c.VolumeRemove(ctx, "nothere", client.VolumeRemoveOptions{Force: true}); err != nil {
		t.Errorf("force remove of a missing volume: %v", err)
	}
	if _, err := c.VolumeRemove(ctx, "nothere", client.VolumeRemoveOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("remove missing: %v", err)
	}

	// Prune: anonymous ones only, unless all.
	pr, err := c.VolumePrune(ctx, client.VolumePruneOptions{})
	if err != nil || len(pr.Report.VolumesDeleted) != 1 || pr.Report.VolumesDeleted[0] != anon.Volume.Name {
		t.Fatalf("prune %+v %v", pr, err)
	}
	pr, err = c.VolumePrune(ctx, client.VolumePruneOptions{All: true})
	if err != nil || len(pr.Report.VolumesDeleted) != 0 {
		t.Fatalf("prune all with data in use %+v %v", pr, err)
	}
}

func TestVolumeVersions(t *testing.T) {
	t.Parallel()
	fake, h := newHandler(t)
	fake.AddVolume("named", nil, 10)

	// Before 1.42 prune removed every unused volume: all=true is added.
	rec := do(t, h, "POST", "/v1.41/volumes/prune", nil)
	if rec.Code != 200 {
		t.Fatalf("prune 1.41: %d %s", rec.Code, rec.Body)
	}
	call, _ := fake.Last("VolumesPrune")
	if f := call.Opts.(server.Filters); len(f["all"]) != 1 || f["all"][0] != "true" {
		t.Errorf("1.41 prune filters %v", f)
	}
	var rep volume.PruneReport
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil || len(rep.VolumesDeleted) != 1 || rep.SpaceReclaimed != 10 {
		t.Errorf("1.41 prune report %s", rec.Body)
	}
	fake.AddVolume("named", nil, 10)
	rec = do(t, h, "POST", "/v1.50/volumes/prune", nil)
	if call, _ := fake.Last("VolumesPrune"); len(call.Opts.(server.Filters)["all"]) != 0 || strings.Contains(rec.Body.String(), "named") {
		t.Errorf("1.50 prune: %v %s", call.Opts, rec.Body)
	}

	// Cluster volumes are swarm's: refused from 1.42, ignored before.
	body := `{"Name":"cv","ClusterVolumeSpec":{"Group":"g"}}`
	rec = do(t, h, "POST", "/v1.50/volumes/create", strings.NewReader(body))
	if rec.Code != 503 || !strings.Contains(errorMessage(t, rec), "This node is not a swarm manager") {
		t.Errorf("cluster volume 1.50: %d %s", rec.Code, rec.Body)
	}
	rec = do(t, h, "POST", "/v1.41/volumes/create", strings.NewReader(body))
	if rec.Code != 201 {
		t.Errorf("cluster volume 1.41: %d %s", rec.Code, rec.Body)
	}
	rec = do(t, h, "PUT", "/volumes/cv?version=1", strings.NewReader(`{}`))
	if rec.Code != 503 || errorMessage(t, rec) != "volume update only valid for cluster volumes, but swarm is unavailable" {
		t.Errorf("volume update: %d %s", rec.Code, rec.Body)
	}

	// Shapes: an empty list is [] with Warnings null; remove is 204.
	rec = do(t, h, "GET", `/volumes?filters={"name":["zzz"]}`, nil)
	if got := strings.TrimSpace(rec.Body.String()); got != `{"Volumes":[],"Warnings":null}` {
		t.Errorf("empty list %s", got)
	}
	if rec := do(t, h, "DELETE", "/volumes/cv", nil); rec.Code != 204 || rec.Body.Len() != 0 {
		t.Errorf("remove: %d %q", rec.Code, rec.Body)
	}
}
