package distribution_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image/imagetest"
	"github.com/berth-project/berth/internal/testenv/registrytest"
)

// TestPushPullRoundTrip pushes a busybox image from a content store with
// our Push, pulls it back by tag and by digest into fresh stores, and
// checks that manifests, configs and layers are byte-identical.
func TestPushPullRoundTrip(t *testing.T) {
	for _, format := range []imagetest.Format{imagetest.OCI, imagetest.Docker} {
		t.Run(string(format), func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			reg := registrytest.Start(t)
			img := imagetest.BusyboxImage(t, imagetest.WithFormat(format), imagetest.WithRandomLayer(1<<20))
			src := newStore(t)
			root := storeImage(t, src, img)

			ref := reg.Ref("round/trip:v1")
			pushed, events, err := pushEvents(t, ctx, ref, src, root)
			if err != nil {
				t.Fatalf("push: %v", err)
			}
			if pushed.Root.Digest != root.Digest {
				t.Fatalf("pushed %s, want %s", pushed.Root.Digest, root.Digest)
			}
			layers := layerDescs(t, img)
			for _, l := range layers {
				got := statuses(events, short(l.Digest))
				if got[0] != distribution.StatusPreparing || got[len(got)-1] != distribution.StatusPushed || !slices.Contains(got, distribution.StatusPushing) {
					t.Errorf("push events of %s: %q", short(l.Digest), got)
				}
			}
			last := events[len(events)-2]
			if want := fmt.Sprintf("v1: digest: %s size: %d", root.Digest, root.Size); last.Status != want {
				t.Errorf("push summary %q, want %q", last.Status, want)
			}
			if aux, ok := events[len(events)-1].Aux.(distribution.PushAux); !ok || aux.Digest != root.Digest.String() || aux.Tag != "v1" {
				t.Errorf("push aux %#v", events[len(events)-1].Aux)
			}
			// ggcr reads back what the registry holds: our manifest, to
			// the byte.
			remote := imagetest.RemoteImage(t, reg, "round/trip:v1")
			rawRemote, _ := remote.RawManifest()
			if !bytes.Equal(rawRemote, readStored(t, src, root)) {
				t.Fatal("the registry holds another manifest than the one pushed")
			}

			for _, pullRef := range []string{ref, reg.Ref("round/trip@" + root.Digest.String())} {
				dst := newStore(t)
				res, _, err := pullEvents(t, ctx, pullRef, dst)
				if err != nil {
					t.Fatalf("pull %s: %v", pullRef, err)
				}
				if res.Root.Digest != root.Digest || res.Manifest.Digest != root.Digest || res.Root.MediaType != root.MediaType {
					t.Fatalf("pull %s: root %+v, want %+v", pullRef, res.Root, root)
				}
				if !bytes.Equal(readStored(t, dst, res.Root), readStored(t, src, root)) {
					t.Fatal("pulled manifest differs")
				}
				if !bytes.Equal(readStored(t, dst, res.Config), readStored(t, src, res.Config)) {
					t.Fatal("pulled config differs")
				}
				if len(res.Layers) != len(layers) {
					t.Fatalf("%d layers, want %d", len(res.Layers), len(layers))
				}
				for i, l := range res.Layers {
					if l.Digest != layers[i].Digest || !bytes.Equal(readStored(t, dst, l), readStored(t, src, l)) {
						t.Fatalf("layer %d differs", i)
					}
				}
				if !res.Downloaded {
					t.Error("a pull into an empty store downloaded nothing?")
				}
				checkStore(t, dst)
			}
		})
	}
}

// TestPullMultiArch pulls each platform of a multi-arch index, with the
// spellings docker accepts, and only that platform's blobs.
func TestPullMultiArch(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reg := registrytest.Start(t)
	idx := imagetest.MultiArchIndex(t, imagetest.WithFormat(imagetest.Docker))
	imagetest.Push(t, reg, "multi:latest", idx)
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	entry := func(arch, variant string) ocispec.Descriptor {
		for _, m := range im.Manifests {
			if m.Platform.Architecture == arch && (variant == "" || m.Platform.Variant == variant) {
				return ocispec.Descriptor{Digest: digest.Digest(m.Digest.String()), Size: m.Size}
			}
		}
		t.Fatalf("no %s/%s in the index", arch, variant)
		return ocispec.Descriptor{}
	}
	for _, tc := range []struct {
		platform       ocispec.Platform
		arch, variant  string
		wantConfigArch string
	}{
		{ocispec.Platform{OS: "linux", Architecture: "amd64"}, "amd64", "", "amd64"},
		{ocispec.Platform{OS: "linux", Architecture: "x86_64"}, "amd64", "", "amd64"},
		{ocispec.Platform{OS: "linux", Architecture: "arm64"}, "arm64", "v8", "arm64"},
		{ocispec.Platform{OS: "linux", Architecture: "aarch64"}, "arm64", "v8", "arm64"},
		{ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, "arm", "v7", "arm"},
		{ocispec.Platform{OS: "linux", Architecture: "arm"}, "arm", "v7", "arm"},
	} {
		t.Run(tc.platform.Architecture+tc.platform.Variant, func(t *testing.T) {
			store := newStore(t)
			res, err := distribution.Pull(ctx, reg.Ref("multi:latest"), store, distribution.WithPlatform(tc.platform))
			if err != nil {
				t.Fatal(err)
			}
			want := entry(tc.arch, tc.variant)
			if res.Manifest.Digest != want.Digest {
				t.Fatalf("manifest %s, want %s", res.Manifest.Digest, want.Digest)
			}
			if res.Root.MediaType != "application/vnd.docker.distribution.manifest.list.v2+json" {
				t.Errorf("root media type %q", res.Root.MediaType)
			}
			if res.Platform.Architecture != tc.wantConfigArch {
				t.Errorf("platform %+v", res.Platform)
			}
			// The other platforms' manifests were not fetched.
			for _, m := range im.Manifests {
				_, err := store.Info(ctx, digest.Digest(m.Digest.String()))
				if have := err == nil; have != (digest.Digest(m.Digest.String()) == want.Digest) {
					t.Errorf("manifest %s of %s in store: %v", m.Digest, m.Platform.Architecture, have)
				}
			}
			checkStore(t, store)
		})
	}
	t.Run("no match", func(t *testing.T) {
		_, err := distribution.Pull(ctx, reg.Ref("multi:latest"), newStore(t),
			distribution.WithPlatform(ocispec.Platform{OS: "linux", Architecture: "s390x"}))
		if !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "no matching manifest for linux/s390x") {
			t.Fatalf("got %v, want NotFound naming the platform", err)
		}
	})
	t.Run("push back one platform", func(t *testing.T) {
		store := newStore(t)
		res, err := distribution.Pull(ctx, reg.Ref("multi:latest"), store)
		if err != nil {
			t.Fatal(err)
		}
		// The index names platforms we never pulled.
		_, err = distribution.Push(ctx, reg.Ref("multi:copy"), store, res.Root)
		if !errdefs.IsNotFound(err) {
			t.Fatalf("push of a partial index: %v, want NotFound", err)
		}
		// The platform's manifest alone pushes fine.
		if _, err := distribution.Push(ctx, reg.Ref("multi:one"), store, res.Manifest); err != nil {
			t.Fatal(err)
		}
	})
}

// TestPullSingleManifestPlatformCheck refuses an explicit platform that
// an image without an index does not have, as docker's --platform does.
func TestPullSingleManifestPlatformCheck(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	imagetest.Push(t, reg, "arm:latest", imagetest.BusyboxImage(t, imagetest.WithPlatform("linux/arm64")))
	_, err := distribution.Pull(t.Context(), reg.Ref("arm:latest"), newStore(t),
		distribution.WithPlatform(ocispec.Platform{OS: "linux", Architecture: "amd64"}))
	if !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "does not match the specified platform") {
		t.Fatalf("got %v", err)
	}
	// Without an explicit platform, the image is taken as it is.
	if _, err := distribution.Pull(t.Context(), reg.Ref("arm:latest"), newStore(t)); err != nil {
		t.Fatal(err)
	}
}

// TestPullNotFound: unknown tags and repositories are NotFound.
func TestPullNotFound(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	imagetest.Push(t, reg, "there:yes", imagetest.BusyboxImage(t))
	for _, ref := range []string{"there:no", "nowhere:latest", "there@sha256:" + strings.Repeat("ab", 32)} {
		_, err := distribution.Pull(t.Context(), reg.Ref(ref), newStore(t), fastRetries)
		if !errdefs.IsNotFound(err) {
			t.Errorf("%s: got %v, want NotFound", ref, err)
		}
		// dockerd's words, which scripts match.
		if want := "manifest for " + reg.Ref(ref) + " not found: manifest unknown: manifest unknown"; err == nil || err.Error() != want {
			t.Errorf("%s: got %q, want %q", ref, err, want)
		}
	}
	_, err := distribution.Pull(t.Context(), "no//such:ref!", newStore(t))
	if !errdefs.IsInvalidParameter(err) {
		t.Errorf("bad reference: %v", err)
	}
}

// TestPullProgressAndHooks checks the events of each layer and the order
// of the layer hook, then that a second pull downloads nothing.
func TestPullProgressAndHooks(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reg := registrytest.Start(t)
	img := randomImage(t, 5, 2<<20, 1)
	imagetest.Push(t, reg, "prog:latest", img)
	layers := layerDescs(t, img)
	store := newStore(t)

	var mu sync.Mutex
	var hooked []int
	var imageHooked *distribution.PullResult
	hook := func(ctx context.Context, i int, l ocispec.Descriptor) error {
		// The layer and all before it are committed when the hook runs.
		for j := 0; j <= i; j++ {
			if _, err := store.Info(ctx, layers[j].Digest); err != nil {
				return fmt.Errorf("hook %d: layer %d not stored: %w", i, j, err)
			}
		}
		if l.Digest != layers[i].Digest {
			return fmt.Errorf("hook %d got %s", i, l.Digest)
		}
		mu.Lock()
		hooked = append(hooked, i)
		mu.Unlock()
		return nil
	}
	imageHook := func(ctx context.Context, r *distribution.PullResult) error {
		if _, err := store.Info(ctx, r.Config.Digest); err != nil {
			return fmt.Errorf("image hook before the config is stored: %w", err)
		}
		imageHooked = r
		return nil
	}
	res, events, err := pullEvents(t, ctx, reg.Ref("prog:latest"), store,
		distribution.WithLayerHook(hook), distribution.WithImageHook(imageHook), distribution.WithConcurrency(2))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(hooked, []int{0, 1, 2, 3, 4}) {
		t.Fatalf("hooks in order %v", hooked)
	}
	if imageHooked == nil || imageHooked.Manifest.Digest != res.Manifest.Digest {
		t.Fatalf("image hook got %+v", imageHooked)
	}
	if events[0].Status != "Pulling from prog" || events[0].ID != "latest" {
		t.Errorf("first event %+v", events[0])
	}
	for i, l := range layers {
		got := statuses(events, short(l.Digest))
		// Two at a time: the first two never wait (the others usually
		// do, unless a slot freed up before their turn came).
		if i < 2 && slices.Contains(got, distribution.StatusWaiting) {
			t.Errorf("layer %d waited with a slot free: %q", i, got)
		}
		want := []string{distribution.StatusPullingFSLayer, distribution.StatusDownloading,
			distribution.StatusVerifying, distribution.StatusDownloadComplete}
		var compact []string
		for _, s := range got {
			if s != distribution.StatusWaiting && (len(compact) == 0 || compact[len(compact)-1] != s) {
				compact = append(compact, s)
			}
		}
		if !slices.Equal(compact, want) {
			t.Errorf("layer %d: %q, want %q", i, compact, want)
		}
		// Byte counts only grow and end at the size.
		var lastCount int64
		for _, e := range events {
			if e.ID == short(l.Digest) && e.Status == distribution.StatusDownloading {
				if e.Current < lastCount || e.Total != l.Size {
					t.Errorf("layer %d: count %d/%d after %d", i, e.Current, e.Total, lastCount)
				}
				lastCount = e.Current
			}
		}
		if lastCount != l.Size {
			t.Errorf("layer %d: last count %d, want %d", i, lastCount, l.Size)
		}
	}
	n := len(events)
	if events[n-2].Status != "Digest: "+res.Root.Digest.String() ||
		events[n-1].Status != "Status: Downloaded newer image for "+reg.Ref("prog:latest") {
		t.Errorf("closing lines %q, %q", events[n-2].Status, events[n-1].Status)
	}

	// Again: everything is there.
	hooked = nil
	res2, events, err := pullEvents(t, ctx, reg.Ref("prog:latest"), store, distribution.WithLayerHook(hook))
	if err != nil {
		t.Fatal(err)
	}
	if res2.Downloaded {
		t.Error("second pull downloaded")
	}
	for _, l := range layers {
		if got := statuses(events, short(l.Digest)); !slices.Equal(got, []string{distribution.StatusAlreadyExists}) {
			t.Errorf("second pull: %q", got)
		}
	}
	if !slices.Equal(hooked, []int{0, 1, 2, 3, 4}) {
		t.Fatalf("second pull hooks %v", hooked)
	}
	if last := events[len(events)-1].Status; last != "Status: Image is up to date for "+reg.Ref("prog:latest") {
		t.Errorf("second pull ends with %q", last)
	}
}

// TestLayerHookError: a failing hook ends the pull with its error.
func TestLayerHookError(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	imagetest.Push(t, reg, "hookfail:latest", randomImage(t, 3, 64<<10, 2))
	boom := errors.New("unpack exploded")
	_, err := distribution.Pull(t.Context(), reg.Ref("hookfail:latest"), newStore(t),
		distribution.WithLayerHook(func(ctx context.Context, i int, l ocispec.Descriptor) error {
			if i == 1 {
				return boom
			}
			return nil
		}))
	if !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
}

// TestPullParallelism watches the blob GETs through a proxy: never more
// than the concurrency at once, and the default is 3.
func TestPullParallelism(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	imagetest.Push(t, reg, "par:latest", randomImage(t, 8, 256<<10, 3))
	px := newProxy(t, reg)
	px.blobDelay = 50e6 // 50ms: requests overlap for sure
	for _, tc := range []struct {
		opts []distribution.Option
		want int64
	}{{nil, 3}, {[]distribution.Option{distribution.WithConcurrency(1)}, 1}, {[]distribution.Option{distribution.WithConcurrency(5)}, 5}} {
		px.reset()
		if _, err := distribution.Pull(t.Context(), px.Host+"/par:latest", newStore(t), tc.opts...); err != nil {
			t.Fatal(err)
		}
		if got := px.maxInflight.Load(); got != tc.want {
			t.Errorf("at most %d blob GETs at once, want %d", got, tc.want)
		}
		for _, r := range px.requests() {
			if r.UserAgent != "berth/dev" {
				t.Errorf("User-Agent %q", r.UserAgent)
			}
		}
	}
}

// TestPullSkipsPresent: a pull into a store that has everything asks the
// registry only for the tag (one HEAD); a pull by digest asks nothing of
// the manifest, and nothing at all of blobs.
func TestPullSkipsPresent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reg := registrytest.Start(t)
	img := randomImage(t, 3, 128<<10, 4)
	ref := imagetest.Push(t, reg, "skip:latest", img)
	px := newProxy(t, reg)
	store := newStore(t)
	if _, err := distribution.Pull(ctx, px.Host+"/skip:latest", store); err != nil {
		t.Fatal(err)
	}
	if got := len(blobGETs(px.requests())); got != 4 { // 3 layers and the config
		t.Fatalf("first pull fetched %d blobs", got)
	}
	px.reset()
	if _, err := distribution.Pull(ctx, px.Host+"/skip:latest", store); err != nil {
		t.Fatal(err)
	}
	for _, r := range px.requests() {
		if r.Path == "/v2/" {
			continue
		}
		if r.Method != http.MethodHead || !strings.Contains(r.Path, "/manifests/latest") {
			t.Errorf("second pull sent %s %s", r.Method, r.Path)
		}
	}
	// By digest: nothing to ask, not even a ping.
	px.reset()
	_, dgst, _ := strings.Cut(ref, "@")
	if _, err := distribution.Pull(ctx, px.Host+"/skip@"+dgst, store); err != nil {
		t.Fatal(err)
	}
	for _, r := range px.requests() {
		t.Errorf("pull by digest of a stored image sent %s %s", r.Method, r.Path)
	}
	// One layer deleted: only it is fetched again.
	layers := layerDescs(t, img)
	if err := store.Delete(ctx, layers[1].Digest); err != nil {
		t.Fatal(err)
	}
	px.reset()
	if _, err := distribution.Pull(ctx, px.Host+"/skip:latest", store); err != nil {
		t.Fatal(err)
	}
	if got := blobGETs(px.requests()); len(got) != 1 || got[layers[1].Digest] != 1 {
		t.Errorf("refetch after delete: %v", got)
	}
}

// TestPullResume cuts the connection in the middle of a big layer. With
// no retries the pull fails and leaves the partial ingest; the next pull
// continues it with a Range request and gets the right blob. With retries,
// one pull survives the cut by itself.
func TestPullResume(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reg := registrytest.Start(t)
	img := randomImage(t, 2, 8<<20, 5)
	imagetest.Push(t, reg, "resume:latest", img)
	big := layerDescs(t, img)[1]
	px := newProxy(t, reg)
	store := newStore(t)

	const cutAt = 3 << 20
	px.cut[big.Digest] = cutAt
	_, err := distribution.Pull(ctx, px.Host+"/resume:latest", store, distribution.WithRetries(0, 1e6), distribution.WithConcurrency(1))
	if err == nil {
		t.Fatal("pull through a cut connection succeeded without retries")
	}
	st, err := store.Status(ctx, content.RefFor(big))
	if err != nil {
		t.Fatalf("no ingest left for the cut blob: %v", err)
	}
	if st.Offset == 0 || st.Offset > cutAt {
		t.Fatalf("ingest offset %d, want in (0, %d]", st.Offset, cutAt)
	}
	if _, err := store.Info(ctx, big.Digest); !errdefs.IsNotFound(err) {
		t.Fatalf("a half-downloaded blob is visible: %v", err)
	}
	px.reset()
	res, err := distribution.Pull(ctx, px.Host+"/resume:latest", store)
	if err != nil {
		t.Fatal(err)
	}
	var ranges []string
	for _, r := range px.requests() {
		if r.blob() == big.Digest {
			ranges = append(ranges, r.Range)
		}
		if r.Method == http.MethodGet && r.blob() != "" && r.blob() != big.Digest {
			t.Errorf("refetched the committed blob %s", r.blob())
		}
	}
	if want := fmt.Sprintf("bytes=%d-", st.Offset); !slices.Equal(ranges, []string{want}) {
		t.Fatalf("requests of the cut blob: %q, want one with Range %s", ranges, want)
	}
	if got := digest.FromBytes(readStored(t, store, res.Layers[1])); got != big.Digest {
		t.Fatalf("resumed blob hashes to %s", got)
	}
	checkStore(t, store)

	t.Run("in one pull", func(t *testing.T) {
		store := newStore(t)
		px.reset()
		px.mu.Lock()
		px.cut[big.Digest] = cutAt
		px.mu.Unlock()
		if _, err := distribution.Pull(ctx, px.Host+"/resume:latest", store, distribution.WithRetries(3, 1e6)); err != nil {
			t.Fatal(err)
		}
		var ranges []string
		for _, r := range px.requests() {
			if r.blob() == big.Digest {
				ranges = append(ranges, r.Range)
			}
		}
		if len(ranges) != 2 || ranges[0] != "" || !strings.HasPrefix(ranges[1], "bytes=") {
			t.Fatalf("requests of the cut blob: %q", ranges)
		}
		checkStore(t, store)
	})
	t.Run("range ignored", func(t *testing.T) {
		store := newStore(t)
		px.mu.Lock()
		px.cut[big.Digest] = cutAt
		px.mu.Unlock()
		if _, err := distribution.Pull(ctx, px.Host+"/resume:latest", store, distribution.WithRetries(0, 1e6)); err == nil {
			t.Fatal("no error through a cut connection")
		}
		px.mu.Lock()
		px.stripRange = true
		px.mu.Unlock()
		defer func() { px.mu.Lock(); px.stripRange = false; px.mu.Unlock() }()
		res, err := distribution.Pull(ctx, px.Host+"/resume:latest", store)
		if err != nil {
			t.Fatal(err)
		}
		if got := digest.FromBytes(readStored(t, store, res.Layers[1])); got != big.Digest {
			t.Fatalf("blob hashes to %s", got)
		}
		checkStore(t, store)
	})
}

// TestPullCorruptRegistry: a byte flipped on the way is a digest mismatch,
// and nothing of the blob stays, committed or not.
func TestPullCorruptRegistry(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reg := registrytest.Start(t)
	img := randomImage(t, 2, 1<<20, 6)
	imagetest.Push(t, reg, "corrupt:latest", img)
	bad := layerDescs(t, img)[1]
	px := newProxy(t, reg)
	px.flip[bad.Digest] = 12345
	store := newStore(t)
	_, err := distribution.Pull(ctx, px.Host+"/corrupt:latest", store)
	if !errors.Is(err, content.ErrDigestMismatch) || !errdefs.IsInvalidParameter(err) {
		t.Fatalf("got %v, want a digest mismatch", err)
	}
	if _, err := store.Info(ctx, bad.Digest); !errdefs.IsNotFound(err) {
		t.Fatalf("corrupt blob committed: %v", err)
	}
	if _, err := store.Status(ctx, content.RefFor(bad)); !errdefs.IsNotFound(err) {
		t.Fatalf("corrupt ingest kept: %v", err)
	}
	checkStore(t, store)

	// A corrupt prefix left by an earlier pull is found at commit, thrown
	// away, and the blob fetched afresh: the pull succeeds.
	px.mu.Lock()
	delete(px.flip, bad.Digest)
	px.cut[bad.Digest] = 500 << 10
	px.mu.Unlock()
	w, err := store.Writer(ctx, content.RefFor(bad), bad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(bytes.Repeat([]byte{'x'}, 1000)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	px.reset()
	if _, err := distribution.Pull(ctx, px.Host+"/corrupt:latest", store); err != nil {
		t.Fatalf("pull over a corrupt partial ingest: %v", err)
	}
	checkStore(t, store)
}

// TestPullRetries5xx: the registry's 503s are retried.
func TestPullRetries5xx(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	imagetest.Push(t, reg, "flaky:latest", randomImage(t, 1, 1024, 7))
	px := newProxy(t, reg)
	px.fail503 = 2
	if _, err := distribution.Pull(t.Context(), px.Host+"/flaky:latest", newStore(t), distribution.WithRetries(3, 1e6)); err != nil {
		t.Fatal(err)
	}
	px.fail503 = 10
	_, err := distribution.Pull(t.Context(), px.Host+"/flaky:latest", newStore(t), distribution.WithRetries(1, 1e6))
	if !errdefs.IsUnavailable(err) {
		t.Fatalf("got %v, want Unavailable", err)
	}
}

// TestPullLabelsSource: pulled blobs remember where they came from.
func TestPullLabelsSource(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reg := registrytest.Start(t)
	img := randomImage(t, 1, 1024, 8)
	imagetest.Push(t, reg, "a/one:latest", img)
	imagetest.Push(t, reg, "b/two:latest", img)
	store := newStore(t)
	for _, ref := range []string{"a/one:latest", "b/two:latest"} {
		if _, err := distribution.Pull(ctx, reg.Ref(ref), store); err != nil {
			t.Fatal(err)
		}
	}
	info, err := store.Info(ctx, layerDescs(t, img)[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Labels[distribution.SourceLabel(reg.Host)]; got != "b/two,a/one" {
		t.Fatalf("source label %q", got)
	}
}

// TestConcurrentPulls: two pulls of one image into one store fetch each
// blob once (the second waits on the first's ingest), and both succeed.
func TestConcurrentPulls(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	img := randomImage(t, 4, 1<<20, 9)
	imagetest.Push(t, reg, "twice:latest", img)
	px := newProxy(t, reg)
	px.rate = 8 << 20
	store := newStore(t)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = distribution.Pull(t.Context(), px.Host+"/twice:latest", store)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for d, n := range blobGETs(px.requests()) {
		if n != 1 {
			t.Errorf("blob %s fetched %d times", d, n)
		}
	}
	checkStore(t, store)
}

// TestPullLease: every digest the pull stores goes to the lease first.
func TestPullLease(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reg := registrytest.Start(t)
	imagetest.Push(t, reg, "leased:latest", imagetest.MultiArchIndex(t))
	store := newStore(t)
	var mu sync.Mutex
	leased := map[digest.Digest]bool{}
	_, err := distribution.Pull(ctx, reg.Ref("leased:latest"), store, distribution.WithLease(func(ds ...digest.Digest) {
		mu.Lock()
		defer mu.Unlock()
		for _, d := range ds {
			if _, err := store.Info(ctx, d); err == nil {
				t.Errorf("%s leased after it was stored", d)
			}
			leased[d] = true
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := store.Walk(ctx, func(info content.Info) error {
		n++
		if !leased[info.Digest] {
			t.Errorf("%s stored without a lease", info.Digest)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n < 5 { // index, manifest, config, 2+ layers
		t.Fatalf("only %d blobs stored", n)
	}
}
