package imagetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// image is the kit's image core: the manifest and config are serialized
// once, here, so their bytes (and the digests) are exactly what the kit
// chose, and partial derives the rest of v1.Image from them.
type image struct {
	manifest  []byte
	config    []byte
	cfgDigest v1.Hash
	cfgType   types.MediaType
	mediaType types.MediaType
	layers    map[v1.Hash]*blobLayer
	ordered   []*blobLayer
}

var _ partial.CompressedImageCore = (*image)(nil)

func (i *image) RawConfigFile() ([]byte, error)      { return i.config, nil }
func (i *image) MediaType() (types.MediaType, error) { return i.mediaType, nil }
func (i *image) RawManifest() ([]byte, error)        { return i.manifest, nil }

func (i *image) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == i.cfgDigest {
		return static.NewLayer(i.config, i.cfgType), nil
	}
	if l, ok := i.layers[h]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("imagetest: no blob %s in this image", h)
}

func newImage(f Format, cfg *v1.ConfigFile, layers []*blobLayer) (v1.Image, error) {
	mt, cfgType := types.OCIManifestSchema1, types.OCIConfigJSON
	if f == Docker {
		mt, cfgType = types.DockerManifestSchema2, types.DockerConfigJSON
	}
	rawCfg, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	cfgDigest, cfgSize, err := v1.SHA256(bytes.NewReader(rawCfg))
	if err != nil {
		return nil, err
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     mt,
		Config:        v1.Descriptor{MediaType: cfgType, Size: cfgSize, Digest: cfgDigest},
	}
	byDigest := map[v1.Hash]*blobLayer{}
	for _, l := range layers {
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: l.mediaType, Size: l.size, Digest: l.digest})
		byDigest[l.digest] = l
	}
	rawManifest, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	core := &image{
		manifest:  rawManifest,
		config:    rawCfg,
		cfgDigest: cfgDigest,
		cfgType:   cfgType,
		mediaType: mt,
		layers:    byDigest,
		ordered:   layers,
	}
	img, err := partial.CompressedToImage(core)
	if err != nil {
		return nil, err
	}
	return &kitImage{Image: img, core: core}, nil
}

// kitImage hands out the kit's own *blobLayer values rather than partial's
// wrappers, so writers can use what the layer knows (its uncompressed size)
// without reading it again.
type kitImage struct {
	v1.Image
	core *image
}

func (i *kitImage) Layers() ([]v1.Layer, error) {
	ls := make([]v1.Layer, len(i.core.ordered))
	for n, l := range i.core.ordered {
		ls[n] = l
	}
	return ls, nil
}

func (i *kitImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	if l, ok := i.core.layers[h]; ok {
		return l, nil
	}
	return i.Image.LayerByDigest(h) // the config blob
}

func (i *kitImage) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	for _, l := range i.core.ordered {
		if l.diffID == h {
			return l, nil
		}
	}
	return i.Image.LayerByDiffID(h)
}

// MultiArchPlatforms are the platforms of MultiArchIndex, in its order.
var MultiArchPlatforms = []string{"linux/amd64", "linux/arm64/v8", "linux/arm/v7"}

// MultiArchIndex returns an index of BusyboxImage for each of
// MultiArchPlatforms: an OCI image index by default, a Docker manifest list
// with WithFormat(Docker). The linux/amd64 image is the real busybox (on an
// amd64 host); the others hold a marker in place of the binary, and each
// image's PlatformPath names its platform. The other options apply to
// every image; WithPlatform is refused.
func MultiArchIndex(t testing.TB, opts ...Opt) v1.ImageIndex {
	t.Helper()
	o, err := makeOptions(opts)
	if err != nil {
		t.Fatalf("imagetest: MultiArchIndex: %v", err)
	}
	if o.platformSet {
		t.Fatalf("imagetest: MultiArchIndex: WithPlatform makes no sense for an index of every platform")
	}
	dir := t.TempDir()
	var idx v1.ImageIndex = empty.Index
	if o.format == Docker {
		idx = mutate.IndexMediaType(idx, types.DockerManifestList)
	}
	for _, ps := range MultiArchPlatforms {
		p, err := v1.ParsePlatform(ps)
		if err != nil {
			t.Fatalf("imagetest: MultiArchIndex: %v", err)
		}
		po := o
		po.platform, po.platformSet = *p, true
		img, err := busyboxImage(dir, po)
		if err != nil {
			t.Fatalf("imagetest: MultiArchIndex %s: %v", ps, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: p},
		})
	}
	return idx
}
