package cpath

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/archive"
	"github.com/berth-project/berth/internal/errdefs"
)

func extract(t testing.TB, root, dst string, tb []byte, opts ExtractOptions) error {
	t.Helper()
	return Extract(t.Context(), root, dst, bytes.NewReader(tb), opts)
}

// TestExtractPoint: the extraction point is resolved inside root, every
// symlink followed, and must be an existing directory.
func TestExtractPoint(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	makeTree(t, w.root, dir("app/data"), file("app/file", "f"),
		symlink("applink", "/app"), symlink("rellink", "../../../app/data"), symlink("hostlink", w.host),
		symlink("dangling", "/nowhere"))
	tb := tarOf(t, reg("new"))
	for _, c := range []struct {
		dst, want string
	}{
		{"/app", "app/new"},
		{"app", "app/new"},
		{"/app/", "app/new"},
		{"/app/.", "app/new"},
		{"/app/data/..", "app/new"},
		{"/applink", "app/new"},
		{"/applink/data", "app/data/new"},
		{"/rellink", "app/data/new"},
		{"/", "new"},
		{"/../../..", "new"},
	} {
		if err := extract(t, w.root, c.dst, tb, ExtractOptions{}); err != nil {
			t.Errorf("Extract(%q): %v", c.dst, err)
			continue
		}
		p := filepath.Join(w.root, c.want)
		if got := readFile(t, p); got != "content of new" {
			t.Errorf("Extract(%q): %s holds %q", c.dst, c.want, got)
		}
		os.Remove(p)
	}
	for _, c := range []struct {
		dst   string
		class func(error) bool
		text  string
	}{
		{"/missing", errdefs.IsNotFound, ""},
		{"/dangling", errdefs.IsNotFound, ""},
		{"/hostlink", errdefs.IsNotFound, ""}, // the root has no such path
		{"/app/file", errdefs.IsInvalidParameter, "extraction point is not a directory"},
		{"/app/file/", errdefs.IsInvalidParameter, "extraction point is not a directory"},
		{"", errdefs.IsInvalidParameter, "bad parameter: path cannot be empty"},
	} {
		err := extract(t, w.root, c.dst, tb, ExtractOptions{})
		if err == nil || !c.class(err) || (c.text != "" && err.Error() != c.text) {
			t.Errorf("Extract(%q): %v, want class %s %q", c.dst, err, "", c.text)
		}
	}
	// CheckWritable sees the resolved point and can refuse.
	var seen string
	refuse := errdefs.Errorf(errdefs.ErrInvalidParameter, "mounted volume is marked read-only")
	err := extract(t, w.root, "/applink/data", tb, ExtractOptions{CheckWritable: func(p string) error { seen = p; return refuse }})
	if !errors.Is(err, refuse) || seen != "/app/data" || exists(filepath.Join(w.root, "app/data/new")) {
		t.Errorf("CheckWritable: saw %q, error %v", seen, err)
	}
	w.checkHost(t)
}

// TestExtractHostile: the archives issue 6 names, and the rest of the
// breakout family, into a container whose extraction point is /app.
func TestExtractHostile(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		tar   []*tar.Header
		class func(error) bool // nil: succeeds
		check func(t *testing.T, w *world)
	}{
		{name: "dotdot", tar: []*tar.Header{reg("../evil")}, class: isBreakout},
		{name: "dotdot deep", tar: []*tar.Header{reg("a/../../evil")}, class: isBreakout},
		{name: "dotdot inside", tar: []*tar.Header{reg("a/../fine")}, check: has("app/fine")},
		{name: "absolute name", tar: []*tar.Header{reg("/etc/shadow")}, check: func(t *testing.T, w *world) {
			has("app/etc/shadow")(t, w)
			if got := readFile(t, filepath.Join(w.root, "etc/shadow")); got != "container-shadow\n" {
				t.Errorf("the container's /etc/shadow was written: %q", got)
			}
		}},
		{name: "symlink then file through it", tar: []*tar.Header{linkh("l", "/etc"), reg("l/shadow")}, class: isBreakout},
		{name: "relative symlink then file", tar: []*tar.Header{linkh("l", "sub"), dirh("sub"), reg("l/x")}, class: isBreakout},
		{name: "symlink climbing out", tar: []*tar.Header{linkh("l", "../etc")}, class: isBreakout},
		{name: "symlink to a host path", tar: []*tar.Header{linkh("l", "/tmp")}, check: func(t *testing.T, w *world) {
			if l, err := os.Readlink(filepath.Join(w.root, "app/l")); err != nil || l != "/tmp" {
				t.Errorf("link %q %v", l, err)
			}
		}},
		{name: "hard link climbing out", tar: []*tar.Header{hardh("h", "../etc/shadow")}, class: isBreakout},
		{name: "hard link to absolute", tar: []*tar.Header{hardh("h", "/etc/shadow")}, class: errdefs.IsNotFound},
		{name: "hard link to the host canary", tar: []*tar.Header{hardh("h", "../../../../../../../../../../"+"HOST")}, class: isBreakout},
		{name: "hard link inside", tar: []*tar.Header{reg("a"), hardh("h", "/a")}, check: func(t *testing.T, w *world) {
			a, h := lstat(t, filepath.Join(w.root, "app/a")), lstat(t, filepath.Join(w.root, "app/h"))
			if a.Ino != h.Ino {
				t.Error("not a hard link")
			}
		}},
		{name: "whiteout", tar: []*tar.Header{reg(".wh.keep")}, class: errdefs.IsInvalidParameter, check: has("app/keep")},
		{name: "opaque whiteout", tar: []*tar.Header{reg(".wh..wh..opq")}, class: errdefs.IsInvalidParameter, check: has("app/keep")},
		{name: "dot as a file", tar: []*tar.Header{reg(".")}, class: errdefs.IsInvalidParameter},
		{name: "dot as a dir", tar: []*tar.Header{dirh("./"), reg("./x")}, check: has("app/x")},
		{name: "global header", tar: []*tar.Header{{Typeflag: tar.TypeXGlobalHeader, Name: "g", PAXRecords: map[string]string{"comment": "x"}}, reg("x")}, check: has("app/x")},
		{name: "first name looks like bzip2", tar: []*tar.Header{reg("BZh91AY&SY")}, check: has("app/BZh91AY&SY")},
		{name: "device", tar: []*tar.Header{{Typeflag: tar.TypeChar, Name: "null", Devmajor: 1, Devminor: 3, Mode: 0o666}}, check: func(t *testing.T, w *world) {
			st := lstat(t, filepath.Join(w.root, "app/null"))
			if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
				t.Errorf("device %o %x", st.Mode, st.Rdev)
			}
		}},
		{name: "existing symlink to the host dir", tar: []*tar.Header{reg("tohost/pwned")}, check: func(t *testing.T, w *world) {
			// Followed as the container sees it: the root's path of
			// that name, made as needed.
			has(strings.TrimPrefix(filepath.Join(w.host, "pwned"), "/"))(t, w)
		}},
		{name: "existing relative symlink climbing", tar: []*tar.Header{reg("up/pwned")}, check: has("pwned")},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			makeTree(t, w.root, file("app/keep", "k"),
				symlink("app/tohost", w.host), symlink("app/up", "../../../../.."))
			hdrs := c.tar
			for i, h := range hdrs {
				if h.Linkname != "" && strings.HasSuffix(h.Linkname, "HOST") {
					cp := *h
					cp.Linkname = strings.TrimSuffix(h.Linkname, "HOST") + strings.TrimPrefix(w.canary, "/")
					hdrs[i] = &cp
				}
			}
			err := extract(t, w.root, "/app", tarOf(t, hdrs...), ExtractOptions{})
			switch {
			case c.class == nil && err != nil:
				t.Errorf("Extract: %v", err)
			case c.class != nil && (err == nil || !c.class(err)):
				t.Errorf("Extract: %v, want another class", err)
			}
			if c.check != nil {
				c.check(t, w)
			}
			if got := readFile(t, filepath.Join(w.root, "etc/shadow")); got != "container-shadow\n" {
				t.Errorf("the container's /etc/shadow changed: %q", got)
			}
			w.checkHost(t)
		})
	}
}

func isBreakout(err error) bool {
	return errors.Is(err, archive.ErrBreakout) && errdefs.IsInvalidParameter(err)
}

func has(rel string) func(t *testing.T, w *world) {
	return func(t *testing.T, w *world) {
		t.Helper()
		if !exists(filepath.Join(w.root, rel)) {
			t.Errorf("%s was not extracted", rel)
		}
	}
}

// TestExtractNoOverwriteDirNonDir: dockerd's rule and texts, and the
// replacements it allows without it.
func TestExtractNoOverwriteDirNonDir(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	setup := func() {
		os.RemoveAll(filepath.Join(w.root, "app"))
		makeTree(t, w.root, dir("app/d"), file("app/d/in", "x"), file("app/f", "f"))
	}
	for _, c := range []struct {
		hdr  *tar.Header
		text string
	}{
		{reg("d"), `cannot overwrite directory "/app/d" with non-directory "/app"`},
		{linkh("d", "f"), `cannot overwrite directory "/app/d" with non-directory "/app"`},
		{dirh("f"), `cannot overwrite non-directory "/app/f" with directory "/app"`},
		{dirh("f/"), `cannot overwrite non-directory "/app/f" with directory "/app"`},
	} {
		setup()
		err := extract(t, w.root, "/app", tarOf(t, c.hdr), ExtractOptions{NoOverwriteDirNonDir: true})
		if err == nil || err.Error() != c.text || !errdefs.IsConflict(err) {
			t.Errorf("%s: %v, want Conflict %q", c.hdr.Name, err, c.text)
		}
		setup()
		if err := extract(t, w.root, "/app", tarOf(t, c.hdr), ExtractOptions{}); err != nil {
			t.Errorf("%s without the option: %v", c.hdr.Name, err)
		}
	}
	// Same kinds replace or merge with the option on.
	setup()
	if err := extract(t, w.root, "/app", tarOf(t, dirh("d"), reg("d/new"), reg("f")), ExtractOptions{NoOverwriteDirNonDir: true}); err != nil {
		t.Fatal(err)
	}
	if readFile(t, filepath.Join(w.root, "app/f")) != "content of f" || !exists(filepath.Join(w.root, "app/d/in")) || !exists(filepath.Join(w.root, "app/d/new")) {
		t.Error("merge or replace went wrong")
	}
	// Within one archive: a directory, then a file of the same name.
	setup()
	err := extract(t, w.root, "/app", tarOf(t, dirh("n"), reg("n")), ExtractOptions{NoOverwriteDirNonDir: true})
	if !errdefs.IsConflict(err) {
		t.Errorf("dir then file in one archive: %v", err)
	}
}

// TestExtractOwners: the archive's owners are kept (dockerd without
// copyUIDGID), or all set to Owner (copyUIDGID with a container user).
func TestExtractOwners(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	makeTree(t, w.root, dir("a"), dir("b"))
	owned := func(h *tar.Header) *tar.Header { h.Uid, h.Gid = 1234, 5678; return h }
	tb := tarOf(t, owned(dirh("d")), owned(reg("d/f")), owned(linkh("d/l", "f")), owned(&tar.Header{Typeflag: tar.TypeFifo, Name: "d/p"}))
	if err := extract(t, w.root, "/a", tb, ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := extract(t, w.root, "/b", tb, ExtractOptions{Owner: &Owner{UID: 33, GID: 44}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"d", "d/f", "d/l", "d/p"} {
		if st := lstat(t, filepath.Join(w.root, "a", p)); st.Uid != 1234 || st.Gid != 5678 {
			t.Errorf("a/%s owned by %d:%d, want the archive's 1234:5678", p, st.Uid, st.Gid)
		}
		if st := lstat(t, filepath.Join(w.root, "b", p)); st.Uid != 33 || st.Gid != 44 {
			t.Errorf("b/%s owned by %d:%d, want 33:44", p, st.Uid, st.Gid)
		}
	}
	if err := extract(t, w.root, "/b", tb, ExtractOptions{Owner: &Owner{UID: -1}}); !errdefs.IsInvalidParameter(err) {
		t.Errorf("negative owner: %v", err)
	}
}

// TestLookupOwner: dockerd's getUIDGID over the container's own files.
func TestLookupOwner(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	makeTree(t, w.root,
		file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n# comment\nwww-data:x:33:33::/var/www:/bin/false\napp:x:1000:1001::/home/app:/bin/sh\nbroken:x:zz\n"),
		file("etc/group", "root:x:0:\nstaff:x:50:app\n"))
	for _, c := range []struct {
		user     string
		uid, gid int
		text     string
	}{
		{user: "app", uid: 1000, gid: 1001},
		{user: "www-data", uid: 33, gid: 33},
		{user: "33", uid: 33, gid: 33},
		{user: "12345", uid: 12345, gid: 0},
		{user: "app:staff", uid: 1000, gid: 50},
		{user: "app:7", uid: 1000, gid: 7},
		{user: "12345:staff", uid: 12345, gid: 50},
		{user: ":33", uid: 0, gid: 33},
		{user: "33:", uid: 33, gid: 33},
		{user: "nobody", text: `failed to look up user "nobody" in container: no matching entries in passwd file`},
		{user: "app:nogroup", text: `failed to look up group "nogroup" in container: no matching entries in group file`},
	} {
		o, err := LookupOwner(t.Context(), w.root, c.user)
		if c.text != "" {
			if err == nil || err.Error() != c.text || !errdefs.IsInvalidParameter(err) {
				t.Errorf("LookupOwner(%q): %v, want %q", c.user, err, c.text)
			}
			continue
		}
		if err != nil || o.UID != c.uid || o.GID != c.gid {
			t.Errorf("LookupOwner(%q) = %+v, %v; want %d:%d", c.user, o, err, c.uid, c.gid)
		}
	}
	// /etc/passwd a symlink to the host's file: read inside root.
	os.Remove(filepath.Join(w.root, "etc/passwd"))
	makeTree(t, w.root, symlink("etc/passwd", "/host-passwd"))
	if _, err := LookupOwner(t.Context(), w.root, "root"); err == nil || !errdefs.IsInvalidParameter(err) {
		t.Errorf("LookupOwner through a dangling link: %v", err)
	}
	if o, err := LookupOwner(t.Context(), w.root, "4242"); err != nil || o.UID != 4242 {
		t.Errorf("numeric user without passwd: %+v %v", o, err)
	}
	w.checkHost(t)
}

// TestExtractReadOnly: a read-only filesystem at the extraction point is
// refused before anything is read; one below it fails the entry with
// ErrReadOnly.
func TestExtractReadOnly(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	makeTree(t, w.root, dir("ro"), dir("app/vol"))
	mountRO := func(p string) {
		if err := unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, "size=1m"); err != nil {
			t.Fatalf("mount: %v", err)
		}
		t.Cleanup(func() {
			if err := unix.Unmount(p, unix.MNT_DETACH); err != nil {
				t.Errorf("unmount %s: %v", p, err)
			}
		})
	}
	mountRO(filepath.Join(w.root, "ro"))
	mountRO(filepath.Join(w.root, "app/vol"))
	err := extract(t, w.root, "/ro", tarOf(t, reg("x")), ExtractOptions{})
	if !errors.Is(err, ErrReadOnly) || !errdefs.IsInvalidParameter(err) {
		t.Errorf("into a read-only point: %v", err)
	}
	err = extract(t, w.root, "/app", tarOf(t, reg("ok"), reg("vol/x")), ExtractOptions{})
	if !errors.Is(err, ErrReadOnly) || !errors.Is(err, unix.EROFS) {
		t.Errorf("into a read-only mount below: %v", err)
	}
	if !exists(filepath.Join(w.root, "app/ok")) {
		t.Error("the entry before the read-only one is missing")
	}
}

// TestExtractCompressedAndLimits: gzip is read as dockerd reads it; a
// size limit and a truncated archive are refused.
func TestExtractCompressedAndLimits(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	makeTree(t, w.root, dir("app"))
	var gz bytes.Buffer
	zw, err := archive.CompressStream(&gz, archive.Gzip)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(tarOf(t, reg("zipped")))
	zw.Close()
	if err := extract(t, w.root, "/app", gz.Bytes(), ExtractOptions{}); err != nil || !exists(filepath.Join(w.root, "app/zipped")) {
		t.Errorf("gzip: %v", err)
	}
	big := tarOf(t, &tar.Header{Typeflag: tar.TypeReg, Name: "big"})
	if err := extract(t, w.root, "/app", big, ExtractOptions{SizeLimit: 600}); !errdefs.IsInvalidParameter(err) {
		t.Errorf("size limit: %v", err)
	}
	tb := tarOf(t, reg("trunc"))
	if err := extract(t, w.root, "/app", tb[:512+5], ExtractOptions{}); !errdefs.IsInvalidParameter(err) {
		t.Errorf("truncated: %v", err)
	}
}
