package content

import (
	// go-digest only calls an algorithm Available when its hash is linked
	// into the binary; the store must not depend on some other package
	// having imported these.
	_ "crypto/sha256"
	_ "crypto/sha512"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/berth-project/berth/internal/errdefs"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Verification failures: what arrived is not what was declared. Both are
// errdefs.ErrInvalidParameter, so the API reports them as a bad request,
// yet a caller can tell them apart from a malformed argument (a
// distribution client retries a download on them, and not on that).
var (
	ErrDigestMismatch = fmt.Errorf("digest mismatch: %w", errdefs.ErrInvalidParameter)
	ErrSizeMismatch   = fmt.Errorf("size mismatch: %w", errdefs.ErrInvalidParameter)
)

// algorithms are the digest algorithms blobs are kept under. go-digest
// also knows sha384, but no image tool emits it; a descriptor naming it is
// refused rather than given a directory nobody else would read.
var algorithms = []digest.Algorithm{digest.SHA256, digest.SHA512}

const (
	// maxDigestLen bounds a digest string before it is parsed or quoted in
	// an error: "sha512:" and 128 hex digits, with room to spare. A hostile
	// descriptor could otherwise put megabytes into our logs.
	maxDigestLen = 256

	// maxRefLen bounds an ingest ref. Refs are hashed into directory names,
	// so length is no danger to the filesystem; the bound keeps the ref
	// file and error messages small. Refs are digests or image references
	// (at most 255 bytes for a name, plus a tag or digest).
	maxRefLen = 1024

	// maxLabelLen bounds one label, key and value together, as containerd
	// does: labels are metadata, not a place to store data.
	maxLabelLen = 4096
)

// validateDigest accepts a well-formed sha256 or sha512 digest with
// lower-case hex of the right length, and nothing else. Everything that
// turns a digest into a path goes through it.
func validateDigest(d digest.Digest) error {
	if d == "" {
		return fmt.Errorf("content: empty digest: %w", errdefs.ErrInvalidParameter)
	}
	if len(d) > maxDigestLen {
		return fmt.Errorf("content: digest %.32q...: longer than %d bytes: %w", string(d), maxDigestLen, errdefs.ErrInvalidParameter)
	}
	// Validate before Algorithm: Algorithm panics on a string without ':'.
	if err := d.Validate(); err != nil {
		return fmt.Errorf("content: digest %q: %v: %w", string(d), err, errdefs.ErrInvalidParameter)
	}
	if !supported(d.Algorithm()) {
		return fmt.Errorf("content: digest %q: algorithm %s is not sha256 or sha512: %w", string(d), d.Algorithm(), errdefs.ErrInvalidParameter)
	}
	return nil
}

func supported(alg digest.Algorithm) bool {
	for _, a := range algorithms {
		if a == alg {
			return true
		}
	}
	return false
}

// validateRef accepts any ref a caller is likely to mean. "../" is
// harmless since the ref only ever names a directory through its hash; NUL
// and other control characters are refused because the ref is also
// written to a file and shown in messages, where they would mislead.
func validateRef(ref string) error {
	switch {
	case ref == "":
		return fmt.Errorf("content: empty ingest ref: %w", errdefs.ErrInvalidParameter)
	case len(ref) > maxRefLen:
		return fmt.Errorf("content: ingest ref %.32q...: longer than %d bytes: %w", ref, maxRefLen, errdefs.ErrInvalidParameter)
	case !utf8.ValidString(ref):
		return fmt.Errorf("content: ingest ref %q: not UTF-8: %w", ref, errdefs.ErrInvalidParameter)
	case strings.IndexFunc(ref, unicode.IsControl) >= 0:
		return fmt.Errorf("content: ingest ref %q: holds a control character: %w", ref, errdefs.ErrInvalidParameter)
	}
	return nil
}

// validateSize checks a declared size against the store's limit. Zero is
// "unknown", as in the contract.
func validateSize(size, limit int64) error {
	if size < 0 {
		return fmt.Errorf("content: size %d: negative: %w", size, errdefs.ErrInvalidParameter)
	}
	if size > limit {
		return fmt.Errorf("content: size %d: larger than the store's limit of %d bytes: %w", size, limit, errdefs.ErrInvalidParameter)
	}
	return nil
}

// validateDescriptor runs the checks a Writer needs before it touches the
// disk, and reports every failure at once.
func validateDescriptor(desc ocispec.Descriptor, limit int64) error {
	var errs []error
	if err := validateSize(desc.Size, limit); err != nil {
		errs = append(errs, err)
	}
	if desc.Digest != "" {
		if err := validateDigest(desc.Digest); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// validateLabels refuses labels that could not be stored faithfully:
// JSON turns invalid UTF-8 into U+FFFD, so such a label would come back
// changed.
func validateLabels(labels map[string]string) error {
	for k, v := range labels {
		switch {
		case k == "":
			return fmt.Errorf("content: label with an empty key: %w", errdefs.ErrInvalidParameter)
		case len(k)+len(v) > maxLabelLen:
			return fmt.Errorf("content: label %.32q...: key and value longer than %d bytes: %w", k, maxLabelLen, errdefs.ErrInvalidParameter)
		case !utf8.ValidString(k) || !utf8.ValidString(v):
			return fmt.Errorf("content: label %q: not UTF-8: %w", k, errdefs.ErrInvalidParameter)
		}
	}
	return nil
}
