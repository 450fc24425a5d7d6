package imagetest

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/testenv/registrytest"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Artifact is what can be written to a layout or pushed: a v1.Image or a
// v1.ImageIndex (both satisfy it).
type Artifact interface {
	MediaType() (types.MediaType, error)
	RawManifest() ([]byte, error)
	Digest() (v1.Hash, error)
}

// RefNameAnnotation is the OCI annotation that names a manifest in an
// image layout's index.json; skopeo's "oci:DIR:NAME" and umoci's
// "--image DIR:NAME" look NAME up in it.
const RefNameAnnotation = "org.opencontainers.image.ref.name"

// WriteOCILayout adds each artifact to the OCI image layout in dir
// (creating the layout if dir has none), its index.json entry annotated
// with RefNameAnnotation = the map key ("latest", "v1", ...). Blobs are
// written as they are: compressed layers stay compressed. Keys are added in
// sorted order, so the index is the same on every run.
func WriteOCILayout(t testing.TB, dir string, artifacts map[string]Artifact) {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		if p, err = layout.Write(dir, empty.Index); err != nil {
			t.Fatalf("imagetest: WriteOCILayout %s: %v", dir, err)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(artifacts)) {
		opt := layout.WithAnnotations(map[string]string{RefNameAnnotation: key})
		switch a := artifacts[key].(type) {
		case v1.Image:
			err = p.AppendImage(a, opt)
		case v1.ImageIndex:
			err = p.AppendIndex(a, opt)
		default:
			err = fmt.Errorf("%T is neither a v1.Image nor a v1.ImageIndex", a)
		}
		if err != nil {
			t.Fatalf("imagetest: WriteOCILayout %s %s: %v", dir, key, err)
		}
	}
}

// ArchiveFormat is the layout of a docker-archive tar.
type ArchiveFormat int

const (
	// ArchiveOCI is what `docker save` writes since Docker 25: an OCI image
	// layout (oci-layout, index.json, blobs/sha256/...) whose layers are
	// uncompressed tars, plus Docker's manifest.json and repositories.
	ArchiveOCI ArchiveFormat = iota
	// ArchiveLegacy is what `docker save` wrote before Docker 25: the config
	// as <hex>.json, each layer as <id>/layer.tar with <id>/VERSION and
	// <id>/json, plus manifest.json and repositories.
	ArchiveLegacy
)

// WriteDockerArchive writes the tar `docker save` writes for images, keyed
// by the name they are saved under ("busybox:latest", "reg:5000/a/b:v1").
// An image saved under several names appears once, with all of them. Layers
// are decompressed, as Docker stores them, so the archive's layer digests
// are the images' diff IDs.
func WriteDockerArchive(t testing.TB, path string, images map[string]v1.Image, format ArchiveFormat) {
	t.Helper()
	if err := writeDockerArchive(path, images, format); err != nil {
		t.Fatalf("imagetest: WriteDockerArchive %s: %v", path, err)
	}
}

// archiveManifest is one entry of a docker-archive's manifest.json.
type archiveManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

func writeDockerArchive(path string, images map[string]v1.Image, format ArchiveFormat) (err error) {
	if len(images) == 0 {
		return errors.New("no images")
	}
	// Group names by image, in a stable order.
	type saved struct {
		img   v1.Image
		names []string
	}
	var order []*saved
	byDigest := map[v1.Hash]*saved{}
	for _, ref := range slices.Sorted(maps.Keys(images)) {
		img := images[ref]
		if _, err := name.NewTag(ref, name.WeakValidation); err != nil || !strings.Contains(lastPathElem(ref), ":") {
			return fmt.Errorf("name %q is not repository:tag", ref)
		}
		d, err := img.Digest()
		if err != nil {
			return err
		}
		s, ok := byDigest[d]
		if !ok {
			s = &saved{img: img}
			byDigest[d] = s
			order = append(order, s)
		}
		s.names = append(s.names, ref)
	}

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	tw := tar.NewWriter(f)
	written := map[string]bool{}
	add := func(name string, size int64, r io.Reader) error {
		if written[name] {
			return nil // shared layers are stored once
		}
		written[name] = true
		if dir, _, ok := strings.Cut(name, "/"); ok && !written[dir+"/"] {
			written[dir+"/"] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755, ModTime: Epoch}); err != nil {
				return err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: size, ModTime: Epoch}); err != nil {
			return err
		}
		_, err := io.Copy(tw, r)
		return err
	}
	addBytes := func(name string, b []byte) error { return add(name, int64(len(b)), bytes.NewReader(b)) }

	var manifests []archiveManifest
	repositories := map[string]map[string]string{}
	var index v1.IndexManifest
	index.SchemaVersion = 2
	index.MediaType = types.OCIImageIndex
	for _, s := range order {
		cfg, err := s.img.RawConfigFile()
		if err != nil {
			return err
		}
		cfgDigest, err := s.img.ConfigName()
		if err != nil {
			return err
		}
		layers, err := s.img.Layers()
		if err != nil {
			return err
		}
		m := archiveManifest{RepoTags: s.names}
		var ociManifest v1.Manifest
		var topID string
		switch format {
		case ArchiveLegacy:
			m.Config = cfgDigest.Hex + ".json"
			if err := addBytes(m.Config, cfg); err != nil {
				return err
			}
			parent := ""
			for _, l := range layers {
				diffID, err := l.DiffID()
				if err != nil {
					return err
				}
				// Docker named these directories by v1 IDs; any name unique to
				// the layer and its parents will do, as `docker load` reads
				// the paths from manifest.json. A digest of the chain is one.
				id, _, _ := v1.SHA256(strings.NewReader(parent + " " + diffID.String()))
				dir := id.Hex
				v1json, _ := json.Marshal(map[string]any{"id": dir, "parent": parent, "created": Epoch})
				if err := addBytes(dir+"/VERSION", []byte("1.0")); err != nil {
					return err
				}
				if err := addBytes(dir+"/json", v1json); err != nil {
					return err
				}
				if err := addLayer(add, dir+"/layer.tar", l); err != nil {
					return err
				}
				m.Layers = append(m.Layers, dir+"/layer.tar")
				parent, topID = dir, dir
			}
		case ArchiveOCI:
			m.Config = "blobs/sha256/" + cfgDigest.Hex
			if err := addBytes(m.Config, cfg); err != nil {
				return err
			}
			ociManifest = v1.Manifest{
				SchemaVersion: 2,
				MediaType:     types.OCIManifestSchema1,
				Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: cfgDigest, Size: int64(len(cfg))},
			}
			for _, l := range layers {
				diffID, err := l.DiffID()
				if err != nil {
					return err
				}
				p := "blobs/sha256/" + diffID.Hex
				size, err := addLayerSized(add, p, l)
				if err != nil {
					return err
				}
				m.Layers = append(m.Layers, p)
				ociManifest.Layers = append(ociManifest.Layers, v1.Descriptor{
					MediaType: types.OCIUncompressedLayer, Digest: diffID, Size: size})
			}
			raw, err := json.Marshal(ociManifest)
			if err != nil {
				return err
			}
			md, _, _ := v1.SHA256(bytes.NewReader(raw))
			if err := addBytes("blobs/sha256/"+md.Hex, raw); err != nil {
				return err
			}
			for _, n := range s.names {
				tag, _ := name.NewTag(n, name.WeakValidation)
				index.Manifests = append(index.Manifests, v1.Descriptor{
					MediaType: types.OCIManifestSchema1, Digest: md, Size: int64(len(raw)),
					Annotations: map[string]string{
						"io.containerd.image.name": dockerName(tag),
						RefNameAnnotation:          tag.TagStr(),
					},
				})
			}
			topID = cfgDigest.Hex
		default:
			return fmt.Errorf("unknown archive format %d", format)
		}
		manifests = append(manifests, m)
		for _, n := range s.names {
			i := strings.LastIndex(n, ":")
			if repositories[n[:i]] == nil {
				repositories[n[:i]] = map[string]string{}
			}
			repositories[n[:i]][n[i+1:]] = topID
		}
	}
	if format == ArchiveOCI {
		raw, err := json.Marshal(index)
		if err != nil {
			return err
		}
		if err := addBytes("index.json", raw); err != nil {
			return err
		}
		if err := addBytes("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
			return err
		}
	}
	raw, err := json.Marshal(manifests)
	if err != nil {
		return err
	}
	if err := addBytes("manifest.json", raw); err != nil {
		return err
	}
	raw, err = json.Marshal(repositories)
	if err != nil {
		return err
	}
	if err := addBytes("repositories", raw); err != nil {
		return err
	}
	return tw.Close()
}

// dockerName is the full name Docker records for tag: "docker.io/library/
// busybox:latest" for "busybox:latest" (ggcr would say index.docker.io).
func dockerName(tag name.Tag) string {
	reg := tag.RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	return reg + "/" + tag.RepositoryStr() + ":" + tag.TagStr()
}

func lastPathElem(ref string) string {
	return ref[strings.LastIndex(ref, "/")+1:]
}

func addLayer(add func(string, int64, io.Reader) error, path string, l v1.Layer) error {
	_, err := addLayerSized(add, path, l)
	return err
}

// addLayerSized adds l's uncompressed tar at path. A tar header needs the
// size up front, which the layer knows only for the kit's own layers; for
// others it is measured with one extra read.
func addLayerSized(add func(string, int64, io.Reader) error, path string, l v1.Layer) (int64, error) {
	var size int64
	if bl, ok := l.(*blobLayer); ok {
		size = bl.uncompressedSize
	} else {
		rc, err := l.Uncompressed()
		if err != nil {
			return 0, err
		}
		size, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return 0, err
		}
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	return size, add(path, size, rc)
}

// RemoteOptions returns the go-containerregistry options that reach reg:
// its credentials (anonymous when it has none) and the test's context.
// Pair them with a reference from Ref, which selects plain HTTP.
func RemoteOptions(t testing.TB, reg *registrytest.Registry) []remote.Option {
	auth := authn.Anonymous
	if reg.User != "" {
		auth = &authn.Basic{Username: reg.User, Password: reg.Password}
	}
	return []remote.Option{remote.WithAuth(auth), remote.WithContext(t.Context())}
}

// Ref parses ref ("repo:tag" or "repo@sha256:...") as a reference into
// reg, marked insecure so that ggcr speaks plain HTTP to it.
func Ref(t testing.TB, reg *registrytest.Registry, ref string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(reg.Ref(ref), name.Insecure, name.StrictValidation)
	if err != nil {
		t.Fatalf("imagetest: reference %q: %v", ref, err)
	}
	return r
}

// Push pushes an image or index to reg under ref ("repo:tag") with ggcr,
// using reg's credentials, and returns the pushed manifest's reference by
// digest ("127.0.0.1:PORT/repo@sha256:...").
func Push(t testing.TB, reg *registrytest.Registry, ref string, a Artifact) string {
	t.Helper()
	r := Ref(t, reg, ref)
	var err error
	switch a := a.(type) {
	case v1.Image:
		err = remote.Write(r, a, RemoteOptions(t, reg)...)
	case v1.ImageIndex:
		err = remote.WriteIndex(r, a, RemoteOptions(t, reg)...)
	default:
		err = fmt.Errorf("%T is neither a v1.Image nor a v1.ImageIndex", a)
	}
	if err != nil {
		t.Fatalf("imagetest: push %s: %v", r, err)
	}
	d, err := a.Digest()
	if err != nil {
		t.Fatalf("imagetest: push %s: %v", r, err)
	}
	return r.Context().Digest(d.String()).String()
}

// RemoteImage reads ref ("repo:tag" or "repo@sha256:...") from reg; extra
// options (remote.WithPlatform) pick an image out of an index.
func RemoteImage(t testing.TB, reg *registrytest.Registry, ref string, opts ...remote.Option) v1.Image {
	t.Helper()
	img, err := remote.Image(Ref(t, reg, ref), append(RemoteOptions(t, reg), opts...)...)
	if err != nil {
		t.Fatalf("imagetest: read %s from %s: %v", ref, reg.Host, err)
	}
	return img
}

// RemoteIndex reads the index ref from reg.
func RemoteIndex(t testing.TB, reg *registrytest.Registry, ref string) v1.ImageIndex {
	t.Helper()
	idx, err := remote.Index(Ref(t, reg, ref), RemoteOptions(t, reg)...)
	if err != nil {
		t.Fatalf("imagetest: read index %s from %s: %v", ref, reg.Host, err)
	}
	return idx
}
