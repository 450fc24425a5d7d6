package image

import (
	"bytes"
	"context"
	"testing"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/snapshot"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func newTestStore(t testing.TB, sn snapshot.Snapshotter, opts ...Opt) *Store {
	t.Helper()
	cs, err := content.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStore(context.Background(), t.TempDir(), cs, sn, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writeBlob(t testing.TB, cs content.Store, b []byte, mt string) ocispec.Descriptor {
	t.Helper()
	desc := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
	err := content.WriteBlob(context.Background(), cs, content.RefFor(desc), bytes.NewReader(b), desc)
	if err != nil && !errdefs.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	return desc
}

// putImage writes a ggcr image's blobs into the store's content store and
// returns its manifest descriptor.
func putImage(t testing.TB, s *Store, img v1.Image) ocispec.Descriptor {
	t.Helper()
	ctx := context.Background()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		d, _ := l.Digest()
		size, _ := l.Size()
		mt, _ := l.MediaType()
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		desc := ocispec.Descriptor{MediaType: string(mt), Digest: digest.Digest(d.String()), Size: size}
		err = content.WriteBlob(ctx, s.content, content.RefFor(desc), rc, desc)
		rc.Close()
		if err != nil && !errdefs.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	writeBlob(t, s.content, cfg, "")
	m, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, _ := img.MediaType()
	return writeBlob(t, s.content, m, string(mt))
}

// putIndex writes an index and every image in it.
func putIndex(t testing.TB, s *Store, idx v1.ImageIndex) ocispec.Descriptor {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range im.Manifests {
		img, err := idx.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		putImage(t, s, img)
	}
	raw, err := idx.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, _ := idx.MediaType()
	return writeBlob(t, s.content, raw, string(mt))
}

func mustCreate(t testing.TB, s *Store, name string, target ocispec.Descriptor) Image {
	t.Helper()
	img, err := s.Create(context.Background(), Image{Name: name, Target: target})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return img
}

// assertClean fails unless Check finds no problem and nothing is orphaned.
func assertClean(t testing.TB, s *Store) {
	t.Helper()
	ctx := context.Background()
	rep, err := s.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Unrepaired() {
		t.Errorf("check: %s", p)
	}
	o, err := s.Orphans(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Content) > 0 || len(o.Snapshots) > 0 {
		t.Errorf("orphans: content %v, snapshots %v", o.Content, o.Snapshots)
	}
}
