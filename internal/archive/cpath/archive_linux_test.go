package cpath

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
)

// TestArchiveNames: the entry names of GET /archive for each shape of
// path, as dockerd's TarResourceRebaseOpts(base(path)) makes them.
func TestArchiveNames(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	makeTree(t, w.root,
		file("data/a", "a"), file("data/sub/b", "b"),
		symlink("dirlink", "/data"), symlink("filelink", "data/a"), symlink("up", "../../../../data"))
	tree := func(base string) []string {
		return []string{base + "/", base + "/a", base + "/sub/", base + "/sub/b"}
	}
	for _, c := range []struct {
		path   string
		follow bool
		want   []string
	}{
		{path: "/data", want: tree("data")},
		{path: "data", want: tree("data")},
		{path: "/data/", want: tree("data")},
		{path: "/data/.", want: []string{"./", "./a", "./sub/", "./sub/b"}},
		{path: "/data/sub/../.", want: []string{"./", "./a", "./sub/", "./sub/b"}},
		{path: "/data/a", want: []string{"a"}},
		{path: "/dirlink", want: []string{"dirlink"}},
		{path: "/dirlink/", want: tree("dirlink")},
		{path: "/dirlink/.", want: []string{"./", "./a", "./sub/", "./sub/b"}},
		{path: "/dirlink", follow: true, want: tree("dirlink")},
		{path: "/up", follow: true, want: tree("up")},
		{path: "/filelink", want: []string{"filelink"}},
		{path: "/filelink", follow: true, want: []string{"filelink"}},
		{path: "/data/sub/b", want: []string{"b"}},
	} {
		es, st := mustArchive(t, w.root, c.path, ArchiveOptions{FollowLink: c.follow})
		if got := names(es); !slices.Equal(got, c.want) {
			t.Errorf("Archive(%q, follow %v) names %v, want %v", c.path, c.follow, got, c.want)
		}
		if st.Name != filepath.Base(absPath(c.path)) {
			t.Errorf("Archive(%q) stat name %q", c.path, st.Name)
		}
	}
	// The link itself, and what -L gives.
	es, st := mustArchive(t, w.root, "/filelink", ArchiveOptions{})
	if es[0].typ != tar.TypeSymlink || es[0].linkname != "data/a" || st.Mode&os.ModeSymlink == 0 || st.LinkTarget != "/data/a" {
		t.Errorf("link archived as %+v, stat %+v", es[0], st)
	}
	es, st = mustArchive(t, w.root, "/filelink", ArchiveOptions{FollowLink: true})
	if es[0].typ != tar.TypeReg || es[0].content != "a" || !st.Mode.IsRegular() || st.Name != "filelink" {
		t.Errorf("link followed as %+v, stat %+v", es[0], st)
	}
	// The root: entries under "/".
	es, _ = mustArchive(t, w.root, "/", ArchiveOptions{})
	got := names(es)
	for _, n := range []string{"/", "/data/", "/data/a", "/etc/shadow", "/dirlink"} {
		if !slices.Contains(got, n) {
			t.Errorf("Archive(/) lacks %q: %v", n, got)
		}
	}
	for _, c := range []struct {
		path  string
		class func(error) bool
	}{
		{"/missing", errdefs.IsNotFound},
		{"/data/a/", errdefs.IsInvalidParameter},
		{"", errdefs.IsInvalidParameter},
	} {
		if _, _, err := Archive(t.Context(), w.root, c.path, ArchiveOptions{}); err == nil || !c.class(err) {
			t.Errorf("Archive(%q): %v has the wrong class", c.path, err)
		}
	}
	w.checkHost(t)
}

// TestArchiveShadowLink: a container's link to /etc/shadow gives the
// link, or with -L the container's own /etc/shadow; a link naming the
// host's file by its host path gives the container's file of that name
// (none here), never the host's.
func TestArchiveShadowLink(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	makeTree(t, w.root,
		symlink("shadow", "/etc/shadow"),
		symlink("relshadow", "../../../../../../../etc/shadow"),
		symlink("hostshadow", w.canary),
		symlink("hostdir", w.host),
		symlink("escape", "../../../../../../../../"+w.host))
	for _, p := range []string{"/shadow", "/relshadow", "../../../../shadow", "/../../etc/shadow"} {
		es, _ := mustArchive(t, w.root, p, ArchiveOptions{FollowLink: true})
		if len(es) != 1 || es[0].content != "container-shadow\n" {
			t.Errorf("Archive(%q, -L) = %+v, want the container's shadow", p, es)
		}
	}
	es, _ := mustArchive(t, w.root, "/shadow", ArchiveOptions{})
	if len(es) != 1 || es[0].typ != tar.TypeSymlink || es[0].linkname != "/etc/shadow" || es[0].content != "" {
		t.Errorf("Archive(/shadow) = %+v, want the link", es)
	}
	for _, p := range []string{"/hostshadow", "/hostdir/shadow", "/escape/shadow", "/hostdir/", "/escape/."} {
		rc, _, err := Archive(t.Context(), w.root, p, ArchiveOptions{FollowLink: true})
		if err == nil {
			b, _ := io.ReadAll(rc)
			rc.Close()
			if strings.Contains(string(b), w.secret) {
				t.Fatalf("Archive(%q) read the host's file", p)
			}
			t.Errorf("Archive(%q) found something: the root has no %s", p, w.host)
		} else if !errdefs.IsNotFound(err) {
			t.Errorf("Archive(%q): %v, want NotFound", p, err)
		}
	}
	// The host path made inside the root is what the links lead to.
	makeTree(t, filepath.Join(w.root, w.host), file("shadow", "in-root"))
	for _, p := range []string{"/hostshadow", "/hostdir/shadow", "/escape/shadow"} {
		es, _ := mustArchive(t, w.root, p, ArchiveOptions{FollowLink: true})
		if len(es) != 1 || es[0].content != "in-root" {
			t.Errorf("Archive(%q) = %+v, want the root's file", p, es)
		}
	}
	w.checkHost(t)
}

// TestArchiveKeepsMetadata: owners, modes, hard links, xattrs, devices,
// fifos are archived; sockets are not.
func TestArchiveKeepsMetadata(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	makeTree(t, w.root, file("d/f", "hello"), dir("d/sub"))
	d := filepath.Join(w.root, "d")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Lchown(filepath.Join(d, "f"), 1234, 5678))
	must(unix.Chmod(filepath.Join(d, "f"), 0o4751))
	must(os.Lchown(filepath.Join(d, "sub"), 42, 43))
	must(os.Link(filepath.Join(d, "f"), filepath.Join(d, "sub/hard")))
	must(unix.Mknod(filepath.Join(d, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	must(unix.Mkfifo(filepath.Join(d, "fifo"), 0o640))
	must(unix.Lsetxattr(filepath.Join(d, "f"), "user.note", []byte("kept"), 0))
	sock, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	must(err)
	defer unix.Close(sock)
	must(unix.Bind(sock, &unix.SockaddrUnix{Name: filepath.Join(d, "sock")}))

	rc, _, err := Archive(t.Context(), w.root, "/d", ArchiveOptions{})
	must(err)
	defer rc.Close()
	tr := tar.NewReader(rc)
	seen := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(err)
		seen[h.Name] = h
	}
	f := seen["d/f"]
	if f == nil || f.Uid != 1234 || f.Gid != 5678 || f.Mode&0o7777 != 0o4751 || f.PAXRecords["SCHILY.xattr.user.note"] != "kept" {
		t.Errorf("d/f: %+v", f)
	}
	if h := seen["d/sub/hard"]; h == nil || h.Typeflag != tar.TypeLink || h.Linkname != "d/f" {
		t.Errorf("hard link: %+v", h)
	}
	if h := seen["d/sub/"]; h == nil || h.Uid != 42 || h.Gid != 43 {
		t.Errorf("d/sub/: %+v", h)
	}
	if h := seen["d/null"]; h == nil || h.Typeflag != tar.TypeChar || h.Devmajor != 1 || h.Devminor != 3 {
		t.Errorf("device: %+v", h)
	}
	if h := seen["d/fifo"]; h == nil || h.Typeflag != tar.TypeFifo {
		t.Errorf("fifo: %+v", h)
	}
	if _, ok := seen["d/sock"]; ok {
		t.Error("a socket was archived")
	}
}

// TestArchiveKernelFilesystems: a root seen through /proc/PID/root has
// proc mounted; its content is not archived, and a magic link in it is
// never followed (the path "/proc/self/root/..." would be the host's).
func TestArchiveKernelFilesystems(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	proc := filepath.Join(w.root, "proc")
	makeTree(t, w.root, dir("proc"))
	if err := unix.Mount("proc", proc, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		t.Fatalf("mount proc: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(proc, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", proc, err)
		}
	})
	for _, p := range []string{"/proc", "/proc/", "/proc/."} {
		es, _ := mustArchive(t, w.root, p, ArchiveOptions{})
		if got := names(es); len(got) != 1 || !strings.HasSuffix(got[0], "/") {
			t.Errorf("Archive(%s) = %v, want only the directory", p, got)
		}
	}
	if es, _ := mustArchive(t, w.root, "/", ArchiveOptions{}); !slices.Contains(names(es), "/proc/") || slices.Contains(names(es), "/proc/self") {
		t.Errorf("Archive(/) = %v, want /proc/ empty", names(es))
	}
	// Below the mountpoint: missing, as in dockerd's view of the
	// container where /proc is an empty directory.
	for _, p := range []string{"/proc/cpuinfo", "/proc/self/", "/proc/1/."} {
		if _, err := Stat(t.Context(), w.root, p); !errdefs.IsNotFound(err) {
			t.Errorf("Stat(%s): %v, want NotFound", p, err)
		}
	}
	if err := extract(t, w.root, "/proc", tarOf(t, reg("x")), ExtractOptions{}); !errdefs.IsInvalidParameter(err) {
		t.Errorf("Extract into proc: %v", err)
	}
	for _, p := range []string{"/proc/self/root/etc/hostname", "/proc/1/root" + w.canary, "/proc/self/cwd/"} {
		// ELOOP (RESOLVE_NO_MAGICLINKS), or EACCES for another
		// process's root: refused either way.
		if _, _, err := Archive(t.Context(), w.root, p, ArchiveOptions{FollowLink: true}); err == nil {
			t.Errorf("Archive(%q) went through a magic link", p)
		}
	}
	// A link in the container through a magic link: the magic link's
	// text ("/") is read as a path in root, so -L gives the container's
	// shadow.
	makeTree(t, w.root, symlink("pself", "/proc/self/root/etc/shadow"))
	es, _ := mustArchive(t, w.root, "/pself", ArchiveOptions{FollowLink: true})
	if len(es) != 1 || es[0].content != "container-shadow\n" {
		t.Errorf("Archive(/pself, -L) = %+v, want the container's shadow", es)
	}
	w.checkHost(t)
}

// TestArchiveClose: closing early stops the writer.
func TestArchiveClose(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	big := strings.Repeat("x", 1<<20)
	for i := range 8 {
		makeTree(t, w.root, file(filepath.Join("big", string(rune('a'+i))), big))
	}
	rc, _, err := Archive(t.Context(), w.root, "/big", ArchiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(rc, make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.Read(make([]byte, 1)); err == nil {
		t.Error("read after Close")
	}
}
