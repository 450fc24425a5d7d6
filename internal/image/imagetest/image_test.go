package imagetest

import (
	"archive/tar"
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testenv"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// checkLayerBlobs re-reads every layer and checks digest, size and diff ID
// against the manifest and config; ggcr's validate only knows gzip.
func checkLayerBlobs(t *testing.T, img v1.Image) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range layers {
		digest, _ := l.Digest()
		diffID, _ := l.DiffID()
		size, _ := l.Size()
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		h, n, err := v1.SHA256(rc)
		rc.Close()
		if err != nil || h != digest || n != size {
			t.Errorf("layer %d: blob %v (%d bytes), %v; manifest says %v (%d bytes)", i, h, n, err, digest, size)
		}
		rc, err = l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		h, _, err = v1.SHA256(rc)
		rc.Close()
		if err != nil || h != diffID {
			t.Errorf("layer %d: uncompressed %v, %v; diff ID %v", i, h, err, diffID)
		}
	}
}

func TestBusyboxImageFormats(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		format       Format
		compression  Compression
		manifest     types.MediaType
		config       types.MediaType
		layer        types.MediaType
		fullValidate bool
	}{
		{OCI, Gzip, types.OCIManifestSchema1, types.OCIConfigJSON, types.OCILayer, true},
		{OCI, Zstd, types.OCIManifestSchema1, types.OCIConfigJSON, types.OCILayerZStd, false},
		{OCI, Uncompressed, types.OCIManifestSchema1, types.OCIConfigJSON, types.OCIUncompressedLayer, false},
		{Docker, Gzip, types.DockerManifestSchema2, types.DockerConfigJSON, types.DockerLayer, true},
		{Docker, Uncompressed, types.DockerManifestSchema2, types.DockerConfigJSON, types.DockerUncompressedLayer, false},
	} {
		t.Run(string(tc.format)+"-"+string(tc.compression), func(t *testing.T) {
			t.Parallel()
			img := BusyboxImage(t, WithFormat(tc.format), WithCompression(tc.compression))
			var opts []validate.Option
			if !tc.fullValidate {
				opts = append(opts, validate.Fast)
			}
			if err := validate.Image(img, opts...); err != nil {
				t.Fatalf("validate: %v", err)
			}
			checkLayerBlobs(t, img)
			m, err := img.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			if m.MediaType != tc.manifest || m.Config.MediaType != tc.config {
				t.Errorf("manifest %s config %s, want %s %s", m.MediaType, m.Config.MediaType, tc.manifest, tc.config)
			}
			if len(m.Layers) != 2 {
				t.Fatalf("%d layers, want 2", len(m.Layers))
			}
			for _, l := range m.Layers {
				if l.MediaType != tc.layer {
					t.Errorf("layer media type %s, want %s", l.MediaType, tc.layer)
				}
			}
		})
	}
}

func TestBusyboxImageConfig(t *testing.T) {
	t.Parallel()
	img := BusyboxImage(t, WithLabel("extra", "yes"))
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Config
	if !slices.Equal(c.Cmd, ImageCmd) || !slices.Equal(c.Env, ImageEnv) || c.WorkingDir != ImageWorkingDir {
		t.Errorf("config Cmd %q Env %q WorkingDir %q", c.Cmd, c.Env, c.WorkingDir)
	}
	if c.Labels["extra"] != "yes" || c.Labels["org.berth-project.test"] != "true" {
		t.Errorf("labels %v", c.Labels)
	}
	if _, ok := c.ExposedPorts[ImageExposed]; !ok {
		t.Errorf("exposed ports %v", c.ExposedPorts)
	}
	if cfg.OS != "linux" || cfg.Architecture == "" || !cfg.Created.Equal(Epoch) {
		t.Errorf("os %q arch %q created %v", cfg.OS, cfg.Architecture, cfg.Created)
	}
	layers := 0
	for _, h := range cfg.History {
		if !h.EmptyLayer {
			layers++
		}
	}
	if layers != 2 || len(cfg.History) != 4 || len(cfg.RootFS.DiffIDs) != 2 {
		t.Errorf("history %d entries (%d with layers), %d diff IDs", len(cfg.History), layers, len(cfg.RootFS.DiffIDs))
	}
}

func TestBusyboxImageDeterministic(t *testing.T) {
	t.Parallel()
	for _, c := range []Compression{Gzip, Zstd} {
		a, _ := BusyboxImage(t, WithCompression(c)).Digest()
		b, _ := BusyboxImage(t, WithCompression(c)).Digest()
		if a != b {
			t.Errorf("%s: two builds gave %v and %v", c, a, b)
		}
	}
	a, _ := BusyboxImage(t).Digest()
	b, _ := BusyboxImage(t, WithLabel("x", "y")).Digest()
	if a == b {
		t.Error("a label did not change the digest")
	}
}

func entriesByName(entries []Entry) map[string]Entry {
	m := map[string]Entry{}
	for _, e := range entries {
		m[strings.TrimSuffix(e.Name, "/")] = e
	}
	return m
}

func TestBusyboxImageLayerContents(t *testing.T) {
	t.Parallel()
	img := BusyboxImage(t)
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	base := entriesByName(ReadLayer(t, layers[0]))
	bb, err := os.ReadFile(testenv.BusyboxPath)
	if err != nil {
		t.Fatal(err)
	}
	h := base["bin/busybox"].Header
	if h == nil || h.Size != int64(len(bb)) || h.Mode != 0o755 {
		t.Fatalf("layer 1 bin/busybox: %+v", h)
	}
	if e := base["bin/sh"]; e.Header == nil || e.Typeflag != tar.TypeSymlink || e.Linkname != "busybox" {
		t.Errorf("layer 1 bin/sh: %+v", e.Header)
	}
	if e := base["bin/ls"]; e.Header == nil || e.Linkname != "busybox" {
		t.Errorf("layer 1 has no ls applet symlink")
	}
	if e := base["etc/passwd"]; !bytes.Contains(e.Content, []byte("berth:x:1000:1000:")) {
		t.Errorf("layer 1 etc/passwd: %q", e.Content)
	}

	special := entriesByName(ReadLayer(t, layers[1]))
	for name, check := range map[string]func(Entry) bool{
		"etc/.wh.deleteme":          func(e Entry) bool { return e.Typeflag == tar.TypeReg },
		"var/cache/.wh.gone":        func(e Entry) bool { return e.Typeflag == tar.TypeReg },
		OpaqueDir + "/.wh..wh..opq": func(e Entry) bool { return e.Typeflag == tar.TypeReg },
		HardlinkPath:                func(e Entry) bool { return e.Typeflag == tar.TypeLink && e.Linkname == HardlinkTarget },
		SymlinkPath:                 func(e Entry) bool { return e.Typeflag == tar.TypeSymlink && e.Linkname == "hardlink-target" },
		XattrPath:                   func(e Entry) bool { return e.PAXRecords["SCHILY.xattr."+XattrName] == XattrValue },
		SetuidPath:                  func(e Entry) bool { return e.Mode == 0o4755 },
		SetgidPath:                  func(e Entry) bool { return e.Mode == 0o2755 },
		FifoPath:                    func(e Entry) bool { return e.Typeflag == tar.TypeFifo && e.Mode == 0o600 },
		SpecialDir: func(e Entry) bool {
			return e.Typeflag == tar.TypeDir && e.Mode == 0o750 && e.Uid == SpecialDirUID && e.Gid == SpecialDirGID && e.ModTime.Equal(SpecialDirMtime)
		},
		OwnedPath:    func(e Entry) bool { return e.Uid == testenv.TestUID && e.Mode == 0o640 },
		PlatformPath: func(e Entry) bool { return strings.HasPrefix(string(e.Content), "linux/") },
	} {
		e, ok := special[name]
		if !ok {
			t.Errorf("layer 2 lacks %s", name)
		} else if !check(e) {
			t.Errorf("layer 2 %s is wrong: %+v", name, *e.Header)
		}
	}
	// The opaque marker must precede the entry of its own layer it keeps.
	var order []string
	for _, e := range ReadLayer(t, layers[1]) {
		order = append(order, e.Name)
	}
	if slices.Index(order, OpaqueDir+"/.wh..wh..opq") > slices.Index(order, OpaqueDir+"/new") {
		t.Errorf("opaque marker after %s/new: %v", OpaqueDir, order)
	}
}

func TestBusyboxImageForeignPlatform(t *testing.T) {
	t.Parallel()
	img := BusyboxImage(t, WithPlatform("linux/arm64/v8"))
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Architecture != "arm64" || cfg.Variant != "v8" || cfg.OS != "linux" {
		t.Errorf("platform %s/%s/%s", cfg.OS, cfg.Architecture, cfg.Variant)
	}
	layers, _ := img.Layers()
	base := entriesByName(ReadLayer(t, layers[0]))
	if !bytes.Contains(base["bin/busybox"].Content, []byte("marker")) {
		t.Errorf("foreign bin/busybox is not a marker: %d bytes", len(base["bin/busybox"].Content))
	}
	special := entriesByName(ReadLayer(t, layers[1]))
	if got := string(special[PlatformPath].Content); got != "linux/arm64/v8\n" {
		t.Errorf("%s = %q", PlatformPath, got)
	}
}

func TestOptionsContradictions(t *testing.T) {
	for name, opts := range map[string][]Opt{
		"docker zstd":      {WithFormat(Docker), WithCompression(Zstd)},
		"two sizes":        {WithRandomLayer(1), WithTotalSize(2)},
		"bad platform":     {WithPlatform("amd64")},
		"unknown format":   {WithFormat("v1")},
		"negative":         {WithRandomLayer(-1)},
		"unknown compress": {WithCompression("lz4")},
	} {
		if _, err := makeOptions(opts); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func uncompressedSizes(t *testing.T, img v1.Image) (total, compressed int64) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		total += l.(*blobLayer).uncompressedSize
		s, _ := l.Size()
		compressed += s
	}
	return total, compressed
}

func TestRandomLayer(t *testing.T) {
	t.Parallel()
	img := BusyboxImage(t, WithRandomLayer(3<<20+5))
	layers, _ := img.Layers()
	if len(layers) != 3 {
		t.Fatalf("%d layers, want 3", len(layers))
	}
	var content int64
	for _, e := range ReadLayer(t, layers[2]) {
		if e.Typeflag == tar.TypeReg {
			content += e.Size
		}
	}
	if content != 3<<20+5 {
		t.Errorf("data layer holds %d bytes, want %d", content, 3<<20+5)
	}
	// About half is incompressible.
	l := layers[2].(*blobLayer)
	if r := float64(l.size) / float64(l.uncompressedSize); r < 0.4 || r > 0.7 {
		t.Errorf("data layer compresses to %.2f of its size, want about half", r)
	}
	// Seeds change the data.
	a, _ := layers[2].Digest()
	other, _ := BusyboxImage(t, WithRandomLayer(3<<20+5), WithSeed(7)).Layers()
	if b, _ := other[2].Digest(); a == b {
		t.Error("WithSeed did not change the data layer")
	}
}

// TestTotalSizeBenchmarkImage builds the benchmarks' ~200 MB image, to
// keep its size honest and its build time known.
func TestTotalSizeBenchmarkImage(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds 200 MB")
	}
	t.Parallel()
	const target = 200 << 20
	start := time.Now()
	img := BusyboxImage(t, WithTotalSize(target))
	built := time.Since(start)
	total, compressed := uncompressedSizes(t, img)
	if d := total - target; d < -64<<10 || d > 64<<10 {
		t.Errorf("layers add up to %d bytes, want %d within 64 KiB", total, target)
	}
	t.Logf("%d MB image (%d MB gzipped) built in %v", total>>20, compressed>>20, built.Round(time.Millisecond))
}

func TestTotalSizeSmall(t *testing.T) {
	t.Parallel()
	const target = 20 << 20
	total, _ := uncompressedSizes(t, BusyboxImage(t, WithTotalSize(target), WithCompression(Zstd)))
	if d := total - target; d < -64<<10 || d > 64<<10 {
		t.Errorf("layers add up to %d bytes, want %d within 64 KiB", total, target)
	}
}

func TestMultiArchIndex(t *testing.T) {
	t.Parallel()
	for _, f := range []Format{OCI, Docker} {
		idx := MultiArchIndex(t, WithFormat(f))
		if err := validate.Index(idx); err != nil {
			t.Fatalf("%s: validate: %v", f, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		want := map[Format]types.MediaType{OCI: types.OCIImageIndex, Docker: types.DockerManifestList}[f]
		if mt, _ := idx.MediaType(); mt != want || im.MediaType != want {
			t.Errorf("%s: index media type %s / %s, want %s", f, mt, im.MediaType, want)
		}
		var got []string
		for _, d := range im.Manifests {
			got = append(got, platformString(*d.Platform))
			img, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			cfg, _ := img.ConfigFile()
			if platformString(*cfg.Platform()) != platformString(*d.Platform) {
				t.Errorf("%s: descriptor says %v, config %v", f, d.Platform, cfg.Platform())
			}
		}
		if !slices.Equal(got, MultiArchPlatforms) {
			t.Errorf("%s: platforms %v, want %v", f, got, MultiArchPlatforms)
		}
	}
}
