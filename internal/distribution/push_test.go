package distribution_test

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image/imagetest"
	"github.com/berth-project/berth/internal/testenv/registrytest"
)

// uploads are the requests of reqs that send blob data or start a session.
func uploads(reqs []logged) []logged {
	var out []logged
	for _, r := range reqs {
		if strings.Contains(r.Path, "/blobs/uploads/") && (r.Method == http.MethodPut || r.Method == http.MethodPatch ||
			(r.Method == http.MethodPost && !strings.Contains(r.Query, "mount="))) {
			out = append(out, r)
		}
	}
	return out
}

// TestPushSkipsExisting: blobs the registry has are not uploaded again,
// and say so.
func TestPushSkipsExisting(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reg := registrytest.Start(t)
	px := newProxy(t, reg)
	img := randomImage(t, 3, 256<<10, 20)
	store := newStore(t)
	root := storeImage(t, store, img)
	if _, err := distribution.Push(ctx, px.Host+"/skip/push:one", store, root); err != nil {
		t.Fatal(err)
	}
	if got := len(uploads(px.requests())); got != 8 { // 4 blobs: POST and PUT each
		t.Errorf("first push: %d upload requests, want 8", got)
	}
	px.reset()
	_, events, err := pushEvents(t, ctx, px.Host+"/skip/push:two", store, root)
	if err != nil {
		t.Fatal(err)
	}
	// Another tag in the same repository: every blob is there already.
	if got := uploads(px.requests()); len(got) != 0 {
		t.Errorf("second push uploaded: %+v", got)
	}
	for _, l := range layerDescs(t, img) {
		got := slices.DeleteFunc(statuses(events, short(l.Digest)), func(s string) bool { return s == distribution.StatusWaiting })
		if !slices.Equal(got, []string{distribution.StatusPreparing, distribution.StatusLayerExists}) {
			t.Errorf("layer %s: %q", short(l.Digest), got)
		}
	}
	// And the registry serves the second tag.
	raw, _ := imagetest.RemoteImage(t, reg, "skip/push:two").RawManifest()
	if !bytes.Equal(raw, readStored(t, store, root)) {
		t.Fatal("second tag holds another manifest")
	}
}

// TestPushMountsAcrossRepositories: a blob pulled from one repository of
// the registry is mounted, not uploaded, when pushed to another.
func TestPushMountsAcrossRepositories(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		opts []registrytest.Option
	}{
		{"anonymous", nil},
		{"token", []registrytest.Option{registrytest.WithTokenAuth("mounter", "s3cret")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := registrytest.Start(t, tc.opts...)
			px := newProxy(t, reg)
			img := randomImage(t, 2, 128<<10, 21)
			imagetest.Push(t, reg, "source/repo:latest", img)
			var auth []distribution.Option
			if reg.User != "" {
				auth = append(auth, distribution.WithAuth(authConfig(reg)))
			}
			store := newStore(t)
			res, err := distribution.Pull(ctx, px.Host+"/source/repo:latest", store, auth...)
			if err != nil {
				t.Fatal(err)
			}
			px.reset()
			_, events, err := pushEvents(t, ctx, px.Host+"/target/repo:latest", store, res.Root, auth...)
			if err != nil {
				t.Fatal(err)
			}
			if got := uploads(px.requests()); len(got) != 0 {
				t.Errorf("mounted push uploaded: %+v", got)
			}
			mounts := 0
			for _, r := range px.requests() {
				if r.Method == http.MethodPost && strings.Contains(r.Query, "from=source%2Frepo") {
					mounts++
					if r.Status != http.StatusCreated {
						t.Errorf("mount answered %d", r.Status)
					}
				}
			}
			if mounts != 3 { // 2 layers and the config
				t.Errorf("%d mounts, want 3", mounts)
			}
			for _, l := range res.Layers {
				got := slices.DeleteFunc(statuses(events, short(l.Digest)), func(s string) bool { return s == distribution.StatusWaiting })
				if !slices.Equal(got, []string{distribution.StatusPreparing, "Mounted from source/repo"}) {
					t.Errorf("layer %s: %q", short(l.Digest), got)
				}
			}
			// The target repository is now a source too.
			info, err := store.Info(ctx, res.Layers[0].Digest)
			if err != nil {
				t.Fatal(err)
			}
			if got := info.Labels[distribution.SourceLabel(px.Host)]; got != "target/repo,source/repo" {
				t.Errorf("source label %q", got)
			}
			raw, _ := imagetest.RemoteImage(t, reg, "target/repo:latest").RawManifest()
			if !bytes.Equal(raw, readStored(t, store, res.Root)) {
				t.Fatal("target holds another manifest")
			}
		})
	}
}

// TestPushIndex pushes a whole multi-arch index: every child before the
// index, and the registry serves the same index back.
func TestPushIndex(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reg := registrytest.Start(t)
	px := newProxy(t, reg)
	idx := imagetest.MultiArchIndex(t)
	store := newStore(t)
	root := storeIndex(t, store, idx)
	if _, err := distribution.Push(ctx, px.Host+"/multi/push:v2", store, root); err != nil {
		t.Fatal(err)
	}
	var manifestPuts []string
	for _, r := range px.requests() {
		if r.Method == http.MethodPut && strings.Contains(r.Path, "/manifests/") {
			manifestPuts = append(manifestPuts, r.Path[strings.LastIndex(r.Path, "/")+1:])
		}
	}
	if len(manifestPuts) != 4 || manifestPuts[3] != "v2" {
		t.Fatalf("manifest PUTs %q: want the three children by digest, then the tag", manifestPuts)
	}
	raw, err := imagetest.RemoteIndex(t, reg, "multi/push:v2").RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, readStored(t, store, root)) {
		t.Fatal("the registry serves another index")
	}
	if d := imageDesc(t, idx); d.Digest != root.Digest {
		t.Fatalf("index digest %s, want %s", root.Digest, d.Digest)
	}
	// A reference by digest must name the root.
	_, err = distribution.Push(ctx, px.Host+"/multi/push@sha256:"+strings.Repeat("0", 64), store, root)
	if !errdefs.IsInvalidParameter(err) {
		t.Fatalf("push under another digest: %v", err)
	}
}
