package interchange

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/image/imagetest"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func loadFile(t *testing.T, s *image.Store, path string) []Loaded {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	loaded, err := Load(context.Background(), f, s)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	return loaded
}

// layoutConfig returns the config digest of the image named ref in the OCI
// layout dir, as another tool wrote it.
func layoutConfig(t *testing.T, dir, ref string) string {
	t.Helper()
	var idx ocispec.Index
	readJSON(t, filepath.Join(dir, "index.json"), &idx)
	for _, m := range idx.Manifests {
		if m.Annotations[ocispec.AnnotationRefName] != ref {
			continue
		}
		var man ocispec.Manifest
		readJSON(t, filepath.Join(dir, "blobs", "sha256", m.Digest.Encoded()), &man)
		return man.Config.Digest.String()
	}
	t.Fatalf("no %q in %s", ref, dir)
	return ""
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// TestLoadSkopeoArchives loads what skopeo writes: its docker-archive
// (legacy layout, uncompressed layers, symlinked layer.tar files) and its
// OCI layout, from an image in an OCI layout.
func TestLoadSkopeoArchives(t *testing.T) {
	dir := t.TempDir()
	img := imagetest.BusyboxImage(t, imagetest.WithRandomLayer(256<<10))
	layout := filepath.Join(dir, "layout")
	imagetest.WriteOCILayout(t, layout, map[string]imagetest.Artifact{"src": img})
	want, _ := img.ConfigName()

	t.Run("docker-archive", func(t *testing.T) {
		tarPath := filepath.Join(dir, "skopeo-docker.tar")
		imagetest.SkopeoCopy(t, "oci:"+layout+":src", "docker-archive:"+tarPath+":localhost:5000/skopeo/img:v1")
		s := newStore(t, nil)
		loadFile(t, s, tarPath)
		if got := imageID(t, s, "localhost:5000/skopeo/img:v1"); got.String() != want.String() {
			t.Fatalf("id %s, want %s", got, want)
		}
		assertConsistent(t, s)
	})
	t.Run("oci", func(t *testing.T) {
		out := filepath.Join(dir, "skopeo-oci")
		imagetest.SkopeoCopy(t, "oci:"+layout+":src", "oci:"+out+":busybox:1.36")
		tarPath := filepath.Join(dir, "skopeo-oci.tar")
		tarDir(t, out, tarPath)
		s := newStore(t, nil)
		loadFile(t, s, tarPath)
		if got := imageID(t, s, "busybox:1.36"); got.String() != want.String() {
			t.Fatalf("id %s, want %s", got, want)
		}
		assertConsistent(t, s)
	})
	t.Run("oci with a bare tag", func(t *testing.T) {
		// ref.name "latest" names no repository: the image loads unnamed.
		tarPath := filepath.Join(dir, "layout.tar")
		tarDir(t, layout, tarPath)
		s := newStore(t, nil)
		loaded := loadFile(t, s, tarPath)
		if len(loaded) != 1 || len(loaded[0].Names) != 0 || loaded[0].ID.String() != want.String() {
			t.Fatalf("loaded %+v", loaded)
		}
		assertConsistent(t, s)
	})
}

// TestSkopeoReadsSave copies our saves with skopeo, through both of the
// formats a save holds, and checks skopeo got the same images.
func TestSkopeoReadsSave(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, nil)
	a := imagetest.BusyboxImage(t)
	b := imagetest.BusyboxImage(t, imagetest.WithFormat(imagetest.Docker), imagetest.WithRandomLayer(128<<10))
	c := imagetest.BusyboxImage(t, imagetest.WithCompression(imagetest.Zstd), imagetest.WithLabel("c", "zstd"))
	for name, img := range map[string]v1.Image{"busybox:latest": a, "localhost:5000/b:2": b, "c:zstd": c} {
		if _, err := s.Create(ctx, image.Image{Name: name, Target: putImage(t, s, img)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Create(ctx, image.Image{Name: "multi:1", Target: putIndex(t, s, imagetest.MultiArchIndex(t))}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	saved := filepath.Join(dir, "saved.tar")
	var buf bytes.Buffer
	if err := Save(ctx, &buf, s, []string{"busybox", "localhost:5000/b:2", "c:zstd", "multi:1"}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(saved, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, img := range map[string]v1.Image{"busybox:latest": a, "localhost:5000/b:2": b, "c:zstd": c} {
		// dir: keeps the manifest type, so the config's bytes (its
		// digest, the image ID) survive; oci: would convert and reorder.
		want, _ := img.ConfigName()
		out := filepath.Join(dir, "from-docker-archive-"+want.Hex[:12])
		imagetest.SkopeoCopy(t, "docker-archive:"+saved+":"+name, "dir:"+out)
		if _, err := os.Stat(filepath.Join(out, want.Hex)); err != nil {
			t.Errorf("docker-archive:%s: skopeo did not get config %s: %v", name, want, err)
		}
	}
	// The save is an OCI layout too, its entries tagged by ref.name.
	// (skopeo's oci: transport only finds OCI-typed manifests, so b, a
	// Docker schema 2 image, is read through docker-archive: above.)
	layout := filepath.Join(dir, "layout")
	untar(t, saved, layout)
	for tag, img := range map[string]v1.Image{"latest": a, "zstd": c} {
		want, _ := img.ConfigName()
		out := filepath.Join(dir, "from-oci")
		imagetest.SkopeoCopy(t, "oci:"+layout+":"+tag, "oci:"+out+":"+tag)
		if got := layoutConfig(t, out, tag); got != want.String() {
			t.Errorf("oci:%s: skopeo got config %s, want %s", tag, got, want)
		}
	}
	// And skopeo's copy of it loads back into Berth, same IDs.
	back := filepath.Join(dir, "back.tar")
	tarDir(t, filepath.Join(dir, "from-oci"), back)
	s2 := newStore(t, nil)
	loadFile(t, s2, back)
	assertConsistent(t, s2)
}
