package interchange

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/image/imagetest"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/api/types/jsonstream"
)

// fixture is a store holding several images: OCI and Docker manifests,
// gzip, zstd and uncompressed layers, and a multi-platform index.
func fixture(t *testing.T) (*image.Store, map[string]string) {
	t.Helper()
	ctx := context.Background()
	s := newStore(t, nil)
	add := func(name string, target func() any) {
		var err error
		switch a := target().(type) {
		case v1.Image:
			_, err = s.Create(ctx, image.Image{Name: name, Target: putImage(t, s, a)})
		case v1.ImageIndex:
			_, err = s.Create(ctx, image.Image{Name: name, Target: putIndex(t, s, a)})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	add("busybox:latest", func() any { return imagetest.BusyboxImage(t) })
	add("busybox:1", func() any { return imagetest.BusyboxImage(t) })
	add("localhost:5000/app/docker:v1", func() any {
		return imagetest.BusyboxImage(t, imagetest.WithFormat(imagetest.Docker), imagetest.WithRandomLayer(1<<20))
	})
	add("zstd:1", func() any {
		return imagetest.BusyboxImage(t, imagetest.WithCompression(imagetest.Zstd), imagetest.WithLabel("z", "1"))
	})
	add("plain:tar", func() any {
		return imagetest.BusyboxImage(t, imagetest.WithCompression(imagetest.Uncompressed), imagetest.WithLabel("k", "v"))
	})
	add("multi:x", func() any { return imagetest.MultiArchIndex(t) })
	ids := map[string]string{}
	for _, n := range []string{"busybox:latest", "busybox:1", "localhost:5000/app/docker:v1", "plain:tar", "multi:x", "zstd:1"} {
		ids[n] = imageID(t, s, n).String()
	}
	return s, ids
}

func TestSaveLoadRoundTrip(t *testing.T) {
	ctx := context.Background()
	src, ids := fixture(t)
	var buf bytes.Buffer
	if err := Save(ctx, &buf, src, []string{"busybox", "localhost:5000/app/docker:v1", "plain:tar", "multi:x", "zstd"}); err != nil {
		t.Fatal(err)
	}
	saved := buf.Bytes()

	// OCI side (index.json) and docker side (manifest.json only) both load.
	for _, variant := range []string{"both", "docker-only", "oci-only", "gzipped"} {
		t.Run(variant, func(t *testing.T) {
			data := saved
			switch variant {
			case "docker-only":
				data = dropEntries(t, saved, "index.json", "oci-layout")
			case "oci-only":
				data = dropEntries(t, saved, "manifest.json", "repositories")
			case "gzipped":
				data = gzipBytes(t, saved)
			}
			dst := newStore(t, nil)
			var msgs []jsonstream.Message
			loaded, err := Load(ctx, bytes.NewReader(data), dst, WithProgress(func(m jsonstream.Message) { msgs = append(msgs, m) }))
			if err != nil {
				t.Fatal(err)
			}
			want := 5
			if variant == "docker-only" {
				// manifest.json lists images by config: the index's
				// host image is busybox's.
				want = 4
			}
			if len(loaded) != want {
				t.Errorf("loaded %d images, want %d: %+v", len(loaded), want, loaded)
			}
			for name, id := range ids {
				if got := imageID(t, dst, name).String(); got != id {
					t.Errorf("%s: id %s, want %s", name, got, id)
				}
				if variant != "docker-only" {
					a, _ := src.Get(ctx, name)
					b, _ := dst.Get(ctx, name)
					if a.Target.Digest != b.Target.Digest {
						t.Errorf("%s: target %s, want %s", name, b.Target.Digest, a.Target.Digest)
					}
				}
			}
			assertConsistent(t, dst)
			var streams []string
			layers := 0
			for _, m := range msgs {
				if m.Stream != "" {
					streams = append(streams, m.Stream)
				}
				if m.Status == "Loading layer" {
					layers++
				}
			}
			if len(streams) != 6 || !strings.HasPrefix(streams[0], "Loaded image: ") || layers == 0 {
				t.Errorf("progress: %d Loading layer, streams %q", layers, streams)
			}
			// Loading again changes nothing.
			if _, err := Load(ctx, bytes.NewReader(data), dst); err != nil {
				t.Fatal(err)
			}
			assertConsistent(t, dst)
		})
	}

	// Saving twice gives the same bytes.
	var again bytes.Buffer
	if err := Save(ctx, &again, src, []string{"busybox", "localhost:5000/app/docker:v1", "plain:tar", "multi:x", "zstd"}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), saved) {
		t.Error("two saves of the same images differ")
	}
}

func TestSaveByID(t *testing.T) {
	ctx := context.Background()
	src, ids := fixture(t)
	var buf bytes.Buffer
	if err := Save(ctx, &buf, src, []string{ids["plain:tar"][7:19]}); err != nil {
		t.Fatal(err)
	}
	dst := newStore(t, nil)
	loaded, err := Load(ctx, &buf, dst)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 1 || len(loaded[0].Names) != 0 || loaded[0].ID.String() != ids["plain:tar"] {
		t.Fatalf("loaded %+v", loaded)
	}
	list, err := dst.List(ctx, image.ListOptions{Filters: map[string][]string{"dangling": {"true"}}})
	if err != nil || len(list) != 1 {
		t.Fatalf("dangling: %+v %v", list, err)
	}
	assertConsistent(t, dst)
}

func TestLoadDockerArchives(t *testing.T) {
	ctx := context.Background()
	a := imagetest.BusyboxImage(t)
	b := imagetest.BusyboxImage(t, imagetest.WithRandomLayer(1<<20), imagetest.WithFormat(imagetest.Docker))
	for _, format := range []imagetest.ArchiveFormat{imagetest.ArchiveOCI, imagetest.ArchiveLegacy} {
		path := filepath.Join(t.TempDir(), "save.tar")
		imagetest.WriteDockerArchive(t, path, map[string]v1.Image{"a:1": a, "a:2": a, "registry.example:5000/b/c:d": b}, format)
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		s := newStore(t, nil)
		if _, err := Load(ctx, f, s); err != nil {
			t.Fatalf("format %d: %v", format, err)
		}
		f.Close()
		ida, _ := a.ConfigName()
		idb, _ := b.ConfigName()
		for name, want := range map[string]string{"a:1": ida.String(), "a:2": ida.String(), "registry.example:5000/b/c:d": idb.String()} {
			if got := imageID(t, s, name).String(); got != want {
				t.Errorf("format %d: %s is %s, want %s", format, name, got, want)
			}
		}
		assertConsistent(t, s)
	}
}
