package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/errdefs"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Docker's media types, which image-spec does not define. Docker schema2
// manifests and lists are JSON-compatible with OCI manifests and indexes,
// so both parse into the image-spec structs.
const (
	MediaTypeDockerManifest      = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList  = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerConfig        = "application/vnd.docker.container.image.v1+json"
	MediaTypeDockerLayer         = "application/vnd.docker.image.rootfs.diff.tar"
	MediaTypeDockerLayerGzip     = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	MediaTypeDockerLayerZstd     = "application/vnd.docker.image.rootfs.diff.tar.zstd"
	MediaTypeDockerForeignLayer  = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
	mediaTypeDockerSchema1       = "application/vnd.docker.distribution.manifest.v1+json"
	mediaTypeDockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws"
	// image-spec deprecates non-distributable layers, but images that
	// carry them still exist and still unpack.
	mediaTypeOCINonDistributable = "application/vnd.oci.image.layer.nondistributable.v1.tar"
)

// Limits on the JSON documents we read. Registries cap manifests at 4 MiB;
// a config carries the history of every layer, so it gets more room. A
// larger document is hostile (or broken) and is refused before it is read.
const (
	MaxManifestSize = 4 << 20
	MaxConfigSize   = 16 << 20
)

func isManifestType(mt string) bool {
	return mt == ocispec.MediaTypeImageManifest || mt == MediaTypeDockerManifest
}

func isIndexType(mt string) bool {
	return mt == ocispec.MediaTypeImageIndex || mt == MediaTypeDockerManifestList
}

// Compression is how a layer blob is compressed.
type Compression int

const (
	Uncompressed Compression = iota
	Gzip
	Zstd
)

// layerCompression returns the compression a layer media type declares,
// and false when the media type is not a layer we can unpack.
func layerCompression(mt string) (Compression, bool) {
	switch mt {
	case ocispec.MediaTypeImageLayer, mediaTypeOCINonDistributable, MediaTypeDockerLayer:
		return Uncompressed, true
	case ocispec.MediaTypeImageLayerGzip, mediaTypeOCINonDistributable + "+gzip", MediaTypeDockerLayerGzip, MediaTypeDockerForeignLayer:
		return Gzip, true
	case ocispec.MediaTypeImageLayerZstd, mediaTypeOCINonDistributable + "+zstd", MediaTypeDockerLayerZstd:
		return Zstd, true
	}
	return 0, false
}

// readBlob reads a whole blob of at most limit bytes, verifying its digest
// (the content store verifies on ingest, but a blob read for parsing is
// checked again: parsing trusts it).
func readBlob(ctx context.Context, p content.Provider, desc ocispec.Descriptor, limit int64) ([]byte, error) {
	if err := desc.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("descriptor digest %q: %v: %w", desc.Digest, err, errdefs.ErrInvalidParameter)
	}
	if desc.Size > limit {
		return nil, fmt.Errorf("blob %s: %d bytes is over the limit of %d: %w", desc.Digest, desc.Size, limit, errdefs.ErrInvalidParameter)
	}
	ra, err := p.ReaderAt(ctx, desc)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	defer ra.Close()
	size := ra.Size()
	if size > limit {
		return nil, fmt.Errorf("blob %s: %d bytes is over the limit of %d: %w", desc.Digest, size, limit, errdefs.ErrInvalidParameter)
	}
	if desc.Size > 0 && size != desc.Size {
		return nil, fmt.Errorf("blob %s: size %d, descriptor says %d: %w", desc.Digest, size, desc.Size, errdefs.ErrInvalidParameter)
	}
	b := make([]byte, size)
	if _, err := ra.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	if got := desc.Digest.Algorithm().FromBytes(b); got != desc.Digest {
		return nil, fmt.Errorf("blob %s: content has digest %s: %w", desc.Digest, got, errdefs.ErrInvalidParameter)
	}
	return b, nil
}

// ParseManifest parses an OCI image manifest or a Docker schema2 manifest
// and validates what the store relies on: a config descriptor, layers of a
// media type we can unpack, and well-formed digests.
func ParseManifest(b []byte) (ocispec.Manifest, error) {
	var m ocispec.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("manifest: %v: %w", err, errdefs.ErrInvalidParameter)
	}
	if m.MediaType != "" && !isManifestType(m.MediaType) {
		return m, fmt.Errorf("manifest: media type %q is not an image manifest: %w", m.MediaType, errdefs.ErrInvalidParameter)
	}
	if err := checkDescriptor("config", m.Config); err != nil {
		return m, err
	}
	for i, l := range m.Layers {
		if err := checkDescriptor(fmt.Sprintf("layer %d", i), l); err != nil {
			return m, err
		}
		if _, ok := layerCompression(l.MediaType); !ok {
			return m, fmt.Errorf("manifest: layer %d has media type %q, not a layer Berth can unpack: %w", i, l.MediaType, errdefs.ErrNotImplemented)
		}
	}
	return m, nil
}

// ParseIndex parses an OCI image index or a Docker manifest list.
func ParseIndex(b []byte) (ocispec.Index, error) {
	var idx ocispec.Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return idx, fmt.Errorf("index: %v: %w", err, errdefs.ErrInvalidParameter)
	}
	if idx.MediaType != "" && !isIndexType(idx.MediaType) {
		return idx, fmt.Errorf("index: media type %q is not an index: %w", idx.MediaType, errdefs.ErrInvalidParameter)
	}
	for i, m := range idx.Manifests {
		if err := checkDescriptor(fmt.Sprintf("index entry %d", i), m); err != nil {
			return idx, err
		}
	}
	return idx, nil
}

// ParseConfig parses an image config (docker's superset of the OCI one,
// so Healthcheck, OnBuild and Shell survive) and checks that its root
// filesystem is a list of layers.
func ParseConfig(b []byte) (dockerspec.DockerOCIImage, error) {
	var c dockerspec.DockerOCIImage
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("image config: %v: %w", err, errdefs.ErrInvalidParameter)
	}
	if c.RootFS.Type != "layers" {
		return c, fmt.Errorf("image config: rootfs type %q, want \"layers\": %w", c.RootFS.Type, errdefs.ErrInvalidParameter)
	}
	for i, d := range c.RootFS.DiffIDs {
		if err := d.Validate(); err != nil {
			return c, fmt.Errorf("image config: diff_id %d %q: %v: %w", i, d, err, errdefs.ErrInvalidParameter)
		}
	}
	return c, nil
}

func checkDescriptor(what string, d ocispec.Descriptor) error {
	if err := d.Digest.Validate(); err != nil {
		return fmt.Errorf("%s: digest %q: %v: %w", what, d.Digest, err, errdefs.ErrInvalidParameter)
	}
	if d.Size < 0 {
		return fmt.Errorf("%s: negative size %d: %w", what, d.Size, errdefs.ErrInvalidParameter)
	}
	return nil
}

// sniffMediaType tells a manifest from an index when a descriptor lacks a
// media type (an OCI layout's index.json entry may): by the document's own
// mediaType field, else by its shape.
func sniffMediaType(b []byte) (string, error) {
	var probe struct {
		SchemaVersion int               `json:"schemaVersion"`
		MediaType     string            `json:"mediaType"`
		Config        json.RawMessage   `json:"config"`
		Layers        json.RawMessage   `json:"layers"`
		Manifests     json.RawMessage   `json:"manifests"`
		FSLayers      []json.RawMessage `json:"fsLayers"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return "", fmt.Errorf("manifest: %v: %w", err, errdefs.ErrInvalidParameter)
	}
	switch {
	case probe.MediaType != "":
		return probe.MediaType, nil
	case probe.SchemaVersion == 1 || probe.FSLayers != nil:
		return mediaTypeDockerSchema1, nil
	case probe.Manifests != nil:
		return ocispec.MediaTypeImageIndex, nil
	case probe.Config != nil:
		return ocispec.MediaTypeImageManifest, nil
	}
	return "", fmt.Errorf("manifest: neither a manifest nor an index: %w", errdefs.ErrInvalidParameter)
}

// Resolved is an image's manifest and config for one platform: what a
// record's target comes down to.
type Resolved struct {
	// Target is the record's target (a manifest or an index).
	Target   ocispec.Descriptor
	Index    *ocispec.Index // nil unless Target is an index
	Manifest ocispec.Descriptor
	// ManifestBody is the parsed manifest.
	ManifestBody ocispec.Manifest
	Config       dockerspec.DockerOCIImage
	// ConfigBytes are the config's bytes exactly as stored.
	ConfigBytes []byte
}

// ID is the image's ID: its config's digest.
func (r *Resolved) ID() digest.Digest { return r.ManifestBody.Config.Digest }

// DiffIDs are the uncompressed digests of the layers, from the config.
func (r *Resolved) DiffIDs() []digest.Digest { return r.Config.RootFS.DiffIDs }

// resolve reads target and, for an index, the manifest for platform p,
// then the manifest and its config, checking that the config names as many
// diff_ids as the manifest has layers.
func resolve(ctx context.Context, p content.Provider, target ocispec.Descriptor, plat Platform) (*Resolved, error) {
	r := &Resolved{Target: target}
	mdesc := target
	mt := target.MediaType
	var body []byte
	if mt == "" || isIndexType(mt) || isManifestType(mt) {
		b, err := readBlob(ctx, p, target, MaxManifestSize)
		if err != nil {
			return nil, err
		}
		if mt == "" {
			if mt, err = sniffMediaType(b); err != nil {
				return nil, err
			}
		}
		body = b
	}
	switch {
	case isIndexType(mt):
		idx, err := ParseIndex(body)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", target.Digest, err)
		}
		r.Index = &idx
		m, err := SelectManifest(idx.Manifests, plat)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", target.Digest, err)
		}
		mdesc = m
		if body, err = readBlob(ctx, p, m, MaxManifestSize); err != nil {
			return nil, err
		}
	case isManifestType(mt):
	case mt == mediaTypeDockerSchema1 || mt == mediaTypeDockerSchema1Signed:
		return nil, fmt.Errorf("%s: Docker image manifest schema 1 is not supported; push the image again with a current client: %w", target.Digest, errdefs.ErrNotImplemented)
	default:
		return nil, fmt.Errorf("%s: media type %q is neither a manifest nor an index: %w", target.Digest, mt, errdefs.ErrInvalidParameter)
	}
	m, err := ParseManifest(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", mdesc.Digest, err)
	}
	if mdesc.MediaType == "" {
		mdesc.MediaType = ocispec.MediaTypeImageManifest
	}
	r.Manifest, r.ManifestBody = mdesc, m
	cb, err := readBlob(ctx, p, m.Config, MaxConfigSize)
	if err != nil {
		return nil, fmt.Errorf("config of %s: %w", mdesc.Digest, err)
	}
	c, err := ParseConfig(cb)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.Config.Digest, err)
	}
	if len(c.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("%s: manifest has %d layers, config has %d diff_ids: %w",
			mdesc.Digest, len(m.Layers), len(c.RootFS.DiffIDs), errdefs.ErrInvalidParameter)
	}
	r.Config, r.ConfigBytes = c, cb
	return r, nil
}
