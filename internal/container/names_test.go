package container

import (
	"regexp"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
)

func TestNormalizeName(t *testing.T) {
	t.Parallel()
	for _, good := range []string{"web", "/web", "a1", "my_app.v2-x", "0abc"} {
		if n, err := NormalizeName(good); err != nil || n[0] != '/' {
			t.Errorf("%q: %q, %v", good, n, err)
		}
	}
	for _, bad := range []string{"", "a", "/", "-web", "_x", "web/app", "we b", "é-name", "//web", "a\x00b"} {
		if _, err := NormalizeName(bad); !errdefs.IsInvalidParameter(err) {
			t.Errorf("%q: %v, want InvalidParameter", bad, err)
		}
	}
}

func TestRandomNames(t *testing.T) {
	t.Parallel()
	shape := regexp.MustCompile(`^[a-z]+_[a-z]+[0-9]?$`)
	for i := range 200 {
		n := RandomName(i % 2)
		if !shape.MatchString(n) {
			t.Fatalf("random name %q", n)
		}
		if _, err := NormalizeName(n); err != nil {
			t.Fatalf("random name %q is not a valid name: %v", n, err)
		}
	}
	seen := map[string]bool{}
	for _, w := range append(append([]string(nil), adjectives...), scientists...) {
		if seen[w] {
			t.Errorf("word %q listed twice", w)
		}
		seen[w] = true
	}
}

func TestNewID(t *testing.T) {
	t.Parallel()
	for range 100 {
		id := NewID()
		if !isID(id) {
			t.Fatalf("id %q", id)
		}
		if regexp.MustCompile(`^[0-9]+$`).MatchString(ShortID(id)) {
			t.Fatalf("all-digit short id %q", id)
		}
	}
}
