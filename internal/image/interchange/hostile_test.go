package interchange

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"github.com/berth-project/berth/internal/content"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/image/imagetest"
)

// TestLoadHostile loads archives that must be refused. Each is refused
// with a clear error of the right class, the store is left consistent
// with nothing of the archive in it (no record, no blob), and nothing is
// written outside the store.
func TestLoadHostile(t *testing.T) {
	ctx := context.Background()
	src := newStore(t, nil)
	img := imagetest.BusyboxImage(t, imagetest.WithRandomLayer(64<<10))
	if _, err := src.Create(ctx, image.Image{Name: "victim:1", Target: putImage(t, src, img)}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Save(ctx, &buf, src, []string{"victim:1"}); err != nil {
		t.Fatal(err)
	}
	good := readEntries(t, buf.Bytes())
	dockerOnly := func(es []entry) []entry {
		var out []entry
		for _, e := range es {
			if e.hdr.Name != "index.json" && e.hdr.Name != "oci-layout" {
				out = append(out, e)
			}
		}
		return out
	}
	// The largest blob is the data layer.
	layerIdx := 0
	for i, e := range good {
		if len(e.data) > len(good[layerIdx].data) {
			layerIdx = i
		}
	}
	layerName := good[layerIdx].hdr.Name
	outside := filepath.Join(t.TempDir(), "escaped")
	_ = outside

	modify := func(fn func([]entry) []entry) []byte {
		es := make([]entry, len(good))
		for i, e := range good {
			es[i] = entry{hdr: e.hdr, data: append([]byte(nil), e.data...)}
		}
		return writeEntries(t, fn(es))
	}
	setManifest := func(es []entry, fn func(items []map[string]any)) []entry {
		for i, e := range es {
			if e.hdr.Name == "manifest.json" {
				var items []map[string]any
				if err := json.Unmarshal(e.data, &items); err != nil {
					t.Fatal(err)
				}
				fn(items)
				es[i].data, _ = json.Marshal(items)
			}
		}
		return es
	}
	cases := []struct {
		name    string
		archive []byte
		class   func(error) bool
		msg     string
	}{
		{"path traversal", modify(func(es []entry) []entry {
			return append(es, entry{hdr: tar.Header{Name: "../../escaped", Typeflag: tar.TypeReg, Mode: 0o644}, data: []byte("x")})
		}), errdefs.IsInvalidParameter, "climbs out"},
		{"absolute path", modify(func(es []entry) []entry {
			return append([]entry{{hdr: tar.Header{Name: outside, Typeflag: tar.TypeReg, Mode: 0o644}, data: []byte("x")}}, es...)
		}), errdefs.IsInvalidParameter, "absolute"},
		{"manifest points outside", modify(func(es []entry) []entry {
			return setManifest(dockerOnly(es), func(items []map[string]any) { items[0]["Config"] = "../../../etc/passwd" })
		}), errdefs.IsInvalidParameter, "outside the archive"},
		{"manifest layer via symlink outside", modify(func(es []entry) []entry {
			es = append(es, entry{hdr: tar.Header{Name: "evil.tar", Typeflag: tar.TypeSymlink, Linkname: "/etc/shadow"}})
			return setManifest(dockerOnly(es), func(items []map[string]any) {
				items[0]["Layers"].([]any)[0] = "evil.tar"
			})
		}), errdefs.IsInvalidParameter, "outside the archive"},
		{"symlink climbing out", modify(func(es []entry) []entry {
			es = append(es, entry{hdr: tar.Header{Name: "a/evil.tar", Typeflag: tar.TypeSymlink, Linkname: "../../x"}})
			return setManifest(dockerOnly(es), func(items []map[string]any) {
				items[0]["Layers"].([]any)[0] = "a/evil.tar"
			})
		}), errdefs.IsInvalidParameter, "outside the archive"},
		{"missing blob (OCI)", modify(func(es []entry) []entry {
			return append(es[:layerIdx:layerIdx], es[layerIdx+1:]...)
		}), errdefs.IsNotFound, "missing"},
		{"missing layer (docker)", modify(func(es []entry) []entry {
			return dockerOnly(append(es[:layerIdx:layerIdx], es[layerIdx+1:]...))
		}), errdefs.IsNotFound, "missing"},
		{"digest mismatch", modify(func(es []entry) []entry {
			es[layerIdx].data[len(es[layerIdx].data)/2] ^= 0xff
			return es
		}), errdefs.IsInvalidParameter, layerName},
		{"truncated blob", func() []byte {
			full := modify(func(es []entry) []entry {
				// Put the layer last, so the cut falls inside it.
				l := es[layerIdx]
				return append(append(es[:layerIdx:layerIdx], es[layerIdx+1:]...), l)
			})
			return full[:len(full)-1024-len(good[layerIdx].data)/2]
		}(), errdefs.IsInvalidParameter, "truncated"},
		{"huge manifest.json", modify(func(es []entry) []entry {
			for i, e := range es {
				if e.hdr.Name == "manifest.json" {
					es[i].data = append(e.data, bytes.Repeat([]byte(" "), MaxMetadataSize)...)
				}
			}
			return es
		}), errdefs.IsInvalidParameter, "over the limit"},
		{"duplicate entry", modify(func(es []entry) []entry {
			return append(es, entry{hdr: es[layerIdx].hdr, data: es[layerIdx].data})
		}), errdefs.IsInvalidParameter, "twice"},
		{"diff_id mismatch (docker)", modify(func(es []entry) []entry {
			return setManifest(dockerOnly(es), func(items []map[string]any) {
				ls := items[0]["Layers"].([]any)
				ls[0], ls[1] = ls[1], ls[0]
			})
		}), errdefs.IsInvalidParameter, "diff_id"},
		{"garbage index.json", modify(func(es []entry) []entry {
			for i, e := range es {
				if e.hdr.Name == "index.json" {
					es[i].data = []byte(`{"manifests": [{"digest": "sha256:zz"}]}`)
				}
			}
			return es
		}), errdefs.IsInvalidParameter, "digest"},
		{"not an archive", []byte(strings.Repeat("hello", 1000)), errdefs.IsInvalidParameter, ""},
		{"empty", nil, errdefs.IsInvalidParameter, ""},
		{"no metadata", modify(func(es []entry) []entry {
			var out []entry
			for _, e := range es {
				if !metadataFiles[e.hdr.Name] {
					out = append(out, e)
				}
			}
			return out
		}), errdefs.IsInvalidParameter, "neither manifest.json nor index.json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dst := newStore(t, nil)
			before, _ := os.ReadDir(filepath.Dir(outside))
			_, err := Load(ctx, bytes.NewReader(c.archive), dst)
			if err == nil || !c.class(err) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("got %v, want a %q error", err, c.msg)
			}
			t.Logf("refused: %v", err)
			if recs, _ := dst.Records(ctx); len(recs) != 0 {
				t.Errorf("records after a refused load: %+v", recs)
			}
			var blobs int
			_ = dst.Content().Walk(ctx, func(content.Info) error { blobs++; return nil })
			if blobs != 0 {
				t.Errorf("%d blobs left after a refused load", blobs)
			}
			assertConsistent(t, dst)
			after, _ := os.ReadDir(filepath.Dir(outside))
			if len(after) != len(before) {
				t.Errorf("something was written outside the store")
			}
		})
	}
}
