package imagetest

import (
	"archive/tar"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// readArchive returns the regular files of a tar by name.
func readArchive(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if files[h.Name], err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestWriteDockerArchive(t *testing.T) {
	t.Parallel()
	img := BusyboxImage(t)
	other := BusyboxImage(t, WithLabel("second", "image"))
	images := map[string]v1.Image{"busybox:latest": img, "example.com/team/busybox:v1": img, "busybox:other": other}
	cfgName, _ := img.ConfigName()
	ids := diffIDs(t, img)

	for name, format := range map[string]ArchiveFormat{"oci": ArchiveOCI, "legacy": ArchiveLegacy} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "archive.tar")
			WriteDockerArchive(t, path, images, format)
			files := readArchive(t, path)

			var manifest []archiveManifest
			if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil {
				t.Fatalf("manifest.json: %v", err)
			}
			if len(manifest) != 2 {
				t.Fatalf("manifest.json has %d entries, want 2 (one per image)", len(manifest))
			}
			var m archiveManifest
			for _, e := range manifest {
				if slices.Contains(e.RepoTags, "busybox:latest") {
					m = e
				}
			}
			if !slices.Equal(m.RepoTags, []string{"busybox:latest", "example.com/team/busybox:v1"}) {
				t.Errorf("RepoTags %q", m.RepoTags)
			}
			if h, _, _ := v1.SHA256(strings.NewReader(string(files[m.Config]))); h != cfgName {
				t.Errorf("config %s has digest %v, want %v", m.Config, h, cfgName)
			}
			if len(m.Layers) != len(ids) {
				t.Fatalf("%d layers, want %d", len(m.Layers), len(ids))
			}
			for i, p := range m.Layers {
				// Docker stores layers uncompressed: their digests are diff IDs.
				if h, _, _ := v1.SHA256(strings.NewReader(string(files[p]))); h != ids[i] {
					t.Errorf("layer %s has digest %v, want diff ID %v", p, h, ids[i])
				}
				if format == ArchiveLegacy {
					dir := strings.TrimSuffix(p, "/layer.tar")
					if string(files[dir+"/VERSION"]) != "1.0" || files[dir+"/json"] == nil || dir == p {
						t.Errorf("legacy layer %s lacks VERSION or json", p)
					}
				}
			}
			var repos map[string]map[string]string
			if err := json.Unmarshal(files["repositories"], &repos); err != nil {
				t.Fatalf("repositories: %v", err)
			}
			if repos["busybox"]["latest"] == "" || repos["busybox"]["other"] == "" || repos["example.com/team/busybox"]["v1"] == "" {
				t.Errorf("repositories %v", repos)
			}
			if format != ArchiveOCI {
				return
			}
			// Since Docker 25 the archive is also an OCI layout.
			dir := t.TempDir()
			if out, err := exec.Command("tar", "-xf", path, "-C", dir).CombinedOutput(); err != nil {
				t.Fatalf("tar -x: %v\n%s", err, out)
			}
			got := layoutImage(t, dir, "v1")
			if err := validate.Image(got, validate.Fast); err != nil {
				t.Errorf("the archive's OCI layout: %v", err)
			}
			checkLayerBlobs(t, got)
			if c, _ := got.ConfigName(); c != cfgName {
				t.Errorf("layout config %v, want %v", c, cfgName)
			}
			if os.Geteuid() == 0 {
				CheckBusyboxTree(t, UmociUnpack(t, dir, "latest", filepath.Join(t.TempDir(), "bundle")))
			}
		})
	}
}

func TestWriteDockerArchiveRejectsUntagged(t *testing.T) {
	img := BusyboxImage(t)
	for _, ref := range []string{"busybox", "reg:5000/busybox", "Busybox:UPPER:x"} {
		if err := writeDockerArchive(filepath.Join(t.TempDir(), "a.tar"), map[string]v1.Image{ref: img}, ArchiveOCI); err == nil {
			t.Errorf("%q: no error", ref)
		}
	}
}
