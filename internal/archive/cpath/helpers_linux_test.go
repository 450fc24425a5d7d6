package cpath

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/testenv"
)

// node is one thing a test puts in a tree.
type node struct {
	path    string
	kind    byte // 'f' file, 'd' dir, 'l' symlink
	content string
	mode    os.FileMode
}

func file(p, content string) node               { return node{path: p, kind: 'f', content: content, mode: 0o644} }
func dir(p string) node                         { return node{path: p, kind: 'd', mode: 0o755} }
func symlink(p, target string) node             { return node{path: p, kind: 'l', content: target} }
func fileWithMode(p string, m os.FileMode) node { return node{path: p, kind: 'f', content: p, mode: m} }

// makeTree writes nodes under dir (parents made as needed).
func makeTree(t testing.TB, base string, nodes ...node) {
	t.Helper()
	for _, n := range nodes {
		p := filepath.Join(base, n.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		switch n.kind {
		case 'f':
			if err := os.WriteFile(p, []byte(n.content), n.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, n.mode); err != nil {
				t.Fatal(err)
			}
		case 'd':
			if err := os.MkdirAll(p, n.mode); err != nil {
				t.Fatal(err)
			}
		case 'l':
			if err := os.Symlink(n.content, p); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// world is a container root beside a "host" directory that holds a
// canary: the tests check the canary is never read (its secret never
// appears in an archive) nor written, and nothing new appears beside it.
type world struct {
	root   string // the container's "/"
	host   string // a directory outside root
	secret string // the canary's content
	canary string // its path
}

func newWorld(t testing.TB) *world {
	t.Helper()
	testenv.RequireRoot(t)
	base := t.TempDir()
	w := &world{root: filepath.Join(base, "root"), host: filepath.Join(base, "host")}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	w.secret = "HOST-SECRET-" + hex.EncodeToString(b)
	w.canary = filepath.Join(w.host, "shadow")
	makeTree(t, w.root,
		dir("etc"), file("etc/shadow", "container-shadow\n"), file("etc/passwd", "root:x:0:0::/root:/bin/sh\n"))
	makeTree(t, w.host, file("shadow", w.secret))
	return w
}

// checkHost fails t if the host directory changed: anything but the
// canary in it, or the canary's content changed.
func (w *world) checkHost(t testing.TB) {
	t.Helper()
	ents, err := os.ReadDir(w.host)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "shadow" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("host directory %s changed: %v", w.host, names)
	}
	b, err := os.ReadFile(w.canary)
	if err != nil || string(b) != w.secret {
		t.Errorf("host canary changed: %q, %v", b, err)
	}
}

// entry is what a test sees of a tar entry.
type entry struct {
	name     string
	typ      byte
	linkname string
	mode     int64
	uid, gid int
	content  string
}

func readTar(t testing.TB, r io.Reader) []entry {
	t.Helper()
	var out []entry
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("reading tar: %v", err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, entry{name: h.Name, typ: h.Typeflag, linkname: h.Linkname, mode: h.Mode, uid: h.Uid, gid: h.Gid, content: string(b)})
	}
}

func names(es []entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.name
	}
	return out
}

// mustArchive archives p of root and reads the whole tar.
func mustArchive(t testing.TB, root, p string, opts ArchiveOptions) ([]entry, PathStat) {
	t.Helper()
	rc, st, err := Archive(t.Context(), root, p, opts)
	if err != nil {
		t.Fatalf("Archive(%q): %v", p, err)
	}
	defer rc.Close()
	return readTar(t, rc), st
}

// tarOf builds a tar of hdrs, each regular file holding its name.
func tarOf(t testing.TB, hdrs ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		var content []byte
		if h.Typeflag == tar.TypeReg {
			content = []byte("content of " + h.Name)
			h.Size = int64(len(content))
		}
		if h.Mode == 0 && h.Typeflag != tar.TypeXGlobalHeader {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(content); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func reg(name string) *tar.Header  { return &tar.Header{Typeflag: tar.TypeReg, Name: name} }
func dirh(name string) *tar.Header { return &tar.Header{Typeflag: tar.TypeDir, Name: name} }
func linkh(name, target string) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target}
}
func hardh(name, target string) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target}
}

func readFile(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func lstat(t testing.TB, p string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
