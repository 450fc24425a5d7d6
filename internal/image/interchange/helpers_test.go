package interchange

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/snapshot"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func newStore(t testing.TB, sn snapshot.Snapshotter) *image.Store {
	t.Helper()
	cs, err := content.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := image.NewStore(context.Background(), t.TempDir(), cs, sn)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func putBlob(t testing.TB, cs content.Store, rc io.Reader, desc ocispec.Descriptor) {
	t.Helper()
	err := content.WriteBlob(context.Background(), cs, content.RefFor(desc), rc, desc)
	if err != nil && !errdefs.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

func putBytes(t testing.TB, cs content.Store, b []byte, mt string) ocispec.Descriptor {
	t.Helper()
	d := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
	putBlob(t, cs, bytes.NewReader(b), d)
	return d
}

// putImage writes a ggcr image into s's content store and returns its
// manifest's descriptor.
func putImage(t testing.TB, s *image.Store, img v1.Image) ocispec.Descriptor {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		d, _ := l.Digest()
		size, _ := l.Size()
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		putBlob(t, s.Content(), rc, ocispec.Descriptor{Digest: digest.Digest(d.String()), Size: size})
		rc.Close()
	}
	cfg, _ := img.RawConfigFile()
	putBytes(t, s.Content(), cfg, "")
	m, _ := img.RawManifest()
	mt, _ := img.MediaType()
	return putBytes(t, s.Content(), m, string(mt))
}

func putIndex(t testing.TB, s *image.Store, idx v1.ImageIndex) ocispec.Descriptor {
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
	raw, _ := idx.RawManifest()
	mt, _ := idx.MediaType()
	return putBytes(t, s.Content(), raw, string(mt))
}

// tarDir writes the tree at dir as a tar file.
func tarDir(t testing.TB, dir, out string) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			link, _ = os.Readlink(p)
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			src, err := os.Open(p)
			if err != nil {
				return err
			}
			defer src.Close()
			_, err = io.Copy(tw, src)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

// untar extracts a tar of plain files and directories (what Save writes).
func untar(t testing.TB, file, dir string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(hdr.Name))
		if hdr.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, tr); err != nil {
			t.Fatal(err)
		}
		out.Close()
	}
}

func imageID(t testing.TB, s *image.Store, ref string) digest.Digest {
	t.Helper()
	ctx := context.Background()
	img, err := s.Get(ctx, ref)
	if err != nil {
		t.Fatalf("get %s: %v", ref, err)
	}
	res, err := s.Resolve(ctx, img)
	if err != nil {
		t.Fatalf("resolve %s: %v", ref, err)
	}
	return res.ID()
}

// assertConsistent fails unless the store checks clean and holds no blob
// that no record references.
func assertConsistent(t testing.TB, s *image.Store) {
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
