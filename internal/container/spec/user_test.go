package spec

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestResolveUser(t *testing.T) {
	t.Parallel()
	root := testRootfs(t)
	for _, tc := range []struct {
		user     string
		groupAdd []string
		want     specs.User
	}{
		{"", nil, specs.User{UID: 0, GID: 0, AdditionalGids: []uint32{0}}},
		{"root", nil, specs.User{UID: 0, GID: 0, AdditionalGids: []uint32{0}}},
		{"berth", nil, specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1000, 1001}}},
		{"1000", nil, specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1000, 1001}}},
		{"4242", nil, specs.User{UID: 4242, GID: 0, AdditionalGids: []uint32{0}}},
		{"4242:4343", nil, specs.User{UID: 4242, GID: 4343, AdditionalGids: []uint32{4343}}},
		{"berth:0", nil, specs.User{UID: 1000, GID: 0, AdditionalGids: []uint32{0}}},
		{"berth:berthextra", nil, specs.User{UID: 1000, GID: 1001, AdditionalGids: []uint32{1001}}},
		{"nobody", nil, specs.User{UID: 65534, GID: 65534, AdditionalGids: []uint32{65534}}},
		{"", []string{"audio", "4000", "1001"}, specs.User{UID: 0, GID: 0, AdditionalGids: []uint32{0, 29, 4000, 1001}}},
		{"berth", []string{"audio"}, specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1000, 1001, 29}}},
	} {
		got, err := resolveUser(root, tc.user, tc.groupAdd)
		if err != nil {
			t.Errorf("%q %q: %v", tc.user, tc.groupAdd, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q %q: %+v, want %+v", tc.user, tc.groupAdd, got, tc.want)
		}
	}
	uid, gid, gids, err := ResolveUser(root, "berth")
	if err != nil || uid != 1000 || gid != 1000 || !reflect.DeepEqual(gids, []uint32{1000, 1001}) {
		t.Errorf("ResolveUser(berth) = %d %d %v %v", uid, gid, gids, err)
	}

	for _, tc := range []struct {
		user     string
		groupAdd []string
		msg      string
	}{
		{"foo", nil, "unable to find user foo: no matching entries in passwd file"},
		{"berth:nosuch", nil, "unable to find group nosuch: no matching entries in group file"},
		{"", []string{"nosuch"}, "Unable to find group nosuch"},
		{"-5", nil, "uids and gids must be in range 0-2147483647"},
		{"99999999999", nil, "uids and gids must be in range"},
		{"0:-1", nil, "uids and gids must be in range"},
	} {
		_, err := resolveUser(root, tc.user, tc.groupAdd)
		if !errdefs.IsInvalidParameter(err) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%q %q: error %v, want InvalidParameter %q", tc.user, tc.groupAdd, err, tc.msg)
		}
	}
}

// TestResolveUserNoFiles: a rootfs without /etc/passwd or /etc/group still
// runs numeric users, and names fail with docker's text.
func TestResolveUserNoFiles(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	got, err := resolveUser(root, "1000:1000", []string{"5"})
	if err != nil || !reflect.DeepEqual(got, specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1000, 5}}) {
		t.Errorf("numeric user: %+v %v", got, err)
	}
	if _, err := resolveUser(root, "berth", nil); !errdefs.IsInvalidParameter(err) {
		t.Errorf("named user without passwd: %v", err)
	}
	// /etc a file, not a directory.
	if err := os.WriteFile(filepath.Join(root, "etc"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := resolveUser(root, "0", nil); err != nil {
		t.Errorf("/etc not a directory: %v", err)
	}
}

// TestResolveUserStaysInRootfs: symlinks in the image resolve inside the
// rootfs, never to a host file, and special files are refused rather than
// read (a FIFO would block forever).
func TestResolveUserStaysInRootfs(t *testing.T) {
	t.Parallel()
	outside := filepath.Join(t.TempDir(), "outside")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "passwd"), []byte("evil:x:666:666::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{outside + "/passwd", "../../../../../../../../" + outside + "/passwd"} {
		root := t.TempDir()
		os.MkdirAll(filepath.Join(root, "etc"), 0o755)
		if err := os.Symlink(target, filepath.Join(root, "etc/passwd")); err != nil {
			t.Fatal(err)
		}
		_, err := resolveUser(root, "evil", nil)
		if !errdefs.IsInvalidParameter(err) {
			t.Errorf("symlink to %s: user resolved from outside the rootfs (err %v)", target, err)
		}
	}
	// An in-rootfs symlink is followed.
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.MkdirAll(filepath.Join(root, "data"), 0o755)
	os.WriteFile(filepath.Join(root, "data/passwd"), []byte("app:x:77:88::/:/bin/sh\n"), 0o644)
	os.Symlink("/data/passwd", filepath.Join(root, "etc/passwd"))
	if u, err := resolveUser(root, "app", nil); err != nil || u.UID != 77 || u.GID != 88 {
		t.Errorf("in-rootfs symlink: %+v %v", u, err)
	}

	fifoRoot := t.TempDir()
	os.MkdirAll(filepath.Join(fifoRoot, "etc"), 0o755)
	if err := syscall.Mkfifo(filepath.Join(fifoRoot, "etc/passwd"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := resolveUser(fifoRoot, "root", nil); err == nil || errors.Is(err, errdefs.ErrInvalidParameter) && !strings.Contains(err.Error(), "regular") {
		t.Errorf("FIFO passwd: %v", err)
	}
}
