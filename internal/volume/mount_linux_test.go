package volume

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/linux"
	"github.com/berth-project/berth/internal/mount"
	"github.com/berth-project/berth/internal/testenv"
)

// unmountAtEnd detaches whatever a failing test left mounted on the
// volume's data directory, before its temporary directory is removed.
func unmountAtEnd(t *testing.T, s *Store, name string) {
	t.Helper()
	p := filepath.Join(s.Root(), name, dataDir)
	t.Cleanup(func() { _ = mount.UnmountAll(p, unix.MNT_DETACH) })
}

func fsType(t *testing.T, p string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Type
}

func mounted(t *testing.T, p string) bool {
	t.Helper()
	m, err := isMountPoint(p)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTmpfsVolume(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	unmountAtEnd(t, s, "cache")
	v := mustCreate(t, s, CreateOptions{Name: "cache",
		DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m,mode=0750,nosuid"}})
	if mounted(t, v.Mountpoint) {
		t.Fatal("mounted at create: the mount is made on first use")
	}
	p, err := s.Mount(ctx, "cache", "c1")
	if err != nil {
		t.Fatal(err)
	}
	if p != v.Mountpoint || fsType(t, p) != unix.TMPFS_MAGIC {
		t.Fatalf("mount at %s is not tmpfs", p)
	}
	var st unix.Statfs_t
	_ = unix.Statfs(p, &st)
	if size := st.Blocks * uint64(st.Bsize); size != 1<<20 {
		t.Errorf("tmpfs size %d, want 1 MiB", size)
	}
	if st.Flags&unix.ST_NOSUID == 0 {
		t.Error("nosuid (a mount flag in o=) not applied")
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o750 {
		t.Errorf("tmpfs mode %v, want 0750", fi.Mode().Perm())
	}
	if err := os.WriteFile(filepath.Join(p, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if p2, err := s.Mount(ctx, "cache", "c2"); err != nil || p2 != p {
		t.Fatalf("second mount: %s %v", p2, err)
	}
	if err := s.Unmount(ctx, "cache", "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(p, "f")); err != nil || !mounted(t, p) {
		t.Fatalf("unmounted while c2 uses it: %v", err)
	}
	if err := s.Unmount(ctx, "cache", "c2"); err != nil {
		t.Fatal(err)
	}
	if mounted(t, p) {
		t.Fatal("still mounted after the last user")
	}
	if _, err := s.Mount(ctx, "cache", "c3"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(p, "f")); !os.IsNotExist(err) {
		t.Fatalf("tmpfs data survived a remount: %v", err)
	}
	if err := s.Unmount(ctx, "cache", "c3"); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"c1", "c2", "c3"} {
		_ = s.Release("cache", ref)
	}
	if err := s.Remove(ctx, "cache", false); err != nil {
		t.Fatal(err)
	}
}

func TestBindDeviceVolume(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	ctx := context.Background()
	device := t.TempDir()
	if err := os.WriteFile(filepath.Join(device, "keep"), []byte("host data"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	unmountAtEnd(t, s, "bound")
	mustCreate(t, s, CreateOptions{Name: "bound",
		DriverOpts: map[string]string{"type": "none", "o": "bind", "device": device}})
	p, err := s.Mount(ctx, "bound", "c1")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(p, "keep")); err != nil || string(b) != "host data" {
		t.Fatalf("device content not visible: %q %v", b, err)
	}
	if err := os.WriteFile(filepath.Join(p, "new"), []byte("from container"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Unmount(ctx, "bound", "c1"); err != nil {
		t.Fatal(err)
	}
	if mounted(t, p) {
		t.Fatal("still mounted")
	}
	if entries, _ := os.ReadDir(p); len(entries) != 0 {
		t.Fatalf("_data not empty once unmounted: %v", entries)
	}
	if err := s.Release("bound", "c1"); err != nil {
		t.Fatal(err)
	}

	// The daemon restarts while a container runs with the volume
	// mounted: the new store sees the mount, keeps it while the running
	// container is given back, and unmounts after it.
	if _, err := s.Mount(ctx, "bound", "c2"); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(ctx, s.Root())
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.SetReferences(ctx, map[string][]string{"bound": {"c2"}}, map[string][]string{"bound": {"c2"}}); err != nil {
		t.Fatal(err)
	}
	if !mounted(t, p) {
		t.Fatal("restore unmounted a volume in use")
	}
	if err := s2.Remove(ctx, "bound", false); !errdefs.IsConflict(err) {
		t.Fatalf("remove of a restored volume in use: %v", err)
	}
	if err := s2.Unmount(ctx, "bound", "c2"); err != nil {
		t.Fatal(err)
	}
	if mounted(t, p) {
		t.Fatal("still mounted after the restored user left")
	}

	// Restarted with the volume mounted and no one using it: removal
	// unmounts first and never deletes the device's files.
	if _, err := s2.Mount(ctx, "bound", "c3"); err != nil {
		t.Fatal(err)
	}
	s3, err := Open(ctx, s.Root())
	if err != nil {
		t.Fatal(err)
	}
	if err := s3.Remove(ctx, "bound", false); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"keep", "new"} {
		if _, err := os.Stat(filepath.Join(device, f)); err != nil {
			t.Errorf("device file %s lost with the volume: %v", f, err)
		}
	}
}

func TestSetReferencesUnmountsUnused(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	unmountAtEnd(t, s, "tm")
	mustCreate(t, s, CreateOptions{Name: "tm", DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs"}})
	mustCreate(t, s, CreateOptions{Name: "plain"})
	p, err := s.Mount(ctx, "tm", "gone")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := Open(ctx, s.Root())
	if err != nil {
		t.Fatal(err)
	}
	err = s2.SetReferences(ctx, map[string][]string{"plain": {"stopped"}, "missing": {"x"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if mounted(t, p) {
		t.Fatal("a mounted volume without running users stays mounted")
	}
	if err := s2.Remove(ctx, "plain", false); !errdefs.IsConflict(err) {
		t.Fatalf("restored reference ignored: %v", err)
	}
	list, _ := s2.List(ctx, Filters{"dangling": {"true"}})
	if !slices.Equal(names(list), []string{"tm"}) {
		t.Fatalf("dangling after restore: %v", names(list))
	}
}

func TestMountErrors(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	unmountAtEnd(t, s, "bad")
	mustCreate(t, s, CreateOptions{Name: "bad", DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=lots"}})
	_, err := s.Mount(ctx, "bad", "c1")
	if err == nil || !strings.HasPrefix(err.Error(), "failed to mount local volume: ") || !errors.Is(err, unix.EINVAL) {
		t.Fatalf("mount with a bad option: %v", err)
	}
	// A failed Mount takes no reference.
	if err := s.Remove(ctx, "bad", false); err != nil {
		t.Fatalf("remove after a failed mount: %v", err)
	}
	if _, err := s.Mount(ctx, "bad", "c1"); !errdefs.IsNotFound(err) {
		t.Fatalf("mount of a missing volume: %v", err)
	}
}

func TestRemoveRefusesMountedData(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	unmountAtEnd(t, s, "plain")
	v := mustCreate(t, s, CreateOptions{Name: "plain"})
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "precious"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// Mounted behind the store's back, on _data and below it.
	if err := (mount.Mount{Type: "bind", Source: host}).Mount(v.Mountpoint); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, "plain", false); !errors.Is(err, errMountInside) {
		t.Fatalf("remove of a volume with a mount on _data: %v", err)
	}
	if err := mount.Unmount(v.Mountpoint, 0); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(v.Mountpoint, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mount.UnmountAll(sub, unix.MNT_DETACH) })
	if err := (mount.Mount{Type: "bind", Source: host}).Mount(sub); err != nil {
		t.Fatal(err)
	}
	if err := removeTree(s.Root(), "plain"); !errors.Is(err, errMountInside) {
		t.Fatalf("removeTree across a mount: %v", err)
	}
	if _, err := os.Stat(filepath.Join(host, "precious")); err != nil {
		t.Fatalf("removal went through a mount: %v", err)
	}
}

type fakeResolver map[string]string

func (f fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	if ip, ok := f[host]; ok {
		return []net.IPAddr{{IP: net.ParseIP(ip)}}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func TestMountFor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	res := fakeResolver{"nas": "192.0.2.7"}
	for _, c := range []struct {
		opts map[string]string
		want mount.Mount
	}{
		{map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m,,mode=1777"},
			mount.Mount{Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m", "mode=1777"}}},
		{map[string]string{"type": "none", "device": "/srv/x", "o": "bind,ro"},
			mount.Mount{Type: "none", Source: "/srv/x", Options: []string{"bind", "ro"}}},
		{map[string]string{"type": "nfs", "device": ":/export", "o": "addr=nas,rw,nfsvers=4"},
			mount.Mount{Type: "nfs", Source: ":/export", Options: []string{"addr=192.0.2.7", "rw", "nfsvers=4"}}},
		{map[string]string{"type": "nfs", "device": ":/export", "o": "addr=10.0.0.1"},
			mount.Mount{Type: "nfs", Source: ":/export", Options: []string{"addr=10.0.0.1"}}},
		{map[string]string{"type": "ext4", "device": "/dev/sdb1", "o": "addr=nas"},
			mount.Mount{Type: "ext4", Source: "/dev/sdb1", Options: []string{"addr=nas"}}},
		{map[string]string{"type": "cifs", "device": "//nas/share", "o": "username=u"},
			mount.Mount{Type: "cifs", Source: "//192.0.2.7/share", Options: []string{"username=u"}}},
	} {
		got, err := mountFor(ctx, res, c.opts)
		if err != nil || got.Type != c.want.Type || got.Source != c.want.Source || !slices.Equal(got.Options, c.want.Options) {
			t.Errorf("mountFor %v: %+v %v, want %+v", c.opts, got, err, c.want)
		}
	}
	if _, err := mountFor(ctx, res, map[string]string{"type": "nfs", "device": ":/x", "o": "addr=unknown"}); err == nil ||
		!strings.Contains(err.Error(), "error resolving passed in network volume address") {
		t.Errorf("unresolvable addr: %v", err)
	}
}

func TestMountErrorHidesPassword(t *testing.T) {
	t.Parallel()
	err := &linux.MountError{Op: "mount", Source: "//h/s", Target: "/v/_data", Type: "cifs",
		Data: "username=u,password=hunter2", Err: unix.EACCES}
	masked := maskPassword(err, "username=u,password=hunter2")
	if strings.Contains(masked.Error(), "hunter2") || !strings.Contains(masked.Error(), "password=********") {
		t.Fatalf("masked: %v", masked)
	}
	if !errors.Is(masked, unix.EACCES) {
		t.Fatal("errno lost")
	}
	for e := errors.Unwrap(masked); e != nil; e = errors.Unwrap(e) {
		if strings.Contains(e.Error(), "hunter2") {
			t.Fatalf("password reachable through Unwrap: %v", e)
		}
	}
}
