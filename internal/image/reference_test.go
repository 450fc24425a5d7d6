package image

import (
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
)

// The cases follow distribution/reference's documentation and what the
// docker CLI prints for them.
func TestParseRef(t *testing.T) {
	const d = "sha256:e9ad2b4aa3b1e8e43e4e4d9cd1b25fa0a5e42e4d4b3c0d5a6c8c3b2c9d4e5f60"
	cases := []struct {
		in       string
		named    string
		idPrefix string
		familiar string
		bad      bool
	}{
		{in: "busybox", named: "docker.io/library/busybox:latest", familiar: "busybox:latest"},
		{in: "busybox:1.36", named: "docker.io/library/busybox:1.36", familiar: "busybox:1.36"},
		{in: "library/busybox", named: "docker.io/library/busybox:latest", familiar: "busybox:latest"},
		{in: "docker.io/busybox", named: "docker.io/library/busybox:latest", familiar: "busybox:latest"},
		{in: "index.docker.io/library/busybox", named: "docker.io/library/busybox:latest", familiar: "busybox:latest"},
		{in: "user/app", named: "docker.io/user/app:latest", familiar: "user/app:latest"},
		{in: "localhost:5000/x", named: "localhost:5000/x:latest", familiar: "localhost:5000/x:latest"},
		{in: "localhost/x:1", named: "localhost/x:1", familiar: "localhost/x:1"},
		{in: "ghcr.io/a/b/c:v1", named: "ghcr.io/a/b/c:v1", familiar: "ghcr.io/a/b/c:v1"},
		{in: "[::1]:5000/x:2", named: "[::1]:5000/x:2", familiar: "[::1]:5000/x:2"},
		{in: "busybox@" + d, named: "docker.io/library/busybox@" + d, familiar: "busybox@" + d},
		{in: "busybox:1@" + d, named: "docker.io/library/busybox:1@" + d, familiar: "busybox:1@" + d},
		{in: "3f57", named: "docker.io/library/3f57:latest", idPrefix: "3f57", familiar: "3f57:latest"},
		{in: "sha256:3f57", idPrefix: "3f57"},
		{in: d, idPrefix: d[7:]},
		{in: d[7:], idPrefix: d[7:]},
		{in: "", bad: true},
		{in: "Busybox", bad: true},
		{in: "busybox:", bad: true},
		{in: "busybox:tag:tag", bad: true},
		{in: "-busybox", bad: true},
		{in: "busybox@sha256:abc", bad: true},
		{in: "sha256:XYZ", bad: true},
		{in: "a/" + d[7:], named: "docker.io/a/" + d[7:] + ":latest", familiar: "a/" + d[7:] + ":latest"},
	}
	for _, c := range cases {
		r, err := ParseRef(c.in)
		if c.bad {
			if !errdefs.IsInvalidParameter(err) {
				t.Errorf("ParseRef(%q): got %v, want InvalidParameter", c.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseRef(%q): %v", c.in, err)
			continue
		}
		got := ""
		if r.Named != nil {
			got = r.Named.String()
		}
		if got != c.named || r.IDPrefix != c.idPrefix {
			t.Errorf("ParseRef(%q) = {%q %q}, want {%q %q}", c.in, got, r.IDPrefix, c.named, c.idPrefix)
		}
		if c.familiar != "" && FamiliarName(got) != c.familiar {
			t.Errorf("FamiliarName(%q) = %q, want %q", got, FamiliarName(got), c.familiar)
		}
	}
}

func TestNormalizeName(t *testing.T) {
	const d = "sha256:e9ad2b4aa3b1e8e43e4e4d9cd1b25fa0a5e42e4d4b3c0d5a6c8c3b2c9d4e5f60"
	cases := map[string]string{
		"busybox":               "docker.io/library/busybox:latest",
		"busybox:1@" + d:        "docker.io/library/busybox@" + d,
		"localhost:5000/x":      "localhost:5000/x:latest",
		"localhost:5000/x@" + d: "localhost:5000/x@" + d,
	}
	for in, want := range cases {
		n, err := NormalizeName(in)
		if err != nil || n.String() != want {
			t.Errorf("NormalizeName(%q) = %v, %v; want %s", in, n, err, want)
		}
	}
	for _, bad := range []string{d, d[7:], "UPPER"} {
		if _, err := NormalizeName(bad); !errdefs.IsInvalidParameter(err) {
			t.Errorf("NormalizeName(%q): %v, want InvalidParameter", bad, err)
		}
	}
}

// TestNotFoundName: dockerd's "No such image: x" names, which scripts
// match.
func TestNotFoundName(t *testing.T) {
	const hex = "e9ad2b4aa3b1e8e43e4e4d9cd1b25fa0a5e42e4d4b3c0d5a6c8c3b2c9d4e5f60"
	for in, want := range map[string]string{
		"nosuch":                         "nosuch:latest",
		"nosuch:1":                       "nosuch:1",
		"abcdef123456":                   "abcdef123456:latest",
		"sha256:1234":                    "sha256:1234",
		hex:                              "sha256:" + hex,
		"sha256:" + hex:                  "sha256:" + hex,
		"docker.io/library/busybox":      "busybox:latest",
		"localhost:5000/x@sha256:" + hex: "localhost:5000/x@sha256:" + hex,
		"UPPER":                          "UPPER",
	} {
		if got := NotFoundName(in); got != want {
			t.Errorf("NotFoundName(%q) = %q, want %q", in, got, want)
		}
	}
}
