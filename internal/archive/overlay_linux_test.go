package archive_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/archive"
	"github.com/berth-project/berth/internal/archive/archivetest"
	"github.com/berth-project/berth/internal/archive/tartest"
	"github.com/berth-project/berth/internal/testenv"
)

// mountOverlay mounts lowers (top first), with upper and a work directory
// when upper is not "", on a new directory, unmounted when the test ends.
// redirect_dir and metacopy are off, as the snapshotter mounts them, so
// that an upper directory holds the whole change.
func mountOverlay(t *testing.T, upper string, lowers ...string) string {
	t.Helper()
	dir := t.TempDir()
	target := filepath.Join(dir, "merged")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	opts := "lowerdir=" + strings.Join(lowers, ":") + ",redirect_dir=off,metacopy=off,index=off"
	if upper != "" {
		work := filepath.Join(dir, "work")
		if err := os.Mkdir(work, 0o700); err != nil {
			t.Fatal(err)
		}
		opts += ",upperdir=" + upper + ",workdir=" + work
	}
	if err := unix.Mount("overlay", target, "overlay", 0, opts); err != nil {
		t.Fatalf("mount overlay %s: %v", opts, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(target, 0); err != nil {
			t.Errorf("umount %s: %v", target, err)
		}
	})
	return target
}

func applyLayer(t *testing.T, dir string, layer []byte, opts ...archive.ApplyOpt) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := archive.Apply(context.Background(), dir, bytes.NewReader(layer), opts...); err != nil {
		t.Fatalf("Apply into %s: %v", dir, err)
	}
}

func run(t *testing.T, dir string, script string) {
	t.Helper()
	cmd := exec.Command("sh", "-ec", script)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
}

var (
	layer1 = tartest.Build(
		tartest.Dir("etc", 0o755),
		tartest.File("etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0o644),
		tartest.File("etc/hosts", "127.0.0.1 localhost\n", 0o644),
		tartest.Dir("opt", 0o755),
		tartest.File("opt/a", "a", 0o644),
		tartest.Dir("opt/sub", 0o755),
		tartest.File("opt/sub/c", "c", 0o644),
		tartest.Dir("var", 0o755),
		tartest.File("var/keep", "keep", 0o644),
		tartest.Dir("data", 0o750),
		tartest.File("data/x", "x", 0o644),
		tartest.Dir("data/y", 0o755),
		tartest.File("data/y/z", "z", 0o600, tartest.Owner(5, 6)),
		tartest.Dir("bin", 0o755),
		tartest.File("bin/tool", "#!/bin/sh\n", 0o755),
		tartest.Dir("cache", 0o755),
		tartest.File("cache/old", "old", 0o644),
	)
	// layer2 deletes etc/hosts and makes opt opaque, as docker writes
	// such a layer: parents first, the opaque marker after its directory.
	layer2 = tartest.Build(
		tartest.Dir("etc", 0o755),
		tartest.Whiteout("etc/hosts"),
		tartest.File("etc/new", "new", 0o644),
		tartest.Dir("opt", 0o711),
		tartest.Opaque("opt"),
		tartest.File("opt/new", "new in opaque", 0o644),
	)
)

// image applies layer1 and layer2 as overlay layers and returns their
// directories, top first.
func image(t *testing.T) []string {
	t.Helper()
	base := t.TempDir()
	l1, l2 := filepath.Join(base, "l1"), filepath.Join(base, "l2")
	applyLayer(t, l1, layer1, archive.WithOverlayWhiteouts())
	applyLayer(t, l2, layer2, archive.WithOverlayWhiteouts())
	return []string{l2, l1}
}

// flat applies layers with delete whiteouts into one new directory.
func flat(t *testing.T, layers ...[]byte) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "flat")
	for _, l := range layers {
		applyLayer(t, dir, l)
	}
	return dir
}

func TestOverlayApply(t *testing.T) {
	testenv.RequireRoot(t)
	layers := image(t)
	l2 := layers[0]

	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(l2, "etc/hosts"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("etc/hosts in layer 2 is mode %#o rdev %d, want a 0/0 character device", st.Mode, st.Rdev)
	}
	buf := make([]byte, 8)
	n, err := unix.Lgetxattr(filepath.Join(l2, "opt"), "trusted.overlay.opaque", buf)
	if err != nil || string(buf[:n]) != "y" {
		t.Errorf("opt opaque xattr: %q, %v", buf[:n], err)
	}
	if _, err := os.Lstat(filepath.Join(l2, "opt/a")); err == nil {
		t.Error("overlay apply touched lower content")
	}

	merged := mountOverlay(t, "", layers...)
	for _, p := range []string{"etc/hosts", "opt/a", "opt/sub"} {
		if _, err := os.Lstat(filepath.Join(merged, p)); err == nil {
			t.Errorf("%s visible in the merged view", p)
		}
	}
	// The overlay's merged view is the tree flattening gives.
	if err := archivetest.Compare(flat(t, layer1, layer2), merged); err != nil {
		t.Fatal(err)
	}
}

// TestOverlayDiff makes changes through a real overlay mount, then checks
// that WriteDiff of the upper re-applies to the same tree, in both modes,
// and that Changes lists exactly them.
func TestOverlayDiff(t *testing.T) {
	testenv.RequireRoot(t)
	layers := image(t)
	upper := filepath.Join(t.TempDir(), "upper")
	if err := os.Mkdir(upper, 0o755); err != nil {
		t.Fatal(err)
	}
	merged := mountOverlay(t, upper, layers...)
	run(t, merged, `
		mkdir new && echo file > new/file
		echo more >> etc/passwd
		rm var/keep
		mv data data2
		chmod 0700 bin/tool
		rm -rf cache && mkdir cache && echo fresh > cache/fresh
		ln -s /etc/passwd etc/link
		mkfifo fifo
	`)
	if err := unix.Setxattr(filepath.Join(merged, "etc/new"), "user.note", []byte("hello"), 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Unmount(merged, 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("overlay", merged, "overlay", unix.MS_RDONLY, "lowerdir="+upper+":"+strings.Join(layers, ":")); err != nil {
		t.Fatal(err)
	}
	want := merged // the container's tree, read-only now
	lowerView := mountOverlay(t, "", layers...)

	var diff bytes.Buffer
	if err := archive.WriteDiff(context.Background(), &diff, lowerView, upper, archive.WithOverlayUpper()); err != nil {
		t.Fatal(err)
	}

	t.Run("changes", func(t *testing.T) {
		got, err := archive.Changes(context.Background(), lowerView, upper, archive.WithOverlayUpper())
		if err != nil {
			t.Fatal(err)
		}
		wantChanges := []string{
			"C /bin", "C /bin/tool",
			"C /cache", "A /cache/fresh", "D /cache/old",
			"D /data",
			"A /data2", "A /data2/x", "A /data2/y", "A /data2/y/z",
			"C /etc", "A /etc/link", "C /etc/new", "C /etc/passwd",
			"A /fifo",
			"A /new", "A /new/file",
			"C /var", "D /var/keep",
		}
		checkChanges(t, got, wantChanges)
	})
	t.Run("reapply flat", func(t *testing.T) {
		dir := flat(t, layer1, layer2, diff.Bytes())
		if err := archivetest.Compare(want, dir); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("reapply overlay", func(t *testing.T) {
		l3 := filepath.Join(t.TempDir(), "l3")
		applyLayer(t, l3, diff.Bytes(), archive.WithOverlayWhiteouts())
		view := mountOverlay(t, "", append([]string{l3}, layers...)...)
		if err := archivetest.Compare(want, view); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("tar entries", func(t *testing.T) {
		names := tarNames(t, diff.Bytes())
		for _, w := range []string{"cache/", "cache/.wh..wh..opq", ".wh.data", "var/.wh.keep", "data2/y/z"} {
			if !slices.Contains(names, w) {
				t.Errorf("no %q in %q", w, names)
			}
		}
		// The opaque marker follows its directory.
		if i := slices.Index(names, "cache/"); i < 0 || i+1 >= len(names) || names[i+1] != "cache/.wh..wh..opq" {
			t.Errorf("opaque marker not right after its directory: %q", names)
		}
	})
}

func checkChanges(t *testing.T, got []archive.Change, want []string) {
	t.Helper()
	var g []string
	for _, c := range got {
		g = append(g, c.String())
	}
	if !slices.Equal(g, want) {
		t.Errorf("Changes:\n got %q\nwant %q", g, want)
	}
}

func tarNames(t *testing.T, layer []byte) []string {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(layer))
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
}
