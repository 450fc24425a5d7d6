package distribution

import (
	"cmp"
	_ "crypto/sha256" // digest algorithms go-digest can verify
	_ "crypto/sha512"
	"encoding/json"
	"fmt"
	"mime"
	"strings"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image"
)

// Schema 1 media types, only to refuse them by name (the image package
// does not export them: nothing else should meet them).
const (
	mediaTypeDockerSchema1       = "application/vnd.docker.distribution.manifest.v1+json"
	mediaTypeDockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws"
)

// manifestAccept is the Accept header of manifest requests: the four
// current types, and schema 1 last so that a registry holding only schema 1
// says so and the user gets a clear refusal instead of "not found".
var manifestAccept = strings.Join([]string{
	ocispec.MediaTypeImageIndex,
	image.MediaTypeDockerManifestList,
	ocispec.MediaTypeImageManifest,
	image.MediaTypeDockerManifest,
	mediaTypeDockerSchema1Signed + ";q=0.1",
	mediaTypeDockerSchema1 + ";q=0.1",
}, ", ")

func isIndexType(mt string) bool {
	return mt == ocispec.MediaTypeImageIndex || mt == image.MediaTypeDockerManifestList
}

func isManifestType(mt string) bool {
	return mt == ocispec.MediaTypeImageManifest || mt == image.MediaTypeDockerManifest
}

func isSchema1Type(mt string) bool {
	return mt == mediaTypeDockerSchema1 || mt == mediaTypeDockerSchema1Signed
}

// errSchema1 refuses a schema 1 manifest as docker does since 28.x.
func errSchema1(ref string) error {
	return fmt.Errorf("%s: Docker Image manifest version 2, schema 1 is not supported: the image's author should push it again in the OCI or Docker schema 2 format: %w", ref, errdefs.ErrNotImplemented)
}

// manifestFields are the fields of any manifest or index we look at.
type manifestFields struct {
	SchemaVersion int                  `json:"schemaVersion"`
	MediaType     string               `json:"mediaType"`
	Config        *ocispec.Descriptor  `json:"config"`
	Layers        []ocispec.Descriptor `json:"layers"`
	Manifests     []ocispec.Descriptor `json:"manifests"`
	FSLayers      json.RawMessage      `json:"fsLayers"`
}

// parseManifest decodes a manifest or index, decides its media type and
// checks it. The mediaType field of the body wins over the Content-Type
// header (which only fills in for bodies without one); a body whose shape
// contradicts its type, a schema 1 manifest, or a type that is not a
// container image manifest or index is refused.
func parseManifest(ref string, body []byte, contentType string) (string, *manifestFields, error) {
	var m manifestFields
	if err := json.Unmarshal(body, &m); err != nil {
		return "", nil, fmt.Errorf("%s: manifest is not valid JSON: %w: %w", ref, err, errdefs.ErrInvalidParameter)
	}
	ct, _, _ := mime.ParseMediaType(contentType)
	if m.SchemaVersion == 1 || isSchema1Type(m.MediaType) || isSchema1Type(ct) || len(m.FSLayers) > 0 {
		return "", nil, errSchema1(ref)
	}
	if m.SchemaVersion != 2 {
		return "", nil, fmt.Errorf("%s: manifest schemaVersion %d, want 2: %w", ref, m.SchemaVersion, errdefs.ErrInvalidParameter)
	}
	mt := m.MediaType
	if mt == "" && (isIndexType(ct) || isManifestType(ct)) {
		mt = ct
	}
	if mt == "" {
		// OCI allows the field to be absent: infer from the shape.
		switch {
		case m.Manifests != nil && m.Config == nil:
			mt = ocispec.MediaTypeImageIndex
		case m.Config != nil && m.Manifests == nil:
			mt = ocispec.MediaTypeImageManifest
		}
	}
	switch {
	case isIndexType(mt):
		if m.Config != nil || m.Layers != nil {
			return "", nil, fmt.Errorf("%s: index %s has config or layers: %w", ref, mt, errdefs.ErrInvalidParameter)
		}
		for _, d := range m.Manifests {
			if err := checkDescriptor(d); err != nil {
				return "", nil, fmt.Errorf("%s: index entry: %w", ref, err)
			}
		}
	case isManifestType(mt):
		if m.Config == nil || m.Manifests != nil {
			return "", nil, fmt.Errorf("%s: manifest %s without config or with manifests: %w", ref, mt, errdefs.ErrInvalidParameter)
		}
		if err := checkDescriptor(*m.Config); err != nil {
			return "", nil, fmt.Errorf("%s: config: %w", ref, err)
		}
		if c := m.Config.MediaType; c != ocispec.MediaTypeImageConfig && c != image.MediaTypeDockerConfig {
			return "", nil, fmt.Errorf("%s: not a container image (config media type %q): %w", ref, c, errdefs.ErrNotImplemented)
		}
		// The image store's own check: layers it can unpack, sound
		// descriptors. Refusing here saves downloading what would fail
		// to unpack.
		if _, err := image.ParseManifest(body); err != nil {
			return "", nil, fmt.Errorf("%s: %w", ref, err)
		}
	default:
		return "", nil, fmt.Errorf("%s: unsupported manifest media type %q: %w", ref, cmp.Or(mt, ct), errdefs.ErrNotImplemented)
	}
	return mt, &m, nil
}

// checkDescriptor refuses a descriptor we could not verify the blob of.
func checkDescriptor(d ocispec.Descriptor) error {
	if err := d.Digest.Validate(); err != nil {
		return fmt.Errorf("digest %q: %w: %w", d.Digest, err, errdefs.ErrInvalidParameter)
	}
	if d.Size < 0 {
		return fmt.Errorf("%s: negative size %d: %w", d.Digest, d.Size, errdefs.ErrInvalidParameter)
	}
	return nil
}

// verifyBytes checks that body is exactly what desc names.
func verifyBytes(desc ocispec.Descriptor, body []byte) error {
	if int64(len(body)) != desc.Size {
		return fmt.Errorf("%s: size %d, want %d: %w", desc.Digest, len(body), desc.Size, content.ErrSizeMismatch)
	}
	if got := desc.Digest.Algorithm().FromBytes(body); got != desc.Digest {
		return fmt.Errorf("%s: got %s: %w", desc.Digest, got, content.ErrDigestMismatch)
	}
	return nil
}

// shortID is the 12 hex digits docker shows for a blob.
func shortID(d digest.Digest) string {
	e := d.Encoded()
	if len(e) > 12 {
		return e[:12]
	}
	return e
}

// selectManifest picks the index entry for platform p with the image
// store's own rules, so that the manifest pulled is the one the store
// unpacks and runs.
func selectManifest(entries []ocispec.Descriptor, p image.Platform) (ocispec.Descriptor, error) {
	return image.SelectManifest(entries, p)
}
