package testenv

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

func TestBusyboxRootfsRuns(t *testing.T) {
	RequireRoot(t)
	rootfs := BusyboxRootfs(t)

	out, err := exec.Command("chroot", rootfs, "/bin/sh", "-c", "echo ok").CombinedOutput()
	if err != nil || string(out) != "ok\n" {
		t.Fatalf("chroot %s /bin/sh -c 'echo ok' = %q, %v", rootfs, out, err)
	}

	// The user database must resolve inside the rootfs, and the test user
	// must be able to write to /tmp.
	out, err = exec.Command("chroot", "--userspec=1000:1000", rootfs, "/bin/sh", "-c",
		"id -un; id -Gn "+TestUser+"; touch /tmp/x && echo wrote").CombinedOutput()
	if want := "berth\nberth berthextra\nwrote\n"; err != nil || string(out) != want {
		t.Fatalf("as uid 1000 got %q, %v; want %q", out, err, want)
	}
}

func TestBusyboxRootfsLayout(t *testing.T) {
	RequireRoot(t)
	rootfs := BusyboxRootfs(t)

	if fi, err := os.Stat(filepath.Dir(rootfs)); err != nil || !fi.IsDir() {
		t.Fatalf("bundle directory: %v", err)
	}
	for path, want := range map[string]fs.FileMode{
		".":           fs.ModeDir | 0o755,
		"bin/busybox": 0o755,
		"tmp":         fs.ModeDir | fs.ModeSticky | 0o777,
		"root":        fs.ModeDir | 0o700,
		"proc":        fs.ModeDir | 0o555,
		"sys":         fs.ModeDir | 0o555,
		"dev":         fs.ModeDir | 0o755,
		"etc/passwd":  0o644,
		"etc/group":   0o644,
	} {
		fi, err := os.Lstat(filepath.Join(rootfs, path))
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 || st.Gid != 0 {
			t.Errorf("%s: owned by %d:%d, want root", path, st.Uid, st.Gid)
		}
	}
	if link, err := os.Readlink(filepath.Join(rootfs, "bin/sh")); err != nil || link != "busybox" {
		t.Errorf("bin/sh -> %q, %v; want busybox", link, err)
	}
	fi, err := os.Stat(filepath.Join(rootfs, "home/berth"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != TestUID || st.Gid != TestGID {
		t.Errorf("home/berth owned by %d:%d, want %d:%d", st.Uid, st.Gid, TestUID, TestGID)
	}
	passwd, err := os.ReadFile(filepath.Join(rootfs, "etc/passwd"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"root:x:0:0:", "nobody:x:65534:65534:", "berth:x:1000:1000:"} {
		if !strings.Contains(string(passwd), want) {
			t.Errorf("etc/passwd lacks %q", want)
		}
	}
}

func TestBusyboxRootfsCopiesAreIndependent(t *testing.T) {
	RequireRoot(t)
	a, b := BusyboxRootfs(t), BusyboxRootfs(t)
	if a == b {
		t.Fatalf("two calls returned the same directory %s", a)
	}
	if err := os.WriteFile(filepath.Join(a, "bin/busybox"), []byte("changed"), 0o755); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(b, "bin/busybox"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() == int64(len("changed")) {
		t.Fatal("changing one copy's busybox changed the other's: the copies share a file")
	}
}

func TestBusyboxKeyRejectsMissingAndDynamic(t *testing.T) {
	_, err := busyboxKey(filepath.Join(t.TempDir(), "busybox"))
	if err == nil || !strings.Contains(err.Error(), "apt-get install busybox-static") {
		t.Errorf("missing busybox: got %v, want the install hint", err)
	}
	// Debian's coreutils are dynamically linked.
	_, err = busyboxKey("/bin/true")
	if err == nil || !strings.Contains(err.Error(), "dynamically linked") {
		t.Errorf("dynamic binary: got %v, want a dynamically linked error", err)
	}
}

func TestUniqueName(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	seen := map[string]bool{}
	for range 100 {
		n := UniqueName(t, "berth")
		if !valid.MatchString(n) || len(n) > maxNameLen {
			t.Fatalf("UniqueName = %q: want at most %d of [a-z0-9-]", n, maxNameLen)
		}
		if !strings.HasPrefix(n, "berth-uniquename-") {
			t.Fatalf("UniqueName = %q: want the prefix and the test name first", n)
		}
		if seen[n] {
			t.Fatalf("UniqueName returned %q twice", n)
		}
		seen[n] = true
	}
}

func TestUniqueNameShapes(t *testing.T) {
	for _, tc := range []struct {
		prefix, test, want string
	}{
		{"ctr", "TestRun", "ctr-run-abcd1234"},
		{"", "TestRun/sub case#01", "run-sub-case-01-abcd1234"},
		{"NetNS", "", "netns-abcd1234"},
		{"", "", "abcd1234"},
		{"berth", "TestAVeryLongTestNameThatGoesOnAndOn/with_subtest", "berth-averylongtestname-abcd1234"},
		{"a-very-long-prefix-that-fills-it-all", "TestX", "a-very-long-prefix-that-abcd1234"},
	} {
		got := uniqueName(tc.prefix, tc.test, "abcd1234")
		if got != tc.want || len(got) > maxNameLen {
			t.Errorf("uniqueName(%q, %q) = %q (%d chars), want %q", tc.prefix, tc.test, got, len(got), tc.want)
		}
	}
}

func TestRepoRootAndBinaries(t *testing.T) {
	root := RepoRoot(t)
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("RepoRoot = %s without go.mod: %v", root, err)
	}
	if _, err := findRepoRoot(t.TempDir()); err == nil {
		t.Error("findRepoRoot outside the repository: want an error")
	}

	dir := t.TempDir()
	if _, err := executableIn(dir, "berth-runtime"); err == nil || !strings.Contains(err.Error(), "run make first") {
		t.Errorf("missing binary: got %v, want a 'run make first' error", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "berth-runtime"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := executableIn(dir, "berth-runtime"); err == nil {
		t.Error("non-executable binary: want an error")
	}
	if err := os.Chmod(filepath.Join(dir, "berth-runtime"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := executableIn(dir, "berth-runtime"); err != nil || got != filepath.Join(dir, "berth-runtime") {
		t.Errorf("executableIn = %q, %v", got, err)
	}
}
