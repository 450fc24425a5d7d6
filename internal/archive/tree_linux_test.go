package archive_test

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/berth-project/berth/internal/archive"
	"github.com/berth-project/berth/internal/errdefs"
)

func TestWriteTreeAt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, f := range []string{"d/a", "d/sub/b"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/etc", filepath.Join(dir, "d/link")); err != nil {
		t.Fatal(err)
	}
	top, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer top.Close()
	d, err := os.Open(filepath.Join(dir, "d"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, c := range []struct {
		dir      *os.File
		name, as string
		want     []string
	}{
		{top, "d", "d", []string{"d/", "d/a", "d/link", "d/sub/", "d/sub/b"}},
		{top, "d", "other", []string{"other/", "other/a", "other/link", "other/sub/", "other/sub/b"}},
		{d, ".", ".", []string{"./", "./a", "./link", "./sub/", "./sub/b"}},
		{d, ".", "/", []string{"/", "/a", "/link", "/sub/", "/sub/b"}},
		{d, "a", "renamed", []string{"renamed"}},
		{d, "link", "link", []string{"link"}},
	} {
		var buf bytes.Buffer
		if err := archive.WriteTreeAt(t.Context(), &buf, c.dir, c.name, c.as); err != nil {
			t.Fatalf("WriteTreeAt(%s as %s): %v", c.name, c.as, err)
		}
		var got []string
		tr := tar.NewReader(&buf)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, h.Name)
			if h.Name == "link" && (h.Typeflag != tar.TypeSymlink || h.Linkname != "/etc") {
				t.Errorf("the symlink was followed: %+v", h)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("WriteTreeAt(%s as %s) = %v, want %v", c.name, c.as, got, c.want)
		}
	}
	if err := archive.WriteTreeAt(t.Context(), io.Discard, d, "a", ""); !errdefs.IsInvalidParameter(err) {
		t.Errorf("empty name: %v", err)
	}
	if err := archive.WriteTreeAt(t.Context(), io.Discard, d, "missing", "x"); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
}
