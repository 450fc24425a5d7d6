package imagetest

import (
	"errors"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/testenv"
	"github.com/berth-project/berth/internal/testenv/registrytest"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// layoutImage reads the image named tag from the OCI layout in dir.
func layoutImage(t *testing.T, dir, tag string) v1.Image {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		if d.Annotations[RefNameAnnotation] == tag {
			img, err := p.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			return img
		}
	}
	t.Fatalf("no %s in %s", tag, dir)
	return nil
}

func diffIDs(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cfg.RootFS.DiffIDs
}

func sameHashes(a, b []v1.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestUmociUnpacksTheImage is the kit's end-to-end check: umoci applies
// every layer of the image the kit wrote, the tree is what
// CheckBusyboxTree expects, and busybox runs in it.
func TestUmociUnpacksTheImage(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	// umoci 0.4.7 (Debian 12) predates zstd layers.
	for _, c := range []Compression{Gzip, Uncompressed} {
		t.Run(string(c), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			WriteOCILayout(t, filepath.Join(dir, "layout"), map[string]Artifact{"latest": BusyboxImage(t, WithCompression(c))})
			rootfs := UmociUnpack(t, filepath.Join(dir, "layout"), "latest", filepath.Join(dir, "bundle"))
			CheckBusyboxTree(t, rootfs)
			out, err := exec.Command("chroot", rootfs, "/bin/sh", "-c", "cat /etc/motd; ls /opt/old").CombinedOutput()
			if want := MotdContent + "new\n"; err != nil || string(out) != want {
				t.Errorf("chroot sh: %q, %v; want %q", out, err, want)
			}
		})
	}
}

// TestSkopeoReadsWhatTheKitWrites copies the kit's docker-archives (both
// flavours) and OCI layout with skopeo and checks that the images survive:
// same config, same diff IDs, and (for the archive) the same tree under
// umoci as the original.
func TestSkopeoReadsWhatTheKitWrites(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	img := BusyboxImage(t)
	want := diffIDs(t, img)
	dir := t.TempDir()
	WriteOCILayout(t, filepath.Join(dir, "src"), map[string]Artifact{"latest": img})
	reference := UmociUnpack(t, filepath.Join(dir, "src"), "latest", filepath.Join(dir, "bundle-src"))

	t.Run("oci", func(t *testing.T) {
		dst := filepath.Join(dir, "oci-copy")
		SkopeoCopy(t, "oci:"+filepath.Join(dir, "src")+":latest", "oci:"+dst+":copied")
		got := layoutImage(t, dst, "copied")
		wantDigest, _ := img.Digest()
		if d, _ := got.Digest(); d != wantDigest {
			t.Errorf("skopeo changed the manifest: %v, want %v", d, wantDigest)
		}
	})
	for name, format := range map[string]ArchiveFormat{"archive-oci": ArchiveOCI, "archive-legacy": ArchiveLegacy} {
		t.Run(name, func(t *testing.T) {
			archive := filepath.Join(dir, name+".tar")
			other := BusyboxImage(t, WithLabel("second", "image"))
			WriteDockerArchive(t, archive, map[string]v1.Image{
				"busybox:latest":              img,
				"example.com/team/busybox:v1": img,
				"busybox:other":               other,
			}, format)
			dst := filepath.Join(dir, name+"-layout")
			SkopeoCopy(t, "docker-archive:"+archive+":example.com/team/busybox:v1", "oci:"+dst+":latest")
			got := layoutImage(t, dst, "latest")
			// skopeo rewrites the config when it converts to OCI, so its
			// digest changes; what it says must not.
			if c, _ := got.ConfigFile(); c == nil || c.Config.WorkingDir != ImageWorkingDir || c.Config.Labels["org.berth-project.test"] != "true" {
				t.Errorf("config lost its content: %+v", c)
			}
			if d := diffIDs(t, got); !sameHashes(d, want) {
				t.Errorf("diff IDs %v, want %v", d, want)
			}
			rootfs := UmociUnpack(t, dst, "latest", filepath.Join(dir, name+"-bundle"))
			CompareTrees(t, reference, rootfs, CompareMtimes(), CompareContent())

			SkopeoCopy(t, "docker-archive:"+archive+":busybox:other", "oci:"+dst+":other")
			if c, _ := layoutImage(t, dst, "other").ConfigFile(); c == nil || c.Config.Labels["second"] != "image" {
				t.Error("busybox:other did not give the second image")
			}
		})
	}
}

func TestPushAndReadBack(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string][]registrytest.Option{
		"anonymous": nil,
		"htpasswd":  {registrytest.WithHtpasswd("alice", "pw-alice")},
		"token":     {registrytest.WithTokenAuth("bob", "pw-bob")},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			reg := registrytest.Start(t, opts...)
			for _, f := range []Format{OCI, Docker} {
				img := BusyboxImage(t, WithFormat(f))
				digestRef := Push(t, reg, "team/busybox:"+string(f), img)
				want, _ := img.Digest()
				if !strings.HasSuffix(digestRef, "@"+want.String()) || !strings.HasPrefix(digestRef, reg.Host+"/team/busybox@") {
					t.Errorf("Push returned %q", digestRef)
				}
				for _, ref := range []string{"team/busybox:" + string(f), "team/busybox@" + want.String()} {
					got := RemoteImage(t, reg, ref)
					if d, _ := got.Digest(); d != want {
						t.Errorf("%s: digest %v, want %v", ref, d, want)
					}
					if err := validate.Image(got); err != nil {
						t.Errorf("%s: %v", ref, err)
					}
				}
			}
			if reg.User == "" {
				return
			}
			// Without credentials the registry refuses.
			_, err := remote.Image(Ref(t, reg, "team/busybox:oci"), remote.WithAuth(authn.Anonymous))
			var terr *transport.Error
			if !errors.As(err, &terr) || terr.StatusCode != http.StatusUnauthorized {
				t.Errorf("anonymous read: %v, want 401", err)
			}
		})
	}
}

func TestPushZstd(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	img := BusyboxImage(t, WithCompression(Zstd))
	Push(t, reg, "zstd:latest", img)
	got := RemoteImage(t, reg, "zstd:latest")
	m, _ := got.Manifest()
	if m.Layers[0].MediaType != types.OCILayerZStd {
		t.Errorf("layer media type %s", m.Layers[0].MediaType)
	}
	checkLayerBlobs(t, got)
}

func TestPushMultiArch(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithHtpasswd("u", "p"))
	for _, f := range []Format{OCI, Docker} {
		idx := MultiArchIndex(t, WithFormat(f))
		ref := "multi:" + string(f)
		Push(t, reg, ref, idx)
		got := RemoteIndex(t, reg, ref)
		want, _ := idx.Digest()
		if d, _ := got.Digest(); d != want {
			t.Errorf("%s: index digest %v, want %v", f, d, want)
		}
		if err := validate.Index(got); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		for _, ps := range MultiArchPlatforms {
			p, _ := v1.ParsePlatform(ps)
			img := RemoteImage(t, reg, ref, remote.WithPlatform(*p))
			layers, err := img.Layers()
			if err != nil {
				t.Fatal(err)
			}
			marker := entriesByName(ReadLayer(t, layers[1]))[PlatformPath]
			if string(marker.Content) != ps+"\n" {
				t.Errorf("%s %s: %s holds %q", f, ps, PlatformPath, marker.Content)
			}
		}
	}
}

// TestSkopeoPullsFromRegistry checks the registry (and its token server)
// with a client that is not ggcr.
func TestSkopeoPullsFromRegistry(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	for name, opt := range map[string]registrytest.Option{
		"htpasswd": registrytest.WithHtpasswd("carol", "pw"),
		"token":    registrytest.WithTokenAuth("dave", "pw"),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			reg := registrytest.Start(t, opt)
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			WriteOCILayout(t, src, map[string]Artifact{"latest": BusyboxImage(t)})
			// skopeo pushes and pulls: both directions of the auth flow.
			SkopeoCopy(t, "oci:"+src+":latest", "docker://"+reg.Ref("skopeo/busybox:latest"), SkopeoCreds("dest", reg)...)
			if name == "token" && reg.TokenRequests() == 0 {
				t.Error("skopeo pushed without asking the token server")
			}
			dst := filepath.Join(dir, "dst")
			SkopeoCopy(t, "docker://"+reg.Ref("skopeo/busybox:latest"), "oci:"+dst+":latest", SkopeoCreds("src", reg)...)
			CheckBusyboxTree(t, UmociUnpack(t, dst, "latest", filepath.Join(dir, "bundle")))
		})
	}
}
