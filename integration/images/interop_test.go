package images_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/image/imagetest"
	"github.com/berth-project/berth/internal/image/interchange"
	"github.com/berth-project/berth/internal/image/transfer"
	"github.com/berth-project/berth/internal/testenv"
	"github.com/berth-project/berth/internal/testenv/registrytest"
)

// TestInterop is the interchange summary, on an image that came the way
// images come, pulled from a registry: Berth's save is read by skopeo both
// as a docker-archive and as an OCI layout, with the image's config (its
// ID) intact; an archive skopeo writes loads into Berth (unpacked on load,
// as docker load does) as the same image with the same tree; and the tree
// Berth unpacked is umoci's unpack of the same OCI layout: paths, types,
// modes, owners, sizes, symlink targets, xattrs, hard links and content.
// The format-by-format cases are in internal/image/interchange's tests.
func TestInterop(t *testing.T) {
	testenv.RequireRoot(t)
	ctx := t.Context()
	reg := registrytest.Start(t)
	img := imagetest.BusyboxImage(t, imagetest.WithRandomLayer(1<<20))
	imagetest.Push(t, reg, "interop/busybox:1", img)
	configName, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	id := configName.String()
	ref := reg.Ref("interop/busybox:1")

	a := newStores(t)
	c, err := distribution.New()
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := transfer.Pull(ctx, c, a.images, ref)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	saved := filepath.Join(dir, "saved.tar")
	f, err := os.OpenFile(saved, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := interchange.Save(ctx, f, a.images, []string{ref}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	layout := filepath.Join(dir, "layout")
	if err := os.Mkdir(layout, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("tar", "-xf", saved, "-C", layout).CombinedOutput(); err != nil {
		t.Fatalf("untar the save: %v\n%s", err, out)
	}

	t.Run("skopeo reads the save as a docker-archive", func(t *testing.T) {
		// dir: keeps the manifest and config as they are.
		out := filepath.Join(dir, "from-docker-archive")
		imagetest.SkopeoCopy(t, "docker-archive:"+saved+":"+image.FamiliarName(ref), "dir:"+out)
		if _, err := os.Stat(filepath.Join(out, configName.Hex)); err != nil {
			t.Errorf("skopeo did not get config %s: %v", id, err)
		}
	})
	t.Run("skopeo reads the save as an OCI layout", func(t *testing.T) {
		out := filepath.Join(dir, "from-oci")
		imagetest.SkopeoCopy(t, "oci:"+layout+":1", "oci:"+out+":1")
		var idx ocispec.Index
		readJSON(t, filepath.Join(out, "index.json"), &idx)
		if len(idx.Manifests) != 1 {
			t.Fatalf("skopeo's layout: %+v", idx)
		}
		var m ocispec.Manifest
		readJSON(t, filepath.Join(out, "blobs", "sha256", idx.Manifests[0].Digest.Encoded()), &m)
		if m.Config.Digest.String() != id {
			t.Errorf("skopeo got config %s, want %s", m.Config.Digest, id)
		}
	})
	t.Run("berth loads what skopeo writes", func(t *testing.T) {
		archive := filepath.Join(dir, "skopeo.tar")
		imagetest.SkopeoCopy(t, "oci:"+layout+":1", "docker-archive:"+archive+":skopeo/written:2")
		b := newStores(t)
		f, err := os.Open(archive)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		loaded, err := interchange.Load(ctx, f, b.images)
		if err != nil {
			t.Fatal(err)
		}
		if len(loaded) != 1 || loaded[0].ID.String() != id {
			t.Fatalf("loaded %+v, want image %s", loaded, id)
		}
		rec, err := b.images.Get(ctx, "skopeo/written:2")
		if err != nil {
			t.Fatal(err)
		}
		top, ok, err := b.images.Unpacked(ctx, rec)
		if err != nil || !ok {
			t.Fatalf("loaded image not unpacked: %v", err)
		}
		withView(t, a.sn, pulled.Top, func(pulledRoot string) {
			withView(t, b.sn, top, func(loadedRoot string) {
				// Not mtimes: a directory that a layer changes without
				// naming it (the root, a whiteout's parent) is made in the
				// overlay upper directory at unpack time, as in docker's
				// overlay2.
				imagetest.CompareTrees(t, pulledRoot, loadedRoot, imagetest.CompareContent())
			})
		})
		assertConsistent(t, b)
	})
	t.Run("berth's unpack is umoci's", func(t *testing.T) {
		umoci := imagetest.UmociUnpack(t, layout, "1", filepath.Join(t.TempDir(), "bundle"))
		withView(t, a.sn, pulled.Top, func(root string) {
			imagetest.CheckBusyboxTree(t, root)
			imagetest.CompareTrees(t, umoci, root, imagetest.CompareContent())
		})
	})
	assertConsistent(t, a)
}
