package cpath

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/archive"
)

// The docker CLI's side of cp, as moby/go-archive's CopyInfo and
// PrepareArchiveCopy do it, to check that Stat, Archive and Extract give
// `docker cp` its documented results in both directions.

type copyInfo struct {
	path   string
	exists bool
	isDir  bool
}

var (
	errCannotCopyDir = errors.New("cannot copy directory")
	errDirNotExists  = errors.New("no such directory")
)

// splitDirEntry is go-archive's SplitPathDirEntry.
func splitDirEntry(p string) (string, string) {
	c := filepath.Clean(p)
	if currentDir(p) {
		c += "/."
	}
	return filepath.Dir(c), filepath.Base(c)
}

// prepare is PrepareArchiveCopy: where to extract, and the rename of
// the entries' first element (old == new for none).
func prepare(srcPath string, srcIsDir bool, dst copyInfo) (dir, oldBase, newBase string, err error) {
	dstDir, dstBase := splitDirEntry(dst.path)
	_, srcBase := splitDirEntry(srcPath)
	switch {
	case dst.exists && dst.isDir:
		return dst.path, srcBase, srcBase, nil
	case dst.exists && srcIsDir:
		return "", "", "", errCannotCopyDir
	case dst.exists, srcIsDir:
		return dstDir, srcBase, dstBase, nil
	case assertsDir(dst.path):
		return "", "", "", errDirNotExists
	}
	return dstDir, srcBase, dstBase, nil
}

// rebase is RebaseArchiveEntries.
func rebase(t testing.TB, tb []byte, oldBase, newBase string) []byte {
	t.Helper()
	if oldBase == newBase {
		return tb
	}
	var out bytes.Buffer
	tr, tw := tar.NewReader(bytes.NewReader(tb)), tar.NewWriter(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		h.Format = tar.FormatPAX
		h.Name = strings.Replace(h.Name, oldBase, newBase, 1)
		if h.Typeflag == tar.TypeLink {
			h.Linkname = strings.Replace(h.Linkname, oldBase, newBase, 1)
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	return out.Bytes()
}

// cpIn is `docker cp [-a] HOSTPATH ctr:DST` against root.
func cpIn(t testing.TB, root, src, dst string, opts ExtractOptions) error {
	t.Helper()
	info := copyInfo{path: dst}
	if st, err := Stat(t.Context(), root, dst); err == nil {
		if st.Mode&os.ModeSymlink != 0 {
			info.path = st.LinkTarget
			st, err = Stat(t.Context(), root, info.path)
		}
		if err == nil {
			info.exists, info.isDir = true, st.Mode.IsDir()
		}
	}
	fi, err := os.Lstat(src)
	if err != nil {
		t.Fatal(err)
	}
	// TarResource: the local tar, named as Archive names a container's.
	var local bytes.Buffer
	d, base := splitDirEntry(src)
	hd := d
	if base == "." {
		hd = src
	}
	f, err := os.Open(hd)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := archive.WriteTreeAt(t.Context(), &local, f, base, base); err != nil {
		t.Fatal(err)
	}
	dir, oldBase, newBase, err := prepare(src, fi.IsDir(), info)
	if err != nil {
		return err
	}
	return Extract(t.Context(), root, dir, bytes.NewReader(rebase(t, local.Bytes(), oldBase, newBase)), opts)
}

// cpOut is `docker cp ctr:SRC HOSTPATH`, the local side extracted with
// this package too (the host directory as its root).
func cpOut(t testing.TB, root, src, hostRoot, dst string) error {
	t.Helper()
	rc, st, err := Archive(t.Context(), root, src, ArchiveOptions{})
	if err != nil {
		return err
	}
	tb, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	info := copyInfo{path: dst}
	if fi, err := os.Stat(filepath.Join(hostRoot, dst)); err == nil {
		info.exists, info.isDir = true, fi.IsDir()
	}
	dir, oldBase, newBase, err := prepare(src, st.Mode.IsDir(), info)
	if err != nil {
		return err
	}
	return Extract(t.Context(), hostRoot, dir, bytes.NewReader(rebase(t, tb, oldBase, newBase)), ExtractOptions{NoOverwriteDirNonDir: true})
}

// TestCopyInSemantics: docker's documented cp table, host to container.
func TestCopyInSemantics(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	host := t.TempDir()
	makeTree(t, host, file("src/a", "A"), file("src/sub/b", "B"), file("f", "F"))
	for _, c := range []struct {
		src, dst string
		err      error
		want     []string // files that must then exist in the container
	}{
		{src: "f", dst: "/new", want: []string{"new"}},
		{src: "f", dst: "/nodir/", err: errDirNotExists},
		{src: "f", dst: "/existing", want: []string{"existing"}},
		{src: "f", dst: "/d", want: []string{"d/f"}},
		{src: "f", dst: "/d/", want: []string{"d/f"}},
		{src: "f", dst: "/dlink", want: []string{"d/f"}},
		{src: "src", dst: "/fresh", want: []string{"fresh/a", "fresh/sub/b"}},
		{src: "src/", dst: "/fresh2/", want: []string{"fresh2/a", "fresh2/sub/b"}},
		{src: "src", dst: "/existing", err: errCannotCopyDir},
		{src: "src", dst: "/d", want: []string{"d/src/a", "d/src/sub/b"}},
		{src: "src/", dst: "/d", want: []string{"d/src/a", "d/src/sub/b"}},
		{src: "src/.", dst: "/d", want: []string{"d/a", "d/sub/b"}},
		{src: "src/.", dst: "/dlink/.", want: []string{"d/a", "d/sub/b"}},
	} {
		os.RemoveAll(w.root)
		makeTree(t, w.root, dir("d"), file("existing", "old"), symlink("dlink", "/d"))
		err := cpIn(t, w.root, host+"/"+c.src, c.dst, ExtractOptions{NoOverwriteDirNonDir: true}) // not Join: it drops "/."
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("cp %s ctr:%s: %v, want %v", c.src, c.dst, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("cp %s ctr:%s: %v", c.src, c.dst, err)
			continue
		}
		for _, p := range c.want {
			if !exists(filepath.Join(w.root, p)) {
				t.Errorf("cp %s ctr:%s: no %s", c.src, c.dst, p)
			}
		}
		if c.dst == "/existing" && readFile(t, filepath.Join(w.root, "existing")) != "F" {
			t.Errorf("cp f ctr:/existing did not overwrite")
		}
	}
	w.checkHost(t)
}

// TestCopyOutSemantics: the same table, container to host.
func TestCopyOutSemantics(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	makeTree(t, w.root, file("data/a", "A"), file("data/sub/b", "B"), file("f", "F"))
	for _, c := range []struct {
		src, dst string
		err      error
		want     []string
	}{
		{src: "/f", dst: "/new", want: []string{"new"}},
		{src: "/f", dst: "/nodir/", err: errDirNotExists},
		{src: "/f", dst: "/out", want: []string{"out/f"}},
		{src: "/f", dst: "/existing", want: []string{"existing"}},
		{src: "/data", dst: "/fresh", want: []string{"fresh/a", "fresh/sub/b"}},
		{src: "/data", dst: "/out", want: []string{"out/data/a", "out/data/sub/b"}},
		{src: "/data/", dst: "/out", want: []string{"out/data/a", "out/data/sub/b"}},
		{src: "/data/.", dst: "/out", want: []string{"out/a", "out/sub/b"}},
		{src: "/data", dst: "/existing", err: errCannotCopyDir},
	} {
		host := t.TempDir()
		makeTree(t, host, dir("out"), file("existing", "old"))
		err := cpOut(t, w.root, c.src, host, c.dst)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("cp ctr:%s %s: %v, want %v", c.src, c.dst, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("cp ctr:%s %s: %v", c.src, c.dst, err)
			continue
		}
		for _, p := range c.want {
			if !exists(filepath.Join(host, p)) {
				t.Errorf("cp ctr:%s %s: no %s", c.src, c.dst, p)
			}
		}
	}
	w.checkHost(t)
}

// TestCopyInArchiveMode: -a (copyUIDGID) makes the container's user own
// what is copied; without it the archive's owners (the host file's) stay.
func TestCopyInArchiveMode(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	makeTree(t, w.root, file("etc/passwd", "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n"), dir("plain"), dir("archived"))
	host := t.TempDir()
	makeTree(t, host, file("src/f", "x"))
	for _, p := range []string{"src", "src/f"} {
		if err := os.Lchown(filepath.Join(host, p), 4321, 8765); err != nil {
			t.Fatal(err)
		}
	}
	if err := cpIn(t, w.root, filepath.Join(host, "src"), "/plain", ExtractOptions{NoOverwriteDirNonDir: true}); err != nil {
		t.Fatal(err)
	}
	owner, err := LookupOwner(t.Context(), w.root, "app")
	if err != nil {
		t.Fatal(err)
	}
	if err := cpIn(t, w.root, filepath.Join(host, "src"), "/archived", ExtractOptions{NoOverwriteDirNonDir: true, Owner: &owner}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"src", "src/f"} {
		if st := lstat(t, filepath.Join(w.root, "plain", p)); st.Uid != 4321 || st.Gid != 8765 {
			t.Errorf("plain/%s owned by %d:%d, want the host's 4321:8765", p, st.Uid, st.Gid)
		}
		if st := lstat(t, filepath.Join(w.root, "archived", p)); st.Uid != 1000 || st.Gid != 1001 {
			t.Errorf("archived/%s owned by %d:%d, want app's 1000:1001", p, st.Uid, st.Gid)
		}
	}
}
