package image

import (
	digest "github.com/opencontainers/go-digest"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestNormalizePlatform(t *testing.T) {
	cases := map[string]string{
		"linux/x86_64":    "linux/amd64",
		"linux/x86-64":    "linux/amd64",
		"linux/amd64/v1":  "linux/amd64",
		"linux/amd64/v3":  "linux/amd64/v3",
		"linux/aarch64":   "linux/arm64/v8",
		"linux/arm64":     "linux/arm64/v8",
		"linux/arm64/8":   "linux/arm64/v8",
		"linux/arm":       "linux/arm/v7",
		"linux/arm/7":     "linux/arm/v7",
		"linux/arm/v6":    "linux/arm/v6",
		"linux/armhf":     "linux/arm/v7",
		"linux/armel":     "linux/arm/v6",
		"linux/i386":      "linux/386",
		"Linux/AMD64":     "linux/amd64",
		"arm64":           "linux/arm64/v8",
		"amd64":           "linux/amd64",
		"windows/amd64":   "windows/amd64",
		"linux/s390x":     "linux/s390x",
		"linux/riscv64":   "linux/riscv64",
		"linux/ppc64le":   "linux/ppc64le",
		"darwin/arm64/v8": "darwin/arm64/v8",
	}
	for in, want := range cases {
		p, err := ParsePlatform(in)
		if err != nil {
			t.Errorf("ParsePlatform(%q): %v", in, err)
			continue
		}
		if p.String() != want {
			t.Errorf("ParsePlatform(%q) = %s, want %s", in, p, want)
		}
	}
	for _, bad := range []string{"linux//amd64", "a/b/c/d", "plan10/amd64", "arm/v5"} {
		if _, err := ParsePlatform(bad); !errdefs.IsInvalidParameter(err) {
			t.Errorf("ParsePlatform(%q): %v, want InvalidParameter", bad, err)
		}
	}
}

func TestSelectManifest(t *testing.T) {
	m := func(d, os, arch, variant string) ocispec.Descriptor {
		return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.Digest("sha256:" + d + strings.Repeat("0", 64-len(d))),
			Platform: &ocispec.Platform{OS: os, Architecture: arch, Variant: variant}}
	}
	attest := m("e", "unknown", "unknown", "")
	index := []ocispec.Descriptor{
		attest,
		m("a", "linux", "amd64", ""),
		m("b", "linux", "arm64", "v8"),
		m("c", "linux", "arm", "v7"),
		m("d", "linux", "arm", "v6"),
		m("f", "linux", "386", ""),
		m("1", "windows", "amd64", ""),
		m("2", "linux", "amd64", "v3"),
	}
	cases := []struct {
		want     string
		index    []ocispec.Descriptor
		expected string // digest prefix, "" for no match
	}{
		{"linux/amd64", index, "a"},
		{"linux/amd64/v3", index, "2"},
		{"linux/amd64/v2", index, "a"},
		{"linux/x86_64", index, "a"},
		{"linux/arm64", index, "b"},
		{"linux/aarch64", index, "b"},
		{"linux/arm64/v8", index[:1], ""},
		{"linux/arm/v7", index, "c"},
		{"linux/arm", index, "c"},
		{"linux/arm/v6", index, "d"},
		{"linux/arm/v5", index, ""},
		{"linux/386", index, "f"},
		{"windows/amd64", index, "1"},
		{"linux/s390x", index, ""},
		// Fallbacks: an arm64 machine runs arm/v7; amd64 runs 386.
		{"linux/arm64", []ocispec.Descriptor{m("c", "linux", "arm", "v7"), m("d", "linux", "arm", "v6")}, "c"},
		{"linux/amd64", []ocispec.Descriptor{m("f", "linux", "386", "")}, "f"},
		// arm64 without variant in the index is arm64/v8.
		{"linux/arm64/v8", []ocispec.Descriptor{m("b", "linux", "arm64", "")}, "b"},
		// amd64/v1 in the index is plain amd64.
		{"linux/amd64", []ocispec.Descriptor{m("a", "linux", "amd64", "v1")}, "a"},
		// An amd64 machine never runs v4 unless it is one.
		{"linux/amd64/v3", []ocispec.Descriptor{m("4", "linux", "amd64", "v4")}, ""},
		// Exact beats fallback whatever the order.
		{"linux/arm/v7", []ocispec.Descriptor{m("d", "linux", "arm", "v6"), m("c", "linux", "arm", "v7")}, "c"},
	}
	for _, c := range cases {
		p, err := ParsePlatform(c.want)
		if err != nil {
			t.Fatal(err)
		}
		got, err := SelectManifest(c.index, p)
		if c.expected == "" {
			if !errdefs.IsNotFound(err) {
				t.Errorf("%s: got %v, %v; want NotFound", c.want, got.Digest, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.want, err)
			continue
		}
		if got.Digest.Encoded()[:1] != c.expected {
			t.Errorf("%s: chose %s, want %s...", c.want, got.Digest, c.expected)
		}
	}
}
