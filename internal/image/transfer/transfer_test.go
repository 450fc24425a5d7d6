package transfer_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/moby/moby/api/types/registry"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/image/imagetest"
	"github.com/berth-project/berth/internal/image/transfer"
	"github.com/berth-project/berth/internal/testenv/registrytest"
)

// TestPullPushRoundTrip is docker pull and push end to end against a real
// registry: a pull into a fresh store unpacks into overlay snapshots the
// exact tree, with docker's stream; a second pull is "up to date" and
// touches nothing; a pull by digest records repo@digest; a push under
// another tag sends what was pulled, byte for byte, and pulls back.
func TestPullPushRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reg := registrytest.Start(t)
	img := imagetest.BusyboxImage(t, imagetest.WithRandomLayer(2<<20))
	imagetest.Push(t, reg, "busybox:1", img)
	mdgst := manifestDigest(t, img)
	layers := layerDigests(t, img)
	c := newClient(t)
	s := newStore(t)
	ref := reg.Ref("busybox:1")

	res, msgs, err := pull(t, c, s, ref)
	if err != nil {
		t.Fatal(err)
	}
	checkPullStream(t, msgs, "busybox", "1", layers, true, mdgst, "Status: Downloaded newer image for "+ref)
	if !res.Updated || res.Root.Digest != mdgst || res.Image.Target.Digest != mdgst || res.Image.Name != ref {
		t.Fatalf("result %+v", res)
	}
	rec, err := s.Get(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	top, ok, err := s.Unpacked(ctx, rec)
	if err != nil || !ok || top != res.Top {
		t.Fatalf("Unpacked: %s %v %v, pull said %s", top, ok, err, res.Top)
	}
	withView(t, s.Snapshotter(), top, func(root string) { imagetest.CheckBusyboxTree(t, root) })
	assertConsistent(t, s)

	t.Run("again", func(t *testing.T) {
		res, msgs, err := pull(t, c, s, ref)
		if err != nil {
			t.Fatal(err)
		}
		checkPullStream(t, msgs, "busybox", "1", layers, false, mdgst, "Status: Image is up to date for "+ref)
		if res.Updated || res.Top != top {
			t.Fatalf("second pull: %+v", res)
		}
	})

	t.Run("by digest", func(t *testing.T) {
		s := newStore(t)
		byDigest := reg.Ref("busybox@" + mdgst.String())
		res, msgs, err := pull(t, c, s, byDigest)
		if err != nil {
			t.Fatal(err)
		}
		checkPullStream(t, msgs, "busybox", mdgst.String(), layers, true, mdgst, "Status: Downloaded newer image for "+byDigest)
		recs, err := s.Records(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 || recs[0].Name != byDigest || recs[0].Target.Digest != mdgst {
			t.Fatalf("records after a pull by digest: %+v", recs)
		}
		withView(t, s.Snapshotter(), res.Top, func(root string) { imagetest.CheckBusyboxTree(t, root) })
		assertConsistent(t, s)
	})

	t.Run("push another tag", func(t *testing.T) {
		copyRef := reg.Ref("copy:2")
		if _, err := s.Tag(ctx, ref, copyRef); err != nil {
			t.Fatal(err)
		}
		res, msgs, err := push(t, c, s, copyRef)
		if err != nil {
			t.Fatal(err)
		}
		if res.Root.Digest != mdgst || res.Tag != "2" {
			t.Fatalf("push result %+v, want %s", res, mdgst)
		}
		if m := msgs[0]; m.Status != "The push refers to repository ["+reg.Host+"/copy]" {
			t.Errorf("first push message %+v", m)
		}
		for _, l := range layers {
			got := statuses(msgs, short(l))
			// The registry has the blobs under busybox; the source label
			// the pull left lets the push mount them instead of uploading.
			if len(got) != 2 || got[0] != distribution.StatusPreparing ||
				(got[1] != "Mounted from busybox" && got[1] != distribution.StatusLayerExists) {
				t.Errorf("push of layer %s: %q", short(l), got)
			}
		}
		n := len(msgs)
		if want := fmt.Sprintf("2: digest: %s size: %d", mdgst, res.Root.Size); msgs[n-2].Status != want {
			t.Errorf("push summary %q, want %q", msgs[n-2].Status, want)
		}
		if msgs[n-1].Aux == nil || msgs[n-1].Progress == nil {
			t.Errorf("push aux message %+v", msgs[n-1])
		}

		s2 := newStore(t)
		back, _, err := pull(t, c, s2, copyRef)
		if err != nil {
			t.Fatal(err)
		}
		if back.Root.Digest != mdgst {
			t.Fatalf("pulled back %s, pushed %s", back.Root.Digest, mdgst)
		}
		withView(t, s2.Snapshotter(), back.Top, func(root string) { imagetest.CheckBusyboxTree(t, root) })
		assertConsistent(t, s2)
	})
}

// TestPullMultiArch pulls one platform out of an index: by default the
// store's, recorded as the index; with WithPlatform another one, recorded
// as its manifest (the index would resolve to the store's platform); into
// a store opened for that platform, the index again. Each unpacks the
// right image. Then the index pushed back is the platform manifest alone,
// since only it is in the store.
func TestPullMultiArch(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	for _, format := range []imagetest.Format{imagetest.OCI, imagetest.Docker} {
		t.Run(string(format), func(t *testing.T) {
			t.Parallel()
			reg := registrytest.Start(t)
			idx := imagetest.MultiArchIndex(t, imagetest.WithFormat(format))
			imagetest.Push(t, reg, "multi:1", idx)
			idxDigest := manifestDigest(t, idx)
			c := newClient(t)
			ref := reg.Ref("multi:1")
			host := image.HostPlatform()

			t.Run("store platform", func(t *testing.T) {
				s := newStore(t)
				res, msgs, err := pull(t, c, s, ref)
				if err != nil {
					t.Fatal(err)
				}
				if res.Root.Digest != idxDigest || res.Image.Target.Digest != idxDigest {
					t.Fatalf("recorded %s, want the index %s", res.Image.Target.Digest, idxDigest)
				}
				if n := len(msgs); msgs[n-2].Status != "Digest: "+idxDigest.String() {
					t.Errorf("digest line %q", msgs[n-2].Status)
				}
				if got := platformOf(t, s, res.Top); got != "linux/"+host.Architecture {
					t.Errorf("unpacked the %s image on %s", got, host)
				}
				assertConsistent(t, s)
			})

			arm64 := ocispec.Platform{OS: "linux", Architecture: "arm64"}
			t.Run("other platform", func(t *testing.T) {
				s := newStore(t)
				res, _, err := pull(t, c, s, ref, transfer.WithPlatform(arm64))
				if err != nil {
					t.Fatal(err)
				}
				if res.Root.Digest != idxDigest || res.Image.Target.Digest != res.Manifest.Digest || res.Manifest.Digest == idxDigest {
					t.Fatalf("recorded %s (root %s, manifest %s), want the manifest", res.Image.Target.Digest, res.Root.Digest, res.Manifest.Digest)
				}
				if got := platformOf(t, s, res.Top); got != "linux/arm64/v8" {
					t.Errorf("unpacked the %s image", got)
				}
				assertConsistent(t, s)

				// Pushed back: the index cannot be (one platform is here),
				// the image that is can.
				if _, err := s.Tag(ctx, ref, reg.Ref("arm:1")); err != nil {
					t.Fatal(err)
				}
				pushed, _, err := push(t, c, s, reg.Ref("arm:1"))
				if err != nil {
					t.Fatal(err)
				}
				if pushed.Root.Digest != res.Manifest.Digest {
					t.Errorf("pushed %s, want the arm64 manifest %s", pushed.Root.Digest, res.Manifest.Digest)
				}

				// By digest, the record must name its target.
				s2 := newStore(t)
				byDigest := reg.Ref("multi@" + idxDigest.String())
				res2, _, err := pull(t, c, s2, byDigest, transfer.WithPlatform(arm64))
				if err != nil {
					t.Fatal(err)
				}
				if want := reg.Ref("multi@" + res2.Manifest.Digest.String()); res2.Image.Name != want {
					t.Errorf("recorded %s, want %s", res2.Image.Name, want)
				}
			})

			t.Run("store of that platform", func(t *testing.T) {
				s := newStore(t, image.WithPlatform(image.PlatformFromOCI(arm64)))
				res, _, err := pull(t, c, s, ref)
				if err != nil {
					t.Fatal(err)
				}
				if res.Image.Target.Digest != idxDigest {
					t.Fatalf("recorded %s, want the index", res.Image.Target.Digest)
				}
				if got := platformOf(t, s, res.Top); got != "linux/arm64/v8" {
					t.Errorf("unpacked the %s image", got)
				}
				assertConsistent(t, s)
			})
		})
	}
}

// TestPullBadLayer: an image whose config names other diff_ids than its
// layers have fails in the unpack, which stops the pull with the unpack's
// error; no record is made and the store stays consistent.
func TestPullBadLayer(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	img := imagetest.BusyboxImage(t, imagetest.WithRandomLayer(4<<20))
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.RootFS.DiffIDs[0], cfg.RootFS.DiffIDs[1] = cfg.RootFS.DiffIDs[1], cfg.RootFS.DiffIDs[0]
	bad, err := mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	imagetest.Push(t, reg, "bad:1", bad)
	s := newStore(t)
	_, _, err = pull(t, newClient(t), s, reg.Ref("bad:1"))
	if !errdefs.IsInvalidParameter(err) {
		t.Fatalf("pull of an image with wrong diff_ids: %v, want InvalidParameter", err)
	}
	recs, _ := s.Records(t.Context())
	if len(recs) != 0 {
		t.Fatalf("records after a failed pull: %+v", recs)
	}
	assertConsistent(t, s)
}

// TestPullAuth: WithAuth carries the credentials; without them the
// registry's refusal is errdefs.ErrUnauthorized.
func TestPullAuth(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithHtpasswd("berth", "s3cret"))
	imagetest.Push(t, reg, "private:1", imagetest.BusyboxImage(t))
	c := newClient(t)
	s := newStore(t)
	if _, _, err := pull(t, c, s, reg.Ref("private:1"), transfer.WithDistributionOptions(distribution.WithConfigDir(t.TempDir()))); !errdefs.IsUnauthorized(err) {
		t.Fatalf("anonymous pull: %v, want Unauthorized", err)
	}
	if _, _, err := pull(t, c, s, reg.Ref("private:1"), transfer.WithAuth(registry.AuthConfig{Username: "berth", Password: "s3cret"})); err != nil {
		t.Fatal(err)
	}
	assertConsistent(t, s)
}

// TestOptionsRejected: an option the operation cannot honour is an
// error, not ignored.
func TestOptionsRejected(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	c := newClient(t)
	_, err := transfer.Push(t.Context(), c, s, "x:1", transfer.WithPlatform(ocispec.Platform{OS: "linux", Architecture: "arm64"}))
	if !errdefs.IsInvalidParameter(err) {
		t.Errorf("push with a platform: %v", err)
	}
	_, err = transfer.Pull(t.Context(), c, s, "x:1", transfer.WithPlatform(ocispec.Platform{OS: "linux"}))
	if !errdefs.IsInvalidParameter(err) {
		t.Errorf("pull with a platform without architecture: %v", err)
	}
	_, err = transfer.Pull(t.Context(), c, s, "sha256:"+digest.FromString("x").Encoded())
	if !errdefs.IsInvalidParameter(err) {
		t.Errorf("pull of an image ID: %v", err)
	}
	_, err = transfer.Push(t.Context(), c, s, "nothing:here")
	if !errdefs.IsNotFound(err) {
		t.Errorf("push of no image: %v", err)
	}
	if errors.Is(err, errdefs.ErrInvalidParameter) {
		t.Errorf("push of no image is also InvalidParameter: %v", err)
	}
}
