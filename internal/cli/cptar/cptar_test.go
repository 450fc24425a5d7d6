package cptar

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tree makes files under dir: "name" -> content, "name/" a directory,
// "name@" -> target a symlink.
func tree(t *testing.T, dir string, files ...string) {
	t.Helper()
	for i := 0; i+1 < len(files); i += 2 {
		name, content := files[i], files[i+1]
		p := filepath.Join(dir, strings.TrimSuffix(strings.TrimSuffix(name, "/"), "@"))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case strings.HasSuffix(name, "/"):
			err = os.MkdirAll(p, 0o755)
		case strings.HasSuffix(name, "@"):
			err = os.Symlink(content, p)
		default:
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// list returns every path under dir with its content ("/" for a
// directory, "@target" for a symlink).
func list(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "@" + target
		case fi.IsDir():
			out[rel] = "/"
		default:
			b, _ := os.ReadFile(p)
			out[rel] = string(b)
		}
		return nil
	})
	return out
}

// copyLocal copies src to dst as docker cp does, both ends local: the
// archive goes through Tar, Prepare and Extract.
func copyLocal(src, dst string, follow bool) error {
	si, err := SourceInfo(src, follow)
	if err != nil {
		return err
	}
	di, err := DestinationInfo(dst)
	if err != nil {
		return err
	}
	_, base := SplitDirEntry(si.Path)
	from := base
	if si.RebaseName != "" {
		from = si.RebaseName
	}
	rc := Tar(si, from)
	defer rc.Close()
	dir, as, err := Prepare(si, di)
	if err != nil {
		return err
	}
	return Extract(rc, dir, from, as)
}

// TestDockerCopyRules is docker cp's documented table.
func TestDockerCopyRules(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, src, dst string
		follow         bool
		want           map[string]string // under the destination root
		err            error
	}{
		{name: "file to missing", src: "s/file", dst: "d/new", want: map[string]string{"new": "F"}},
		{name: "file over file", src: "s/file", dst: "d/old", want: map[string]string{"old": "F"}},
		{name: "file into dir", src: "s/file", dst: "d/dir", want: map[string]string{"dir": "/", "dir/file": "F", "dir/x": "X"}},
		{name: "file to missing dir", src: "s/file", dst: "d/nodir/", err: ErrDirNotExists},
		{name: "dir to missing", src: "s/tree", dst: "d/new", want: map[string]string{"new": "/", "new/a": "A", "new/sub": "/", "new/sub/b": "B"}},
		{name: "dir into dir", src: "s/tree", dst: "d/dir", want: map[string]string{"dir": "/", "dir/x": "X", "dir/tree": "/", "dir/tree/a": "A", "dir/tree/sub": "/", "dir/tree/sub/b": "B"}},
		{name: "contents into dir", src: "s/tree/.", dst: "d/dir", want: map[string]string{"dir": "/", "dir/x": "X", "dir/a": "A", "dir/sub": "/", "dir/sub/b": "B"}},
		{name: "contents to missing", src: "s/tree/.", dst: "d/new", want: map[string]string{"new": "/", "new/a": "A", "new/sub": "/", "new/sub/b": "B"}},
		{name: "dir over file", src: "s/tree", dst: "d/old", err: ErrCannotCopyDir},
		{name: "symlink as link", src: "s/link", dst: "d/dir", want: map[string]string{"dir": "/", "dir/x": "X", "dir/link": "@file"}},
		{name: "symlink followed", src: "s/link", dst: "d/dir", follow: true, want: map[string]string{"dir": "/", "dir/x": "X", "dir/link": "F"}},
		{name: "through dst symlink", src: "s/file", dst: "d/tolink", want: map[string]string{"tolink": "@dir", "dir": "/", "dir/x": "X", "dir/file": "F"}},
		{name: "missing parent", src: "s/file", dst: "d/none/x"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			top := t.TempDir()
			tree(t, filepath.Join(top, "s"), "file", "F", "tree/a", "A", "tree/sub/b", "B", "link@", "file")
			tree(t, filepath.Join(top, "d"), "old", "O", "dir/x", "X", "tolink@", "dir")
			err := copyLocal(filepath.Join(top, c.src)+suffix(c.src), filepath.Join(top, c.dst)+suffix(c.dst), c.follow)
			if c.err != nil || c.want == nil {
				if c.err != nil && !errors.Is(err, c.err) || c.err == nil && err == nil {
					t.Fatalf("err %v, want %v", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := list(t, filepath.Join(top, "d"))
			for k, v := range c.want {
				if got[k] != v {
					t.Errorf("%s: %q, want %q (all: %v)", k, got[k], v, got)
				}
			}
		})
	}
}

// suffix keeps what filepath.Join drops: a trailing "/" or "/.".
func suffix(p string) string {
	switch {
	case strings.HasSuffix(p, "/."):
		return "/."
	case strings.HasSuffix(p, "/"):
		return "/"
	}
	return ""
}

func tarOf(t *testing.T, hdrs ...*tar.Header) io.Reader {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(h.Linkname))
		}
		body := h.Linkname
		if h.Typeflag == tar.TypeReg {
			h.Linkname = ""
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(body))
		}
	}
	tw.Close()
	return &buf
}

// TestExtractStaysInside: an archive from a daemon is not trusted to
// write outside the destination.
func TestExtractStaysInside(t *testing.T) {
	t.Parallel()
	reg := func(name, content string) *tar.Header {
		return &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Linkname: content}
	}
	cases := []struct {
		name string
		hdrs []*tar.Header
	}{
		{"dot-dot", []*tar.Header{reg("../evil", "x")}},
		{"deep dot-dot", []*tar.Header{reg("a/../../evil", "x")}},
		{"absolute", []*tar.Header{reg("/../evil", "x")}},
		{"through own symlink", []*tar.Header{{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "../outside"}, reg("l/evil", "x")}},
		{"through absolute symlink", []*tar.Header{{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "/tmp"}, reg("l/evil", "x")}},
		{"hard link out", []*tar.Header{{Name: "h", Typeflag: tar.TypeLink, Linkname: "../outside/canary"}}},
		{"over symlink to outside file", []*tar.Header{{Name: "c", Typeflag: tar.TypeSymlink, Linkname: "../outside/canary"}, reg("c/x", "x")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			top := t.TempDir()
			dst := filepath.Join(top, "dst")
			tree(t, top, "dst/", "", "outside/canary", "keep")
			err := Extract(tarOf(t, c.hdrs...), dst, "x", "x")
			if err == nil {
				t.Errorf("extracted without an error")
			}
			if got := list(t, filepath.Join(top, "outside")); len(got) != 1 || got["canary"] != "keep" {
				t.Errorf("outside changed: %v", got)
			}
			if _, err := os.Lstat(filepath.Join(top, "evil")); err == nil {
				t.Errorf("evil written beside the destination")
			}
		})
	}
}

// TestExtractNoOverwriteDirNonDir: a directory is never replaced by a file
// or the reverse; other files are replaced.
func TestExtractNoOverwriteDirNonDir(t *testing.T) {
	t.Parallel()
	top := t.TempDir()
	tree(t, top, "dir/x", "X", "file", "F")
	if err := Extract(tarOf(t, &tar.Header{Name: "dir", Typeflag: tar.TypeReg, Mode: 0o644}), top, "x", "x"); err == nil || !strings.Contains(err.Error(), "cannot overwrite directory") {
		t.Errorf("file over dir: %v", err)
	}
	if err := Extract(tarOf(t, &tar.Header{Name: "file/", Typeflag: tar.TypeDir, Mode: 0o755}), top, "x", "x"); err == nil || !strings.Contains(err.Error(), "cannot overwrite non-directory") {
		t.Errorf("dir over file: %v", err)
	}
	if err := Extract(tarOf(t, &tar.Header{Name: "file", Typeflag: tar.TypeReg, Mode: 0o600, Linkname: "new"}), top, "x", "x"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(top, "file")); string(b) != "new" {
		t.Errorf("file not replaced: %q", b)
	}
	if fi, _ := os.Stat(filepath.Join(top, "file")); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
}

// TestTarNames: the first element takes the name asked for; hard links
// stay links; the bytes of an archive of a directory's contents.
func TestTarNames(t *testing.T) {
	t.Parallel()
	top := t.TempDir()
	tree(t, top, "d/a", "A", "d/s/b", "B")
	if err := os.Link(filepath.Join(top, "d/a"), filepath.Join(top, "d/hl")); err != nil {
		t.Fatal(err)
	}
	names := func(as string, src string) []string {
		si, err := SourceInfo(src, false)
		if err != nil {
			t.Fatal(err)
		}
		rc := Tar(si, as)
		defer rc.Close()
		var out []string
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				return out
			}
			if err != nil {
				t.Fatal(err)
			}
			n := h.Name
			if h.Typeflag == tar.TypeLink {
				n += "=>" + h.Linkname
			}
			out = append(out, n)
		}
	}
	if got := strings.Join(names("new", filepath.Join(top, "d")), " "); got != "new/ new/a new/hl=>new/a new/s/ new/s/b" {
		t.Errorf("renamed: %s", got)
	}
	if got := strings.Join(names(".", filepath.Join(top, "d")+"/."), " "); got != "./ a hl=>a s/ s/b" {
		t.Errorf("contents: %s", got)
	}
	if got := strings.Join(names("x", filepath.Join(top, "d/a")), " "); got != "x" {
		t.Errorf("file: %s", got)
	}
	if _, err := SourceInfo(filepath.Join(top, "none"), false); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "lstat ") {
		t.Errorf("missing source: %v", err)
	}
}
