package testenv

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// BusyboxPath is where Debian's busybox-static package installs busybox.
const BusyboxPath = "/bin/busybox"

// rootfsLayout names the layout WriteBusyboxRootfs produces; change it
// whenever the layout changes, so that stale cached templates are not reused.
const rootfsLayout = "v1"

// Users and groups in the rootfs: root, nobody, and an unprivileged test
// user for tests of process.user and supplementary groups.
const (
	TestUser = "berth"
	TestUID  = 1000
	TestGID  = 1000
	// TestUser is also a member of this supplementary group.
	TestSupplementaryGID = 1001

	passwdFile = "root:x:0:0:root:/root:/bin/sh\n" +
		"berth:x:1000:1000:berth test user:/home/berth:/bin/sh\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	groupFile = "root:x:0:\n" +
		"berth:x:1000:\n" +
		"berthextra:x:1001:berth\n" +
		"nogroup:x:65534:\n"
)

// BusyboxRootfs returns a fresh minimal rootfs for t: the directory "rootfs"
// inside a new t.TempDir, so filepath.Dir of the result can serve as the
// bundle directory. It holds /bin/busybox with a symlink per applet (so
// /bin/sh exists), /etc/passwd and /etc/group with root, nobody and TestUser,
// and empty /proc, /sys, /dev, /tmp (1777), /root and /home/berth.
//
// The layout is built once into a cache and copied per call, without hard
// links, so each test can change its copy freely. When run as root every file
// is owned by root, except /home/berth which TestUser owns.
func BusyboxRootfs(t testing.TB) string {
	t.Helper()
	tmpl, err := busyboxTemplate()
	if err != nil {
		t.Fatalf("testenv: busybox rootfs: %v", err)
	}
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	if err := copyTree(tmpl, rootfs); err != nil {
		t.Fatalf("testenv: busybox rootfs: %v", err)
	}
	return rootfs
}

var template struct {
	once sync.Once
	dir  string
	err  error
}

// busyboxTemplate returns the cached rootfs template, building it on first
// use. The cache is keyed by the busybox binary's content and the layout
// version, and is shared by test binaries (and runs) on this machine.
func busyboxTemplate() (string, error) {
	template.once.Do(func() {
		template.dir, template.err = buildTemplate()
	})
	return template.dir, template.err
}

func buildTemplate() (string, error) {
	key, err := busyboxKey(BusyboxPath)
	if err != nil {
		return "", err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	parent := filepath.Join(cache, "berth", "testenv")
	final := filepath.Join(parent, "busybox-rootfs-"+key)
	if _, err := os.Stat(final); err == nil {
		return filepath.Join(final, "rootfs"), nil
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	// Build beside the final path and rename, so a concurrent or interrupted
	// build never exposes a half-written template.
	tmp, err := os.MkdirTemp(parent, ".build-")
	if err != nil {
		return "", err
	}
	if err := WriteBusyboxRootfs(filepath.Join(tmp, "rootfs")); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		os.RemoveAll(tmp)
		// Another test binary won the race; its template is just as good.
		if _, statErr := os.Stat(final); statErr != nil {
			return "", err
		}
	}
	return filepath.Join(final, "rootfs"), nil
}

// busyboxKey checks that path is a statically linked busybox (a dynamic one
// cannot run inside a rootfs without its libraries) and returns a short hash
// of its content and the layout version.
func busyboxKey(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("%w: apt-get install busybox-static", err)
	}
	defer f.Close()
	ef, err := elf.NewFile(f)
	if err != nil {
		return "", fmt.Errorf("%s is not an ELF binary (%v): apt-get install busybox-static", path, err)
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			return "", fmt.Errorf("%s is dynamically linked: apt-get install busybox-static", path)
		}
	}
	h := sha256.New()
	io.WriteString(h, rootfsLayout+"\x00")
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// WriteBusyboxRootfs writes the layout BusyboxRootfs describes into dir,
// which must not exist yet. It is exported for tools outside tests (the
// benchmarks) that need the same rootfs.
func WriteBusyboxRootfs(dir string) error {
	if _, err := busyboxKey(BusyboxPath); err != nil {
		return err
	}
	out, err := exec.Command(BusyboxPath, "--list").Output()
	if err != nil {
		return fmt.Errorf("%s --list: %w", BusyboxPath, err)
	}
	applets := strings.Fields(string(out))

	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	dirs := []struct {
		path string
		mode fs.FileMode
	}{
		{"bin", 0o755},
		{"etc", 0o755},
		{"dev", 0o755},
		{"proc", 0o555},
		{"sys", 0o555},
		{"tmp", 0o777 | fs.ModeSticky},
		{"root", 0o700},
		{"home", 0o755},
		{"home/berth", 0o755},
	}
	for _, d := range dirs {
		p := filepath.Join(dir, d.path)
		if err := os.Mkdir(p, 0o700); err != nil {
			return err
		}
		// Chmod after Mkdir: the umask would otherwise strip bits from 1777.
		if err := os.Chmod(p, d.mode); err != nil {
			return err
		}
	}
	if os.Geteuid() == 0 {
		if err := os.Lchown(filepath.Join(dir, "home/berth"), TestUID, TestGID); err != nil {
			return err
		}
	}
	if err := copyFile(BusyboxPath, filepath.Join(dir, "bin/busybox"), 0o755); err != nil {
		return err
	}
	for _, a := range applets {
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", a)); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	// Every test relies on /bin/sh, whatever the applet list says.
	if err := os.Symlink("busybox", filepath.Join(dir, "bin/sh")); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	for name, content := range map[string]string{"etc/passwd": passwdFile, "etc/group": groupFile} {
		if err := writeFile(filepath.Join(dir, name), content, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path, content string, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(f, content); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Chmod(path, mode)
}

func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}

// copyTree copies the directories, regular files and symlinks under src to
// dst, keeping modes and, when run as root, owners.
func copyTree(src, dst string) error {
	asRoot := os.Geteuid() == 0
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			if err := os.Mkdir(target, 0o700); err != nil {
				return err
			}
			if err := os.Chmod(target, fi.Mode()&(fs.ModePerm|fs.ModeSticky)); err != nil {
				return err
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			if err := copyFile(path, target, fi.Mode().Perm()); err != nil {
				return err
			}
		default:
			return fmt.Errorf("copy %s: unsupported file type %v", path, fi.Mode().Type())
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && asRoot {
			if err := os.Lchown(target, int(st.Uid), int(st.Gid)); err != nil {
				return err
			}
		}
		return nil
	})
}
