package archive_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/archive"
	"github.com/berth-project/berth/internal/archive/archivetest"
	"github.com/berth-project/berth/internal/archive/tartest"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/testenv"
)

// jail is a root to apply into, with a sentinel directory beside it that
// no archive may touch.
type jail struct {
	base, root, sentinel string
	before               []string // every path under base, before
}

func newJail(t *testing.T) *jail {
	t.Helper()
	base := t.TempDir()
	j := &jail{base: base, root: filepath.Join(base, "root"), sentinel: filepath.Join(base, "sentinel")}
	for _, d := range []string{j.root, j.sentinel} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(j.sentinel, "secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	return j
}

// snapshot records what is outside root, after setup wrote inside it.
func (j *jail) snapshot(t *testing.T) {
	t.Helper()
	j.before = j.outside(t)
}

// outside lists every path under base that is not under root, with its
// metadata, so that any change there shows.
func (j *jail) outside(t *testing.T) []string {
	t.Helper()
	tree, err := archivetest.ReadTree(j.base)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for p, n := range tree {
		if p == "root" || strings.HasPrefix(p, "root/") {
			continue
		}
		if p == "." {
			n.Mtime = n.Mtime.Round(0) // base's mtime is not ours to keep
		}
		out = append(out, p+" "+nodeString(n))
	}
	slices.Sort(out)
	return out
}

func nodeString(n archivetest.Node) string {
	var b strings.Builder
	b.WriteString(n.Type.String())
	b.WriteString(" ")
	b.WriteString(n.Mtime.String())
	b.WriteString(" " + n.Digest)
	for _, l := range n.Links {
		b.WriteString(" link:" + l)
	}
	return b.String() + " " + string(rune('0'+n.Mode%8))
}

func (j *jail) checkOutside(t *testing.T) {
	t.Helper()
	after := j.outside(t)
	if !slices.Equal(j.before, after) {
		t.Errorf("outside root changed:\nbefore %q\nafter  %q", j.before, after)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(j.sentinel, "secret"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Nlink != 1 {
		t.Errorf("sentinel has %d links", st.Nlink)
	}
	if b, _ := os.ReadFile("/etc/passwd"); bytes.Contains(b, []byte("pwned")) {
		t.Fatal("/etc/passwd written")
	}
}

var modes = []struct {
	name string
	opt  archive.ApplyOpt
}{
	{"delete", archive.WithDeleteWhiteouts()},
	{"overlay", archive.WithOverlayWhiteouts()},
}

// TestBreakouts applies hostile layers: each must be refused with the
// error class given, and nothing outside root may change, in both
// whiteout modes.
func TestBreakouts(t *testing.T) {
	testenv.RequireRoot(t)
	big := strings.Repeat("x", 2<<20)
	cases := []struct {
		name string
		// layer builds the archive; sentinel is the absolute path of the
		// directory beside root.
		layer func(sentinel string) []tartest.Entry
		opts  []archive.ApplyOpt
		err   error
	}{
		{"DotDot", func(string) []tartest.Entry {
			return []tartest.Entry{tartest.File("../sentinel/evil", "pwned", 0o644)}
		}, nil, archive.ErrBreakout},
		{"DotDotInside", func(string) []tartest.Entry {
			return []tartest.Entry{tartest.Dir("a", 0o755), tartest.File("a/../../sentinel/evil", "pwned", 0o644)}
		}, nil, archive.ErrBreakout},
		{"AbsoluteDotDot", func(string) []tartest.Entry {
			return []tartest.Entry{tartest.File("/../sentinel/evil", "pwned", 0o644)}
		}, nil, archive.ErrBreakout},
		{"DirDotDot", func(string) []tartest.Entry {
			return []tartest.Entry{tartest.Dir("../sentinel/newdir", 0o755)}
		}, nil, archive.ErrBreakout},
		{"LongNameDotDotGNU", func(string) []tartest.Entry {
			return []tartest.Entry{tartest.File(strings.Repeat("a/", 80)+strings.Repeat("../", 81)+"sentinel/evil", "pwned", 0o644, tartest.GNU())}
		}, nil, archive.ErrBreakout},
		{"LongNameDotDotPAX", func(string) []tartest.Entry {
			return []tartest.Entry{tartest.File(strings.Repeat("b/", 80)+strings.Repeat("../", 81)+"sentinel/evil", "pwned", 0o644)}
		}, nil, archive.ErrBreakout},
		{"SymlinkAbsoluteThenWrite", func(s string) []tartest.Entry {
			return []tartest.Entry{tartest.Symlink("link", s), tartest.File("link/evil", "pwned", 0o644)}
		}, nil, archive.ErrBreakout},
		{"SymlinkEtcThenWrite", func(string) []tartest.Entry {
			return []tartest.Entry{tartest.Symlink("link", "/etc"), tartest.File("link/passwd", "pwned", 0o644)}
		}, nil, archive.ErrBreakout},
		{"SymlinkThenDir", func(s string) []tartest.Entry {
			return []tartest.Entry{tartest.Symlink("link", s), tartest.Dir("link/newdir", 0o755)}
		}, nil, archive.ErrBreakout},
		{"SymlinkThenSymlink", func(s string) []tartest.Entry {
			return []tartest.Entry{tartest.Symlink("link", s), tartest.Symlink("link/evil", "/x")}
		}, nil, archive.ErrBreakout},
		{"SymlinkThenFifo", func(s string) []tartest.Entry {
			return []tartest.Entry{tartest.Symlink("link", s), tartest.Fifo("link/evil", 0o644)}
		}, nil, archive.ErrBreakout},
		{"SymlinkRelativeEscape", func(string) []tartest.Entry {
			return []tartest.Entry{tartest.Symlink("link", "../sentinel"), tartest.File("link/evil", "pwned", 0o644)}
		}, nil, archive.ErrBreakout},
		{"SymlinkRelativeEscapeDeep", func(string) []tartest.Entry {
			return []tartest.Entry{tartest.Dir("a", 0o755), tartest.Symlink("a/link", "../../../../sentinel")}
		}, nil, archive.ErrBreakout},
		{"SymlinkChain", func(s string) []tartest.Entry {
			return []tartest.Entry{
				tartest.Symlink("a", "b"),
				tartest.Symlink("b", s),
				tartest.File("a/evil", "pwned", 0o644),
			}
		}, nil, archive.ErrBreakout},
		{"SymlinkChainThroughDir", func(s string) []tartest.Entry {
			return []tartest.Entry{
				tartest.Dir("d", 0o755),
				tartest.Symlink("d/up", ".."),
				tartest.Symlink("out", s),
				tartest.File("d/up/out/evil", "pwned", 0o644),
			}
		}, nil, archive.ErrBreakout},
		{"SymlinkLoop", func(string) []tartest.Entry {
			return []tartest.Entry{tartest.Symlink("a", "b"), tartest.Symlink("b", "a"), tartest.File("a/x", "x", 0o644)}
		}, nil, archive.ErrBreakout},
		{"HardlinkDotDot", func(string) []tartest.Entry {
			return []tartest.Entry{tartest.Link("evil", "../sentinel/secret")}
		}, nil, archive.ErrBreakout},
		{"HardlinkDotDotDeep", func(string) []tartest.Entry {
			return []tartest.Entry{tartest.Dir("a", 0o755), tartest.Link("a/evil", "a/../../sentinel/secret")}
		}, nil, archive.ErrBreakout},
		{"HardlinkThroughSymlink", func(s string) []tartest.Entry {
			return []tartest.Entry{tartest.Symlink("link", s), tartest.Link("evil", "link/secret")}
		}, nil, archive.ErrBreakout},
		{"HardlinkThroughSymlinkChain", func(s string) []tartest.Entry {
			return []tartest.Entry{tartest.Symlink("a", "b"), tartest.Symlink("b", s), tartest.Link("evil", "a/secret")}
		}, nil, archive.ErrBreakout},
		{"HardlinkHostPath", func(s string) []tartest.Entry {
			// "/host/path" means root's host/path, which does not exist.
			return []tartest.Entry{tartest.Link("evil", s+"/secret")}
		}, nil, os.ErrNotExist},
		{"WhiteoutRoot", func(string) []tartest.Entry {
			return []tartest.Entry{tartest.File(".wh..", "", 0o644)}
		}, nil, archive.ErrBreakout},
		{"WhiteoutRootParent", func(string) []tartest.Entry {
			return []tartest.Entry{tartest.File(".wh...", "", 0o644)}
		}, nil, archive.ErrBreakout},
		{"WhiteoutCurrentDir", func(string) []tartest.Entry {
			return []tartest.Entry{tartest.Dir("a", 0o755), tartest.File("a/.wh..", "", 0o644)}
		}, nil, archive.ErrBreakout},
		{"WhiteoutParentDir", func(string) []tartest.Entry {
			return []tartest.Entry{tartest.Dir("a", 0o755), tartest.File("a/.wh...", "", 0o644)}
		}, nil, archive.ErrBreakout},
		{"WhiteoutSentinel", func(string) []tartest.Entry {
			return []tartest.Entry{tartest.Whiteout("../sentinel")}
		}, nil, archive.ErrBreakout},
		{"WhiteoutDotDotPath", func(string) []tartest.Entry {
			return []tartest.Entry{tartest.Whiteout("a/../../sentinel/secret")}
		}, nil, archive.ErrBreakout},
		{"WhiteoutThroughSymlink", func(s string) []tartest.Entry {
			return []tartest.Entry{tartest.Symlink("link", s), tartest.Whiteout("link/secret")}
		}, nil, archive.ErrBreakout},
		{"OpaqueThroughSymlink", func(s string) []tartest.Entry {
			return []tartest.Entry{tartest.Symlink("link", s), tartest.Opaque("link")}
		}, nil, archive.ErrBreakout},
		{"OpaqueDotDot", func(string) []tartest.Entry {
			return []tartest.Entry{tartest.Opaque("../sentinel")}
		}, nil, archive.ErrBreakout},
		{"RootAsSymlink", func(s string) []tartest.Entry {
			return []tartest.Entry{tartest.Symlink(".", s), tartest.File("evil", "pwned", 0o644)}
		}, nil, archive.ErrInvalidArchive},
		{"RootAsSymlinkSlash", func(s string) []tartest.Entry {
			return []tartest.Entry{tartest.Symlink("/", s)}
		}, nil, archive.ErrInvalidArchive},
		{"EmptyName", func(s string) []tartest.Entry {
			return []tartest.Entry{tartest.Symlink("", s)}
		}, nil, archive.ErrInvalidArchive},
		{"NegativeSize", func(string) []tartest.Entry {
			// base-256: 0xff followed by all ones is -1.
			field := append([]byte{0xff}, bytes.Repeat([]byte{0xff}, 11)...)
			return []tartest.Entry{tartest.RawHeader("neg", '0', field, nil)}
		}, nil, archive.ErrInvalidArchive},
		{"SizeOverLimit", func(string) []tartest.Entry {
			return []tartest.Entry{tartest.File("big", big, 0o644)}
		}, []archive.ApplyOpt{archive.WithSizeLimit(1 << 20)}, archive.ErrInvalidArchive},
		{"DeclaredSizeAbsurd", func(string) []tartest.Entry {
			return []tartest.Entry{tartest.RawHeader("huge", '0', []byte("77777777777\x00"), []byte("short"))}
		}, []archive.ApplyOpt{archive.WithSizeLimit(1 << 20)}, archive.ErrInvalidArchive},
		{"ManyEntriesOverLimit", func(string) []tartest.Entry {
			var es []tartest.Entry
			for i := range 300 {
				es = append(es, tartest.File("f"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+string(rune('a'+i/26)), strings.Repeat("y", 4000), 0o644))
			}
			return es
		}, []archive.ApplyOpt{archive.WithSizeLimit(1 << 20)}, archive.ErrInvalidArchive},
		{"TruncatedContent", func(string) []tartest.Entry {
			return []tartest.Entry{tartest.RawHeader("trunc", '0', []byte("00000010000\x00"), []byte("short"))}
		}, nil, archive.ErrInvalidArchive},
		{"CharDeviceDenied", func(string) []tartest.Entry {
			return []tartest.Entry{tartest.Dir("dev", 0o755), tartest.Char("dev/mem", 1, 1, 0o666)}
		}, []archive.ApplyOpt{archive.WithDevicePolicy(archive.DevicesDeny)}, errdefs.ErrForbidden},
		{"BlockDeviceDenied", func(string) []tartest.Entry {
			return []tartest.Entry{tartest.Block("sda", 8, 0, 0o666)}
		}, []archive.ApplyOpt{archive.WithDevicePolicy(archive.DevicesDeny)}, errdefs.ErrForbidden},
		{"UnknownType", func(string) []tartest.Entry {
			return []tartest.Entry{tartest.RawHeader("weird", 'Z', []byte("00000000000\x00"), nil)}
		}, nil, archive.ErrInvalidArchive},
		{"Garbage", func(string) []tartest.Entry {
			return []tartest.Entry{tartest.Raw(bytes.Repeat([]byte("garbage!"), 64))}
		}, nil, archive.ErrInvalidArchive},
	}
	for _, m := range modes {
		for _, c := range cases {
			t.Run(m.name+"/"+c.name, func(t *testing.T) {
				j := newJail(t)
				j.snapshot(t)
				layer := tartest.Build(c.layer(j.sentinel)...)
				_, err := archive.Apply(context.Background(), j.root, bytes.NewReader(layer), append([]archive.ApplyOpt{m.opt}, c.opts...)...)
				if err == nil {
					t.Fatalf("Apply succeeded; want %v", c.err)
				}
				if !errors.Is(err, c.err) {
					t.Errorf("Apply: %v; want %v", err, c.err)
				}
				t.Logf("refused: %v", err)
				j.checkOutside(t)
				if _, err := os.Lstat(filepath.Join(j.root, "evil")); err == nil && c.name != "HardlinkHostPath" {
					t.Errorf("root/evil was made")
				}
			})
		}
	}
}

// TestContainment applies layers that are legitimate, or that a lower
// layer made dangerous, and checks where their writes land: always inside
// root.
func TestContainment(t *testing.T) {
	testenv.RequireRoot(t)
	cases := []struct {
		name string
		// setup plants what lower layers left in root (merged root only).
		setup func(t *testing.T, root, sentinel string)
		layer func(sentinel string) []tartest.Entry
		check func(t *testing.T, root, sentinel string)
		modes []string
	}{
		{
			name: "AbsoluteNamesAreRootRelative",
			layer: func(string) []tartest.Entry {
				return []tartest.Entry{tartest.Dir("/etc", 0o755), tartest.File("/etc/passwd", "root", 0o644)}
			},
			check: fileIs("etc/passwd", "root"),
		},
		{
			name: "DotDotThatStaysInside",
			layer: func(string) []tartest.Entry {
				return []tartest.Entry{tartest.Dir("a", 0o755), tartest.File("a/../b", "b", 0o644)}
			},
			check: fileIs("b", "b"),
		},
		{
			name: "SymlinkTargetsKeptVerbatim",
			layer: func(s string) []tartest.Entry {
				return []tartest.Entry{tartest.Symlink("abs", s), tartest.Symlink("etc", "/etc"), tartest.Dir("d", 0o755), tartest.Symlink("d/up", "../x")}
			},
			check: func(t *testing.T, root, s string) {
				linkIs(t, root, "abs", s)
				linkIs(t, root, "etc", "/etc")
				linkIs(t, root, "d/up", "../x")
			},
		},
		{
			name: "HardlinkToSymlinkLinksTheSymlink",
			layer: func(s string) []tartest.Entry {
				return []tartest.Entry{tartest.Symlink("link", s+"/secret"), tartest.Link("hard", "link")}
			},
			check: func(t *testing.T, root, s string) {
				linkIs(t, root, "hard", s+"/secret")
				var a, b unix.Stat_t
				if err := unix.Lstat(filepath.Join(root, "hard"), &a); err != nil {
					t.Fatal(err)
				}
				if err := unix.Lstat(filepath.Join(root, "link"), &b); err != nil {
					t.Fatal(err)
				}
				if a.Ino != b.Ino {
					t.Error("hard is not a link of the symlink")
				}
			},
		},
		{
			name: "HardlinkAbsoluteInside",
			layer: func(string) []tartest.Entry {
				return []tartest.Entry{tartest.Dir("etc", 0o755), tartest.File("etc/passwd", "inside", 0o644), tartest.Link("copy", "/etc/passwd")}
			},
			check: sameInode("copy", "etc/passwd"),
		},
		{
			name: "OverlayPrivateXattrsDropped",
			layer: func(string) []tartest.Entry {
				return []tartest.Entry{tartest.Dir("d", 0o755, tartest.Xattr("trusted.overlay.redirect", "/etc"), tartest.Xattr("trusted.overlay.opaque", "y"), tartest.Xattr("user.overlay.metacopy", ""))}
			},
			check: func(t *testing.T, root, _ string) {
				buf := make([]byte, 1024)
				n, _ := unix.Llistxattr(filepath.Join(root, "d"), buf)
				if strings.Contains(string(buf[:n]), "overlay") {
					t.Errorf("overlay xattrs kept: %q", buf[:n])
				}
			},
		},
		{
			name:  "PlantedAbsoluteSymlink",
			modes: []string{"delete"},
			setup: func(t *testing.T, root, s string) {
				if err := os.Symlink(s, filepath.Join(root, "planted")); err != nil {
					t.Fatal(err)
				}
			},
			layer: func(string) []tartest.Entry {
				return []tartest.Entry{tartest.File("planted/evil", "contained", 0o644)}
			},
			check: func(t *testing.T, root, s string) {
				fileIs(filepath.Join(s, "evil"), "contained")(t, root, s)
			},
		},
		{
			name:  "PlantedRelativeEscapingSymlink",
			modes: []string{"delete"},
			setup: func(t *testing.T, root, s string) {
				if err := os.Symlink("../../../../..", filepath.Join(root, "up")); err != nil {
					t.Fatal(err)
				}
			},
			layer: func(string) []tartest.Entry {
				return []tartest.Entry{tartest.File("up/sentinel/evil", "contained", 0o644), tartest.Link("up/sentinel/hard", "up/sentinel/evil")}
			},
			check: fileIs("sentinel/evil", "contained"),
		},
		{
			name:  "PlantedSymlinkWhiteout",
			modes: []string{"delete"},
			setup: func(t *testing.T, root, s string) {
				if err := os.Symlink(s, filepath.Join(root, "planted")); err != nil {
					t.Fatal(err)
				}
			},
			layer: func(string) []tartest.Entry {
				// Resolves to root's own <sentinel path>/secret, absent.
				return []tartest.Entry{tartest.Whiteout("planted/secret"), tartest.Opaque("planted")}
			},
			check: func(*testing.T, string, string) {},
		},
		{
			name:  "WhiteoutOfSymlinkRemovesTheLink",
			modes: []string{"delete"},
			setup: func(t *testing.T, root, s string) {
				if err := os.Symlink(s, filepath.Join(root, "planted")); err != nil {
					t.Fatal(err)
				}
			},
			layer: func(string) []tartest.Entry {
				return []tartest.Entry{tartest.Whiteout("planted")}
			},
			check: func(t *testing.T, root, _ string) {
				if _, err := os.Lstat(filepath.Join(root, "planted")); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("planted: %v", err)
				}
			},
		},
		{
			name:  "DirectoryOverPlantedSymlink",
			modes: []string{"delete"},
			setup: func(t *testing.T, root, s string) {
				if err := os.Symlink(s, filepath.Join(root, "planted")); err != nil {
					t.Fatal(err)
				}
			},
			layer: func(string) []tartest.Entry {
				return []tartest.Entry{tartest.Dir("planted", 0o755), tartest.File("planted/secret", "mine", 0o644)}
			},
			check: fileIs("planted/secret", "mine"),
		},
	}
	for _, m := range modes {
		for _, c := range cases {
			if c.modes != nil && !slices.Contains(c.modes, m.name) {
				continue
			}
			t.Run(m.name+"/"+c.name, func(t *testing.T) {
				j := newJail(t)
				if c.setup != nil {
					c.setup(t, j.root, j.sentinel)
				}
				j.snapshot(t)
				layer := tartest.Build(c.layer(j.sentinel)...)
				if _, err := archive.Apply(context.Background(), j.root, bytes.NewReader(layer), m.opt); err != nil {
					t.Fatalf("Apply: %v", err)
				}
				j.checkOutside(t)
				c.check(t, j.root, j.sentinel)
			})
		}
	}
}

func fileIs(rel, content string) func(t *testing.T, root, sentinel string) {
	return func(t *testing.T, root, _ string) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != content {
			t.Errorf("%s = %q, want %q", rel, b, content)
		}
	}
}

func linkIs(t *testing.T, root, rel, target string) {
	t.Helper()
	l, err := os.Readlink(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	if l != target {
		t.Errorf("%s -> %q, want %q", rel, l, target)
	}
}

func sameInode(a, b string) func(t *testing.T, root, sentinel string) {
	return func(t *testing.T, root, _ string) {
		t.Helper()
		var x, y unix.Stat_t
		if err := unix.Lstat(filepath.Join(root, a), &x); err != nil {
			t.Fatal(err)
		}
		if err := unix.Lstat(filepath.Join(root, b), &y); err != nil {
			t.Fatal(err)
		}
		if x.Ino != y.Ino {
			t.Errorf("%s and %s are not the same file", a, b)
		}
	}
}
