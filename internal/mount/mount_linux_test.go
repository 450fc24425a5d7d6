package mount

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
	"github.com/berth-project/berth/internal/linux"
	"github.com/berth-project/berth/internal/testenv"
)

// mountpoint makes an empty directory and makes sure nothing stays
// mounted on it when the test ends, whatever happened.
func mountpoint(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := UnmountAll(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return dir
}

func isMountPoint(t testing.TB, dir string) bool {
	t.Helper()
	var st, parent unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		t.Fatal(err)
	}
	if err := unix.Lstat(filepath.Dir(dir), &parent); err != nil {
		t.Fatal(err)
	}
	if st.Dev != parent.Dev {
		return true
	}
	// A bind mount of a directory of the same filesystem keeps the
	// device; mountinfo is the only reliable answer.
	points, err := mountPointsBelow(filepath.Dir(dir))
	if err != nil {
		t.Fatal(err)
	}
	resolved, _ := filepath.EvalSymlinks(dir)
	for _, p := range points {
		if p == resolved {
			return true
		}
	}
	return false
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBind(t *testing.T) {
	testenv.RequireRoot(t)
	for _, api := range []struct {
		name string
		new  bool
	}{{"open_tree", true}, {"mount(2)", false}} {
		t.Run(api.name, func(t *testing.T) {
			old := bindNewAPI.Load()
			bindNewAPI.Store(api.new)
			t.Cleanup(func() { bindNewAPI.Store(old) })

			src := t.TempDir()
			writeFile(t, filepath.Join(src, "f"), "hello")

			rw := mountpoint(t)
			if err := (Mount{Type: "bind", Source: src, Options: []string{"rbind", "rw"}}).Mount(rw); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(rw, "g"), "through the bind")
			if got := readFile(t, filepath.Join(src, "g")); got != "through the bind" {
				t.Errorf("source sees %q", got)
			}

			ro := mountpoint(t)
			if err := (Mount{Type: "bind", Source: src, Options: []string{"rbind", "ro", "nosuid", "nodev"}}).Mount(ro); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, filepath.Join(ro, "f")); got != "hello" {
				t.Errorf("read %q through the ro bind", got)
			}
			err := os.WriteFile(filepath.Join(ro, "h"), nil, 0o644)
			if !errors.Is(err, unix.EROFS) {
				t.Errorf("write to a ro bind: %v, want EROFS", err)
			}
			var sfs unix.Statfs_t
			if err := unix.Statfs(ro, &sfs); err != nil {
				t.Fatal(err)
			}
			if want := int64(unix.ST_RDONLY | unix.ST_NOSUID | unix.ST_NODEV); sfs.Flags&want != want {
				t.Errorf("statfs flags %#x, want %#x set", sfs.Flags, want)
			}
			// The source stays writable: the flags belong to the bind.
			writeFile(t, filepath.Join(src, "still"), "rw")

			if err := Unmount(ro, 0); err != nil {
				t.Fatal(err)
			}
			if isMountPoint(t, ro) {
				t.Error("still mounted after Unmount")
			}
		})
	}
}

// TestBindReadOnlyRecursive: with "rbind,ro" every mount in the tree is
// read-only, not only the top one.
func TestBindReadOnlyRecursive(t *testing.T) {
	testenv.RequireRoot(t)
	src := mountpoint(t)
	if err := (Mount{Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}}).Mount(src); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(src, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := (Mount{Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}}).Mount(sub); err != nil {
		t.Fatal(err)
	}
	dst := mountpoint(t)
	if err := (Mount{Type: "bind", Source: src, Options: []string{"rbind", "ro"}}).Mount(dst); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "sub", "x"), nil, 0o644); !errors.Is(err, unix.EROFS) {
		t.Errorf("write below a ro rbind: %v, want EROFS", err)
	}
	// UnmountAll takes the submount and the mount under it.
	if err := UnmountAll(dst, 0); err != nil {
		t.Fatal(err)
	}
	if err := UnmountAll(src, 0); err != nil {
		t.Fatal(err)
	}
	if isMountPoint(t, src) || isMountPoint(t, dst) {
		t.Error("still mounted after UnmountAll")
	}
}

func TestRemount(t *testing.T) {
	testenv.RequireRoot(t)
	src := t.TempDir()
	dir := mountpoint(t)
	if err := (Mount{Type: "bind", Source: src, Options: []string{"bind"}}).Mount(dir); err != nil {
		t.Fatal(err)
	}
	if err := (Mount{Type: "bind", Options: []string{"remount", "bind", "ro"}}).Mount(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); !errors.Is(err, unix.EROFS) {
		t.Errorf("write after a read-only remount: %v, want EROFS", err)
	}
}

func TestMountData(t *testing.T) {
	testenv.RequireRoot(t)
	dir := mountpoint(t)
	if err := (Mount{Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "size=1m", "mode=0710"}}).Mount(dir); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o710 {
		t.Errorf("mode %v: the data did not reach tmpfs", fi.Mode())
	}
}

func TestMountErrorsNameFlags(t *testing.T) {
	testenv.RequireRoot(t)
	missing := filepath.Join(t.TempDir(), "missing")
	dir := mountpoint(t)

	err := (Mount{Type: "bind", Source: missing, Options: []string{"rbind", "ro"}}).Mount(dir)
	var me *linux.MountError
	if !errors.As(err, &me) || !errors.Is(err, unix.ENOENT) {
		t.Fatalf("bind of a missing source: %v, want a MountError with ENOENT", err)
	}
	if me.Source != missing || me.Target != dir {
		t.Errorf("error %q does not name source and target", err)
	}

	err = (Mount{Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "size=nonsense"}}).Mount(dir)
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "MS_NOSUID|MS_NODEV") || !strings.Contains(err.Error(), "size=nonsense") {
		t.Errorf("tmpfs with bad data: %v, want flags and data by name", err)
	}

	bindNewAPI.Store(false)
	t.Cleanup(func() { bindNewAPI.Store(true) })
	err = (Mount{Type: "bind", Source: missing, Options: []string{"bind"}}).Mount(dir)
	if !errors.As(err, &me) || me.Op != "bind" || !strings.Contains(err.Error(), "MS_BIND") {
		t.Errorf("classic bind of a missing source: %v, want op bind and MS_BIND", err)
	}
}

func TestUnmountNotMounted(t *testing.T) {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	if err := Unmount(dir, 0); err != nil {
		t.Errorf("Unmount of a plain directory: %v, want nil", err)
	}
	if err := UnmountAll(dir, 0); err != nil {
		t.Errorf("UnmountAll of a plain directory: %v, want nil", err)
	}
	if err := Unmount(dir, 1<<20); !errors.Is(err, unix.EINVAL) {
		t.Errorf("Unmount with bad flags: %v, want EINVAL", err)
	}
	var me *linux.MountError
	if err := Unmount(filepath.Join(dir, "missing"), unix.MNT_DETACH); !errors.As(err, &me) || !strings.Contains(err.Error(), "MNT_DETACH") {
		t.Errorf("Unmount of a missing path: %v, want a MountError naming MNT_DETACH", err)
	}
}

func TestUnmountAllStacked(t *testing.T) {
	testenv.RequireRoot(t)
	dir := mountpoint(t)
	for i := range 3 {
		if err := (Mount{Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}}).Mount(dir); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, fmt.Sprint(i), "f"), "x")
	}
	if err := UnmountAll(dir, 0); err != nil {
		t.Fatal(err)
	}
	if isMountPoint(t, dir) {
		t.Error("still mounted after UnmountAll")
	}
}

func TestUnmountAllBusy(t *testing.T) {
	testenv.RequireRoot(t)
	dir := mountpoint(t)
	if err := (Mount{Type: "tmpfs", Source: "tmpfs"}).Mount(dir); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "open"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := UnmountAll(dir, 0); !errors.Is(err, unix.EBUSY) {
		t.Errorf("UnmountAll of a busy mount: %v, want EBUSY", err)
	}
	if err := UnmountAll(dir, unix.MNT_DETACH); err != nil {
		t.Errorf("detach: %v", err)
	}
}

func TestAll(t *testing.T) {
	testenv.RequireRoot(t)
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "data", "f"), "bound")
	if err := os.Mkdir(filepath.Join(src, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	writeFile(t, filepath.Join(other, "g"), "second")

	dir := mountpoint(t)
	mounts := []Mount{
		{Type: "bind", Source: src, Options: []string{"rbind", "rw"}},
		{Type: "bind", Source: other, Target: "data", Options: []string{"rbind", "ro"}},
		{Type: "tmpfs", Source: "tmpfs", Target: "/tmp", Options: []string{"size=1m"}},
	}
	if err := All(mounts, dir); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "data", "g")); got != "second" {
		t.Errorf("second mount shows %q", got)
	}
	if !isMountPoint(t, filepath.Join(dir, "tmp")) {
		t.Error("third mount missing")
	}
	if err := UnmountAll(dir, 0); err != nil {
		t.Fatal(err)
	}
	if isMountPoint(t, dir) {
		t.Error("still mounted")
	}

	// A failure undoes the mounts already made, and only those.
	if err := (Mount{Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}}).Mount(dir); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "before"), "mine")
	bad := append(mounts[:2:2], Mount{Type: "bind", Source: filepath.Join(src, "missing"), Target: "tmp", Options: []string{"bind"}})
	if err := All(bad, dir); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("All with a missing source: %v, want ENOENT", err)
	}
	if got := readFile(t, filepath.Join(dir, "before")); got != "mine" {
		t.Errorf("after a failed All, the mount that was there shows %q", got)
	}
	if err := Unmount(dir, 0); err != nil {
		t.Fatal(err)
	}
	if isMountPoint(t, dir) {
		t.Error("All left mounts behind after a failure")
	}
}

func TestWithTempMount(t *testing.T) {
	testenv.RequireRoot(t)
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "f"), "temp")
	mounts := []Mount{{Type: "bind", Source: src, Options: []string{"rbind", "ro"}}}

	var seen string
	err := WithTempMount(context.Background(), mounts, func(root string) error {
		seen = root
		if got := readFile(t, filepath.Join(root, "f")); got != "temp" {
			t.Errorf("read %q", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(seen); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp dir %s remains: %v", seen, err)
	}

	// f's error comes back, and the mount still goes, even when busy.
	boom := errors.New("boom")
	var open *os.File
	err = WithTempMount(context.Background(), mounts, func(root string) error {
		seen = root
		var err error
		open, err = os.Open(filepath.Join(root, "f"))
		if err != nil {
			t.Fatal(err)
		}
		return boom
	})
	defer open.Close()
	if !errors.Is(err, boom) {
		t.Errorf("WithTempMount = %v, want f's error", err)
	}
	if _, err := os.Stat(seen); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp dir %s remains: %v", seen, err)
	}
	if got := readFile(t, filepath.Join(src, "f")); got != "temp" {
		t.Errorf("source changed: %q", got)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := WithTempMount(ctx, mounts, func(string) error { t.Error("f called"); return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// layers makes n lower directories, each with a file of its own and its
// own version of "shared", and returns them top (last made) first, as
// lowerdir lists them.
func layers(t testing.TB, n int) []string {
	t.Helper()
	base := t.TempDir()
	dirs := make([]string, n)
	for i := range n {
		d := filepath.Join(base, fmt.Sprint(i))
		writeFile(t, filepath.Join(d, fmt.Sprintf("layer%d", i)), fmt.Sprint(i))
		writeFile(t, filepath.Join(d, "shared"), fmt.Sprint(i))
		dirs[n-1-i] = d
	}
	return dirs
}

func withOverlayMode(t testing.TB, mode overlayPolicy) {
	old := overlayMode
	overlayMode = mode
	t.Cleanup(func() { overlayMode = old })
}

func overlayMount(lower []string, upper, work string) Mount {
	opts := []string{"lowerdir=" + strings.Join(lower, ":")}
	if upper != "" {
		opts = append(opts, "upperdir="+upper, "workdir="+work)
	}
	return Mount{Type: "overlay", Source: "overlay", Options: append(opts, "index=off")}
}

func TestOverlay(t *testing.T) {
	testenv.RequireRoot(t)
	for _, tc := range []struct {
		name string
		mode overlayPolicy
		n    int
	}{
		{"classic/2", overlayClassic, 2},
		{"fsopen/2", overlayNewAPI, 2},
		{"auto/2", overlayAuto, 2},
		{"fsopen/250", overlayNewAPI, 250},
		// 500 is overlayfs's limit (OVL_MAX_STACK).
		{"auto/500", overlayAuto, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			withOverlayMode(t, tc.mode)
			lower := layers(t, tc.n)
			upper, work := t.TempDir(), t.TempDir()
			dir := mountpoint(t)
			if err := overlayMount(lower, upper, work).Mount(dir); err != nil {
				t.Fatal(err)
			}
			for i := range tc.n {
				if got := readFile(t, filepath.Join(dir, fmt.Sprintf("layer%d", i))); got != fmt.Sprint(i) {
					t.Fatalf("layer%d reads %q", i, got)
				}
			}
			if got, want := readFile(t, filepath.Join(dir, "shared")), fmt.Sprint(tc.n-1); got != want {
				t.Errorf("shared reads %q, want the top layer's %q", got, want)
			}
			writeFile(t, filepath.Join(dir, "new"), "upper")
			if got := readFile(t, filepath.Join(upper, "new")); got != "upper" {
				t.Errorf("upper has %q", got)
			}
			if err := os.Remove(filepath.Join(dir, "layer0")); err != nil {
				t.Fatal(err)
			}
			var st unix.Stat_t
			if err := unix.Lstat(filepath.Join(upper, "layer0"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
				t.Errorf("no whiteout in the upper dir for a removed lower file: %v, mode %o", err, st.Mode)
			}
			if err := UnmountAll(dir, 0); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestOverlayClassicTooLong: mount(2) cannot take a lowerdir longer than a
// page; the error says so instead of letting the kernel cut the options.
func TestOverlayClassicTooLong(t *testing.T) {
	testenv.RequireRoot(t)
	withOverlayMode(t, overlayClassic)
	lower := layers(t, 200)
	dir := mountpoint(t)
	err := overlayMount(lower, "", "").Mount(dir)
	var me *linux.MountError
	if !errors.As(err, &me) || !errdefs.IsInvalidParameter(err) {
		t.Fatalf("classic mount of 200 long layers: %v, want an InvalidParameter MountError", err)
	}
}

func TestOverlayReadOnly(t *testing.T) {
	testenv.RequireRoot(t)
	for _, mode := range []overlayPolicy{overlayClassic, overlayNewAPI} {
		withOverlayMode(t, mode)
		dir := mountpoint(t)
		m := overlayMount(layers(t, 3), "", "")
		m.Options = append(m.Options, "ro")
		if err := m.Mount(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); !errors.Is(err, unix.EROFS) {
			t.Errorf("mode %d: write: %v, want EROFS", mode, err)
		}
		if err := UnmountAll(dir, 0); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOverlayErrorHasKernelLog: with the new API, the kernel's own
// explanation comes with the errno.
func TestOverlayErrorHasKernelLog(t *testing.T) {
	testenv.RequireRoot(t)
	withOverlayMode(t, overlayNewAPI)
	dir := mountpoint(t)
	missing := filepath.Join(t.TempDir(), "missing")
	err := overlayMount([]string{missing, t.TempDir()}, "", "").Mount(dir)
	var me *linux.MountError
	if !errors.As(err, &me) || me.Op != "fsconfig" || !errors.Is(err, unix.ENOENT) {
		t.Fatalf("overlay with a missing layer: %v, want an fsconfig MountError with ENOENT", err)
	}
	if !strings.Contains(err.Error(), "lowerdir+="+missing) {
		t.Errorf("error %q does not name the layer", err)
	}
	t.Logf("error: %v", err)
}

// BenchmarkOverlayMount times mounting an overlay with
// mount(2) and with the new API. The layer paths are short (as the
// snapshotter's l/ links are), so mount(2) can take up to ~100 of them.
func BenchmarkOverlayMount(b *testing.B) {
	testenv.RequireRoot(b)
	for _, n := range []int{2, 4, 16, 64} {
		for _, mode := range []struct {
			name string
			mode overlayPolicy
		}{{"classic", overlayClassic}, {"fsopen", overlayNewAPI}} {
			for _, rw := range []bool{false, true} {
				b.Run(fmt.Sprintf("%s/rw=%v/%d", mode.name, rw, n), func(b *testing.B) {
					withOverlayMode(b, mode.mode)
					base, err := os.MkdirTemp("/tmp", "ovb")
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { os.RemoveAll(base) })
					lower := make([]string, n)
					for i := range n {
						lower[i] = filepath.Join(base, fmt.Sprintf("l%02d", i))
						writeFile(b, filepath.Join(lower[i], "f"), "x")
					}
					upper, work := filepath.Join(base, "u"), filepath.Join(base, "w")
					for _, d := range []string{upper, work} {
						if err := os.Mkdir(d, 0o755); err != nil {
							b.Fatal(err)
						}
					}
					dir := mountpoint(b)
					m := overlayMount(lower, "", "")
					if rw {
						// With an upper dir, overlayfs also (re)creates
						// work/work and probes the upper filesystem's
						// features: journaled changes that dwarf the call.
						m = overlayMount(lower, upper, work)
					}
					// Only the mount is timed: unmounting costs the same
					// either way and waits on RCU, which is noise.
					for b.Loop() {
						if err := m.Mount(dir); err != nil {
							b.Fatal(err)
						}
						b.StopTimer()
						if err := Unmount(dir, 0); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
					}
				})
			}
		}
	}
}

// BenchmarkBind times a read-only bind mount with open_tree and with
// mount(2) plus a remount.
func BenchmarkBind(b *testing.B) {
	testenv.RequireRoot(b)
	for _, api := range []struct {
		name string
		new  bool
	}{{"open_tree", true}, {"mount(2)", false}} {
		b.Run(api.name, func(b *testing.B) {
			bindNewAPI.Store(api.new)
			b.Cleanup(func() { bindNewAPI.Store(true) })
			src := b.TempDir()
			dir := mountpoint(b)
			m := Mount{Type: "bind", Source: src, Options: []string{"rbind", "ro"}}
			for b.Loop() {
				if err := m.Mount(dir); err != nil {
					b.Fatal(err)
				}
				if err := Unmount(dir, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
