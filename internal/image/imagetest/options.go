package imagetest

import (
	"errors"
	"fmt"
	"maps"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Format is the manifest flavour of a generated image.
type Format string

const (
	// OCI images use the OCI image-spec media types (manifest, config,
	// layers, and the image index for MultiArchIndex).
	OCI Format = "oci"
	// Docker images use Docker's image manifest v2 schema 2 media types
	// (and the manifest list for MultiArchIndex), as `docker push` sends.
	Docker Format = "docker"
)

// Compression is how a generated image's layers are compressed.
type Compression string

const (
	Gzip Compression = "gzip"
	// Zstd exists only for OCI images: Docker's media types have no zstd.
	Zstd Compression = "zstd"
	// Uncompressed layers are plain tars (digest == diff ID).
	Uncompressed Compression = "none"
)

// Opt configures BusyboxImage and MultiArchIndex.
type Opt func(*options)

type options struct {
	platform    v1.Platform
	platformSet bool
	format      Format
	compression Compression
	dataSize    int64 // bytes of file content in layer 3; 0: no layer 3
	totalSize   int64 // target uncompressed size of all layers; 0: none
	seed        uint64
	labels      map[string]string
	err         error
}

// WithPlatform sets the image's platform, "os/arch[/variant]" such as
// "linux/arm64/v8". The default is linux and the architecture of the host's
// busybox. An image for another architecture keeps the same tree, but its
// /bin/busybox is a text marker, since the kit cannot produce foreign
// binaries and tests never run them.
func WithPlatform(platform string) Opt {
	return func(o *options) {
		p, err := v1.ParsePlatform(platform)
		if err != nil || p.OS == "" || p.Architecture == "" {
			o.err = errors.Join(o.err, fmt.Errorf("WithPlatform(%q): want os/arch[/variant]", platform))
			return
		}
		o.platform, o.platformSet = *p, true
	}
}

// WithFormat chooses OCI (the default) or Docker media types.
func WithFormat(f Format) Opt { return func(o *options) { o.format = f } }

// WithCompression chooses the layers' compression; Gzip is the default.
func WithCompression(c Compression) Opt { return func(o *options) { o.compression = c } }

// WithRandomLayer adds a third layer holding size bytes of file content
// under /data, in files of at most 16 MiB. The content is pseudo-random
// from the seed (WithSeed) and half of it repeats text, so it compresses
// to roughly half, as real layers do; the same options always give the
// same bytes and digests.
func WithRandomLayer(size int64) Opt { return func(o *options) { o.dataSize = size } }

// WithTotalSize adds the third layer of WithRandomLayer, sized so that the
// three uncompressed layer tars add up to about size bytes (within a few
// KiB): WithTotalSize(200<<20) is the benchmarks' ~200 MB image.
func WithTotalSize(size int64) Opt { return func(o *options) { o.totalSize = size } }

// WithSeed changes the content of the random layer, so that two images
// of the same size share no data layer.
func WithSeed(seed uint64) Opt { return func(o *options) { o.seed = seed } }

// WithLabel adds a label to the image config. Images that differ only in a
// label share their layers but have distinct configs and digests: the
// cheapest way to get several different images.
func WithLabel(key, value string) Opt {
	return func(o *options) {
		if o.labels == nil {
			o.labels = map[string]string{}
		}
		o.labels[key] = value
	}
}

// defaultLabels are on every image, so tests of label handling have
// something to find.
var defaultLabels = map[string]string{
	"org.opencontainers.image.title": "berth imagetest busybox",
	"org.berth-project.test":         "true",
}

// makeOptions applies opts over the defaults and rejects contradictions:
// every default and rule of the kit is here.
func makeOptions(opts []Opt) (options, error) {
	o := options{
		format:      OCI,
		compression: Gzip,
		labels:      map[string]string{},
	}
	maps.Copy(o.labels, defaultLabels)
	for _, opt := range opts {
		opt(&o)
	}
	if o.err != nil {
		return o, o.err
	}
	switch o.format {
	case OCI, Docker:
	default:
		return o, fmt.Errorf("unknown format %q", o.format)
	}
	switch o.compression {
	case Gzip, Uncompressed:
	case Zstd:
		if o.format == Docker {
			return o, errors.New("zstd layers need the OCI format: Docker's schema 2 has no zstd media type")
		}
	default:
		return o, fmt.Errorf("unknown compression %q", o.compression)
	}
	if o.dataSize < 0 || o.totalSize < 0 {
		return o, errors.New("negative size")
	}
	if o.dataSize > 0 && o.totalSize > 0 {
		return o, errors.New("WithRandomLayer and WithTotalSize both size the third layer: use one")
	}
	return o, nil
}
