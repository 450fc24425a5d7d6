package runtime_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/mount"
	"golang.org/x/sys/unix"
)

// cgroupSkeletonAnnotation is runtime.CgroupSkeletonAnnotation.
const cgroupSkeletonAnnotation = "org.berth.cgroupfs-skeletons"

// TestCgroupSkeleton: with the skeleton annotation, containers that see
// /sys/fs/cgroup read-only bind one read-only tmpfs the runtime made in
// the annotation's directory, and mount their hierarchies on their own
// binds (the skeleton's directories stay empty); a writable
// /sys/fs/cgroup gets a tmpfs of its own.
func TestCgroupSkeleton(t *testing.T) {
	t.Parallel()
	if mountinfoDevice(t, "/proc/self/mountinfo", "/sys/fs/cgroup") == "" {
		t.Fatal("no /sys/fs/cgroup mount on this host")
	}
	e := newEnv(t)
	base := filepath.Join(t.TempDir(), "skeletons")
	t.Cleanup(func() {
		entries, _ := os.ReadDir(base)
		for _, en := range entries {
			mount.UnmountAll(filepath.Join(base, en.Name()), unix.MNT_DETACH)
		}
	})
	// run reports the device of the container's /sys/fs/cgroup and what
	// its hierarchy directories hold.
	run := func(readOnly bool) (dev string, out string) {
		t.Helper()
		b := newBundle(t, "sh", "-c", `grep " /sys/fs/cgroup " /proc/self/mountinfo | cut -d" " -f3; ls /sys/fs/cgroup/*/ | grep -c .; touch /sys/fs/cgroup/x 2>&1; exit 0`)
		b.spec.Annotations = map[string]string{cgroupSkeletonAnnotation: base}
		if !readOnly {
			for i, m := range b.spec.Mounts {
				if m.Type == "cgroup" {
					b.spec.Mounts[i].Options = slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return o == "ro" })
				}
			}
		}
		r := e.newContainer(b).runFG(stdio{})
		if r.code != 0 {
			t.Fatalf("%v", r)
		}
		dev, out, _ = strings.Cut(r.stdout, "\n")
		return dev, out
	}
	dev1, out1 := run(true)
	dev2, _ := run(true)
	entries, err := os.ReadDir(base)
	if err != nil {
		t.Fatal(err)
	}
	var skeleton string
	for _, en := range entries {
		if en.IsDir() {
			skeleton = filepath.Join(base, en.Name())
		}
	}
	if skeleton == "" {
		t.Fatalf("no skeleton in %s: %v", base, entries)
	}
	skelDev := mountinfoDevice(t, "/proc/self/mountinfo", skeleton)
	if dev1 != skelDev || dev2 != skelDev {
		t.Errorf("/sys/fs/cgroup of the containers is on %s and %s, the skeleton on %s", dev1, dev2, skelDev)
	}
	if !strings.Contains(out1, "Read-only file system") {
		t.Errorf("the container could write in /sys/fs/cgroup:\n%s", out1)
	}
	if n, _, _ := strings.Cut(out1, "\n"); n == "0" {
		t.Errorf("the container's hierarchies are empty:\n%s", out1)
	}
	dirs, _ := os.ReadDir(skeleton)
	for _, d := range dirs {
		if d.IsDir() {
			if in, _ := os.ReadDir(filepath.Join(skeleton, d.Name())); len(in) != 0 {
				t.Errorf("a container's hierarchy shows in the skeleton's %s", d.Name())
			}
		}
	}
	if devRW, out := run(false); devRW == skelDev || strings.Contains(out, "Read-only") {
		t.Errorf("a writable /sys/fs/cgroup is on %s (the skeleton's: %s):\n%s", devRW, skelDev, out)
	}
}

// mountinfoDevice is the major:minor of the mount at mountpoint in the
// mountinfo file at path (the last one there), or "".
func mountinfoDevice(t *testing.T, path, mountpoint string) string {
	t.Helper()
	dev := ""
	for _, m := range readMountinfo(t, path) {
		if m.point == mountpoint {
			dev = m.dev
		}
	}
	return dev
}
