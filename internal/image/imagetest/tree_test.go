package imagetest

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// makeTree writes a small tree with one entry of each kind CompareTrees
// looks at.
func makeTree(t *testing.T, dir string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "d/sub"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "d/file"), []byte("content"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "d/other"), []byte("CONTENT"), 0o644))
	must(os.Link(filepath.Join(dir, "d/file"), filepath.Join(dir, "d/link")))
	must(os.Symlink("file", filepath.Join(dir, "d/sym")))
	must(unix.Mkfifo(filepath.Join(dir, "d/fifo"), 0o600))
	must(unix.Lsetxattr(filepath.Join(dir, "d/other"), "user.k", []byte("v"), 0))
	must(os.WriteFile(filepath.Join(dir, "d/sub/ignored"), []byte("x"), 0o644))
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v\n%s", err, out)
	}
}

func TestCompareTrees(t *testing.T) {
	t.Parallel()
	base := filepath.Join(t.TempDir(), "a")
	makeTree(t, base)

	same, err := compareTrees(base, base, CompareMtimes(), CompareContent())
	if err != nil || len(same) != 0 {
		t.Fatalf("a tree differs from itself: %v %v", same, err)
	}

	for _, tc := range []struct {
		name   string
		mutate func(b string) error
		opts   []CompareOpt
		want   string // in one reported difference; "" for none
	}{
		{"mode", func(b string) error { return os.Chmod(filepath.Join(b, "d/file"), fs.ModeSetuid|0o644) }, nil, "d/file: mode 0644 != 04644"},
		{"owner", func(b string) error { return os.Lchown(filepath.Join(b, "d/sym"), 7, 8) }, nil, "d/sym: owner 0:0 != 7:8"},
		{"size", func(b string) error { return os.WriteFile(filepath.Join(b, "d/other"), []byte("longer"), 0o644) }, nil, "d/other: size 7 != 6"},
		{"content", func(b string) error { return os.WriteFile(filepath.Join(b, "d/other"), []byte("cOnTeNt"), 0o644) }, []CompareOpt{CompareContent()}, "d/other: content sha256"},
		{"content unchecked", func(b string) error { return os.WriteFile(filepath.Join(b, "d/other"), []byte("cOnTeNt"), 0o644) }, nil, ""},
		{"symlink", func(b string) error {
			p := filepath.Join(b, "d/sym")
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.Symlink("other", p)
		}, nil, `d/sym: symlink target "file" != "other"`},
		{"type", func(b string) error {
			p := filepath.Join(b, "d/fifo")
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.WriteFile(p, nil, 0o600)
		}, nil, "d/fifo: type fifo != file"},
		{"xattr", func(b string) error { return unix.Lsetxattr(filepath.Join(b, "d/other"), "user.k", []byte("w"), 0) }, nil, "d/other: xattrs map[user.k:v] != map[user.k:w]"},
		{"xattr ignored", func(b string) error { return unix.Lsetxattr(filepath.Join(b, "d/other"), "user.k", []byte("w"), 0) }, []CompareOpt{IgnoreXattrs("user.")}, ""},
		{"hardlink broken", func(b string) error {
			p := filepath.Join(b, "d/link")
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.WriteFile(p, []byte("content"), 0o644)
		}, nil, `d/link: hard link to "d/file" != ""`},
		{"extra", func(b string) error { return os.WriteFile(filepath.Join(b, "d/new"), nil, 0o644) }, nil, "d/new: only in b"},
		{"missing", func(b string) error { return os.Remove(filepath.Join(b, "d/other")) }, nil, "d/other: only in a"},
		{"ignored path", func(b string) error { return os.Remove(filepath.Join(b, "d/sub/ignored")) }, []CompareOpt{Ignore("d/sub")}, ""},
		{"mtime", func(b string) error {
			return os.Chtimes(filepath.Join(b, "d/other"), time.Time{}, time.Unix(1e9, 5))
		}, []CompareOpt{CompareMtimes()}, "d/other: mtime"},
		{"mtime unchecked", func(b string) error {
			return os.Chtimes(filepath.Join(b, "d/other"), time.Time{}, time.Unix(1e9, 5))
		}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "owner" && os.Geteuid() != 0 {
				t.Skip("chown needs root") // CI runs as root
			}
			b := filepath.Join(t.TempDir(), "b")
			copyTree(t, base, b)
			// cp -a keeps the hard link inside b and the times; check that.
			if diffs, err := compareTrees(base, b, CompareMtimes(), CompareContent()); err != nil || len(diffs) != 0 {
				t.Fatalf("copy differs: %v %v", diffs, err)
			}
			if err := tc.mutate(b); err != nil {
				t.Fatal(err)
			}
			diffs, err := compareTrees(base, b, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			var keep []string
			for _, d := range diffs {
				// Mutations touch their directory's mtime: not what is tested.
				if !strings.HasPrefix(d, "d: mtime") {
					keep = append(keep, d)
				}
			}
			switch {
			case tc.want == "" && len(keep) != 0:
				t.Errorf("differences %q, want none", keep)
			case tc.want != "" && !slices.ContainsFunc(keep, func(d string) bool { return strings.Contains(d, tc.want) }):
				t.Errorf("differences %q, want one containing %q", keep, tc.want)
			}
		})
	}
}

func TestCompareTreesIgnorePatterns(t *testing.T) {
	o := compareOptions{ignore: []string{"proc", "data/*", "*.mtree"}}
	for p, want := range map[string]bool{
		"proc": true, "proc/1/status": true, "data/blob-0": true, "data": false,
		"sha256_x.mtree": true, "etc/passwd": false, ".": false,
	} {
		if got := o.ignored(p); got != want {
			t.Errorf("ignored(%q) = %v, want %v", p, got, want)
		}
	}
}
