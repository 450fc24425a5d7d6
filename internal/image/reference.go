package image

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/distribution/reference"
	digest "github.com/opencontainers/go-digest"
)

// Ref is what a user typed to name an image, parsed as docker parses it.
// Exactly one of Named and IDPrefix is meaningful, except that a short hex
// string is both: docker first looks it up as a name
// (docker.io/library/3f57:latest) and then as an ID prefix, and so does
// Store.Get.
type Ref struct {
	// Named is the normalized reference ("busybox" is
	// docker.io/library/busybox:latest); nil for a full image ID.
	Named reference.Named
	// IDPrefix is a full or partial hex image ID (without "sha256:"), when
	// the input can be one.
	IDPrefix string
}

var hexPrefix = regexp.MustCompile(`^[a-f0-9]{1,64}$`)

// ParseRef parses anything docker accepts where it wants an image: a name
// with an optional tag and digest (a missing tag is "latest"; name:tag@digest
// keeps both), a full ID ("sha256:<64 hex>" or 64 hex), or a hex prefix of
// an ID. Invalid input is errdefs.ErrInvalidParameter with
// distribution/reference's message.
func ParseRef(s string) (Ref, error) {
	if s == "" {
		return Ref{}, fmt.Errorf("empty image reference: %w", errdefs.ErrInvalidParameter)
	}
	if rest, ok := strings.CutPrefix(s, "sha256:"); ok {
		if !hexPrefix.MatchString(rest) {
			return Ref{}, fmt.Errorf("invalid image ID %q: %w", s, errdefs.ErrInvalidParameter)
		}
		return Ref{IDPrefix: rest}, nil
	}
	if len(s) == 64 && hexPrefix.MatchString(s) {
		// distribution/reference refuses 64-hex names precisely so that
		// they always mean an ID.
		return Ref{IDPrefix: s}, nil
	}
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return Ref{}, fmt.Errorf("invalid reference format %q: %v: %w", s, err, errdefs.ErrInvalidParameter)
	}
	r := Ref{Named: reference.TagNameOnly(named)}
	if hexPrefix.MatchString(s) {
		r.IDPrefix = s
	}
	return r, nil
}

// String is the normalized reference, or "sha256:<prefix>" for an ID.
func (r Ref) String() string {
	if r.Named != nil {
		return r.Named.String()
	}
	return "sha256:" + r.IDPrefix
}

// NormalizeName parses a name an image record may carry: a repository with
// a tag (the tag defaults to latest) or with a digest. A name with both a
// tag and a digest keeps only the digest, as docker pull does; an ID is
// refused.
func NormalizeName(s string) (reference.Named, error) {
	if len(s) == 64 && hexPrefix.MatchString(s) || strings.HasPrefix(s, "sha256:") {
		return nil, fmt.Errorf("invalid reference format %q: an image ID is not a name: %w", s, errdefs.ErrInvalidParameter)
	}
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return nil, fmt.Errorf("invalid reference format %q: %v: %w", s, err, errdefs.ErrInvalidParameter)
	}
	return canonicalName(named)
}

// canonicalName is the one form a record name takes: repo:tag or
// repo@digest.
func canonicalName(named reference.Named) (reference.Named, error) {
	if c, ok := named.(reference.Canonical); ok {
		out, err := reference.WithDigest(reference.TrimNamed(named), c.Digest())
		if err != nil {
			return nil, fmt.Errorf("reference %q: %v: %w", named, err, errdefs.ErrInvalidParameter)
		}
		return out, nil
	}
	return reference.TagNameOnly(named), nil
}

// FamiliarName is the short form docker shows: "busybox:latest" for
// docker.io/library/busybox:latest, "localhost:5000/x:1" unchanged. A name
// that does not parse is returned as it is.
func FamiliarName(name string) string {
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return name
	}
	return reference.FamiliarString(named)
}

// ShortID is the 12-hex form of an ID or digest that docker prints.
func ShortID(d digest.Digest) string {
	h := d.Encoded()
	if h == "" {
		h = string(d)
	}
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}

// isTagged reports whether a record name carries a tag (not a digest).
func isTagged(name string) bool {
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return false
	}
	_, digested := named.(reference.Canonical)
	_, tagged := named.(reference.Tagged)
	return tagged && !digested
}

// NotFoundName is ref as dockerd names an image it did not find: a name
// with its default tag ("nosuch" is "nosuch:latest", and so is a short
// hex string, which docker tries as a name first), a full ID as
// "sha256:<hex>", anything else as given. Scripts match these texts.
func NotFoundName(ref string) string {
	parsed, err := reference.ParseAnyReference(ref)
	if err != nil {
		return ref
	}
	if named, ok := parsed.(reference.Named); ok {
		parsed = reference.TagNameOnly(named)
	}
	return reference.FamiliarString(parsed)
}
