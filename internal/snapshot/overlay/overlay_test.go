//go:build linux

package overlay

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/mount"
	"github.com/berth-project/berth/internal/snapshot"
	"github.com/berth-project/berth/internal/snapshot/internal/storage"
	"github.com/berth-project/berth/internal/snapshot/snapshottest"
	"github.com/berth-project/berth/internal/testenv"
)

func newTestSnapshotter(opts ...Opt) snapshottest.NewFunc {
	return func(ctx context.Context, t *testing.T, root string) (snapshot.Snapshotter, func() error, error) {
		s, err := NewSnapshotter(root, opts...)
		if err != nil {
			return nil, nil, err
		}
		return s, s.Close, nil
	}
}

func TestOverlay(t *testing.T) {
	snapshottest.Suite(t, "overlay", newTestSnapshotter())
}

func TestSupported(t *testing.T) {
	testenv.RequireRoot(t)
	if err := Supported(t.TempDir()); err != nil {
		t.Fatalf("Supported on the test filesystem: %v", err)
	}

	// overlayfs is not an upper layer overlayfs takes.
	base := t.TempDir()
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(base, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	merged := filepath.Join(base, "merged")
	t.Cleanup(func() {
		if err := mount.UnmountAll(merged, unix.MNT_DETACH); err != nil {
			t.Error(err)
		}
	})
	m := mount.Mount{Type: "overlay", Source: "overlay", Options: []string{
		"lowerdir=" + filepath.Join(base, "lower"), "upperdir=" + filepath.Join(base, "upper"), "workdir=" + filepath.Join(base, "work"),
	}}
	if err := m.Mount(merged); err != nil {
		t.Fatal(err)
	}
	err := Supported(filepath.Join(merged, "root"))
	if !errdefs.IsNotImplemented(err) {
		t.Fatalf("Supported on overlayfs: %v, want NotImplemented", err)
	}
	t.Logf("on overlayfs: %v", err)
	if entries, _ := os.ReadDir(filepath.Join(merged, "root")); len(entries) != 0 {
		t.Errorf("Supported left %v behind", entries)
	}
}

func TestNewSnapshotterOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		root string
		opts []Opt
	}{
		{"relative root", "relative/root", nil},
		{"colon in root", "/tmp/a:b", nil},
		{"comma in root", "/tmp/a,b", nil},
		{"lowerdir option", "/tmp/x", []Opt{WithMountOptions("lowerdir=/x")}},
		{"upperdir option", "/tmp/x", []Opt{WithMountOptions("metacopy=on", "upperdir=/x")}},
	} {
		if _, err := NewSnapshotter(tc.root, tc.opts...); !errdefs.IsInvalidParameter(err) {
			t.Errorf("%s: %v, want InvalidParameter", tc.name, err)
		}
	}
}

// TestShortLinks: overlay mounts name each lower layer by its l/ link,
// which leads to the layer's directory.
func TestShortLinks(t *testing.T) {
	testenv.RequireRoot(t)
	ctx := context.Background()
	root := t.TempDir()
	s, err := NewSnapshotter(root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	parent := ""
	for i := range 3 {
		key := fmt.Sprint("a", i)
		if _, err := s.Prepare(ctx, key, parent); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprint("c", i)
		if err := s.Commit(ctx, name, key); err != nil {
			t.Fatal(err)
		}
		parent = name
	}
	mounts, err := s.Prepare(ctx, "top", parent)
	if err != nil {
		t.Fatal(err)
	}
	var lower []string
	for _, o := range mounts[0].Options {
		if v, ok := strings.CutPrefix(o, "lowerdir="); ok {
			lower = strings.Split(v, ":")
		}
	}
	if len(lower) != 3 {
		t.Fatalf("mount options %q: want a lowerdir of 3 layers", mounts[0].Options)
	}
	for _, l := range lower {
		if filepath.Dir(l) != filepath.Join(root, "l") || len(filepath.Base(l)) != 26 {
			t.Errorf("lower layer %s is not a short link under %s/l", l, root)
		}
		target, err := filepath.EvalSymlinks(l)
		if err != nil || filepath.Base(target) != "fs" || filepath.Dir(filepath.Dir(target)) != filepath.Join(root, "snapshots") {
			t.Errorf("link %s leads to %s, %v", l, target, err)
		}
	}
	u, err := snapshot.UpperDir(mounts)
	if err != nil || !u.Overlay || filepath.Base(u.Dir) != "fs" {
		t.Errorf("UpperDir = %+v, %v", u, err)
	}
}

// TestCleanupLeftovers: what a crash leaves (a half-made directory, an
// unrecorded one, a dangling link) goes at the next open; what a live
// operation holds stays.
func TestCleanupLeftovers(t *testing.T) {
	testenv.RequireRoot(t)
	ctx := context.Background()
	root := t.TempDir()
	s, err := NewSnapshotter(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prepare(ctx, "live", ""); err != nil {
		t.Fatal(err)
	}
	orphans := []string{
		filepath.Join(root, "snapshots", "new-abandoned", "fs"),
		filepath.Join(root, "snapshots", storage.NewID(), "fs"),
	}
	for _, o := range orphans {
		if err := os.MkdirAll(o, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	orphanLink := filepath.Join(root, "l", storage.NewID())
	if err := os.Symlink("../snapshots/gone/fs", orphanLink); err != nil {
		t.Fatal(err)
	}
	store, err := storage.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	held, err := store.NewPending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = NewSnapshotter(root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, o := range orphans {
		if _, err := os.Lstat(filepath.Dir(o)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s survived the cleanup: %v", filepath.Dir(o), err)
		}
	}
	if _, err := os.Lstat(orphanLink); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dangling link survived the cleanup: %v", err)
	}
	if _, err := os.Stat(held.Path()); err != nil {
		t.Errorf("a pending directory still held was deleted: %v", err)
	}
	if _, err := s.Mounts(ctx, "live"); err != nil {
		t.Errorf("the live snapshot: %v", err)
	}
	if err := held.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestMaxLayers: overlayfs takes at most 500 lower directories. A chain
// of 500 layers, written through UpperDir (no mount each), mounts as a
// view and as a container's writable top, through the new mount API; a
// 501st layer makes a mount error that says so.
func TestMaxLayers(t *testing.T) {
	testenv.RequireRoot(t)
	const overlayMax = 500
	n := overlayMax + 1
	if testing.Short() {
		n = 100
	}
	ctx := context.Background()
	s, err := NewSnapshotter(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	parent := ""
	for i := range n {
		key := fmt.Sprintf("extract-%d", i)
		mounts, err := s.Prepare(ctx, key, parent)
		if err != nil {
			t.Fatal(err)
		}
		u, err := snapshot.UpperDir(mounts)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(u.Dir, fmt.Sprintf("layer%03d", i)), []byte(fmt.Sprint(i)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(u.Dir, "top"), []byte(fmt.Sprint(i)), 0o644); err != nil {
			t.Fatal(err)
		}
		parent = fmt.Sprintf("layer-%d", i)
		if err := s.Commit(ctx, parent, key); err != nil {
			t.Fatal(err)
		}
	}
	top := min(n, overlayMax)
	check := func(root string) error {
		for i := range top {
			b, err := os.ReadFile(filepath.Join(root, fmt.Sprintf("layer%03d", i)))
			if err != nil || string(b) != fmt.Sprint(i) {
				return fmt.Errorf("layer%03d: %q, %v", i, b, err)
			}
		}
		if b, err := os.ReadFile(filepath.Join(root, "top")); err != nil || string(b) != fmt.Sprint(top-1) {
			return fmt.Errorf("top: %q, %v", b, err)
		}
		return os.WriteFile(filepath.Join(root, "written"), nil, 0o644)
	}
	topName := fmt.Sprintf("layer-%d", top-1)
	mounts, err := s.View(ctx, "view", topName)
	if err != nil {
		t.Fatal(err)
	}
	err = mount.WithTempMount(ctx, mounts, check)
	if !errors.Is(err, unix.EROFS) {
		t.Fatalf("view of %d layers: %v, want all read and EROFS on the write", top, err)
	}
	mounts, err = s.Prepare(ctx, "container", topName)
	if err != nil {
		t.Fatal(err)
	}
	if err := mount.WithTempMount(ctx, mounts, check); err != nil {
		t.Fatalf("container on %d layers: %v", top, err)
	}
	if n <= overlayMax {
		return
	}
	mounts, err = s.View(ctx, "too-many", parent)
	if err != nil {
		t.Fatal(err)
	}
	err = mount.WithTempMount(ctx, mounts, func(string) error { return nil })
	if !errors.Is(err, unix.EINVAL) {
		t.Errorf("view of %d layers: %v, want EINVAL", n, err)
	}
	t.Logf("view of %d layers: %v", n, err)
}
