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
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/archive"
	"github.com/berth-project/berth/internal/archive/archivetest"
	"github.com/berth-project/berth/internal/testenv"
)

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v\n%s", err, out)
	}
}

func setMtime(t *testing.T, p string, tm time.Time) {
	t.Helper()
	ts := []unix.Timespec{unix.NsecToTimespec(tm.UnixNano()), unix.NsecToTimespec(tm.UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		t.Fatal(err)
	}
}

// TestTwoTreeDiff compares two plain trees (the copy snapshotter's case):
// the diff applied onto a copy of lower gives upper, and Changes lists
// what docker diff would.
func TestTwoTreeDiff(t *testing.T) {
	testenv.RequireRoot(t)
	base := t.TempDir()
	lower, upper := filepath.Join(base, "lower"), filepath.Join(base, "upper")
	if err := os.Mkdir(lower, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, lower, `
		mkdir -p etc keep/deep gone/sub typ/dir2file
		echo root > etc/passwd
		echo same > etc/same
		echo aaaa > etc/samesize
		echo mode > etc/mode
		echo owner > etc/owner
		echo attr > etc/attr
		ln -s one etc/link
		echo f > typ/file2dir
		echo child > typ/dir2file/child
		echo g > gone/sub/g
		echo rm > etc/rm
		echo deep > keep/deep/file
		mkfifo etc/fifo
	`)
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	run(t, lower, `find . -exec touch -h -d '2020-01-01 00:00:00Z' {} +`)
	copyTree(t, lower, upper)
	run(t, upper, `
		echo root2 > etc/passwd
		echo bbbb > etc/samesize
		chmod 0600 etc/mode
		chown 12:34 etc/owner
		ln -sfn two etc/link
		rm typ/file2dir && mkdir typ/file2dir && echo n > typ/file2dir/n
		rm -r typ/dir2file && echo now-a-file > typ/dir2file
		rm -r gone
		rm etc/rm
		mkdir -p added/sub && echo a > added/sub/a && ln added/sub/a added/hard
	`)
	if err := unix.Setxattr(filepath.Join(upper, "etc/attr"), "user.x", []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	// etc/samesize: same size, new mtime, new content: a change.
	setMtime(t, filepath.Join(upper, "etc/samesize"), old.Add(time.Hour))
	// etc/same: only its mtime differs, content is equal: not a change.
	setMtime(t, filepath.Join(upper, "etc/same"), old.Add(2*time.Hour))

	got, err := archive.Changes(context.Background(), lower, upper)
	if err != nil {
		t.Fatal(err)
	}
	checkChanges(t, got, []string{
		"A /added", "A /added/hard", "A /added/sub", "A /added/sub/a",
		"C /etc", "C /etc/attr", "C /etc/link", "C /etc/mode", "C /etc/owner", "C /etc/passwd", "D /etc/rm", "C /etc/samesize",
		"D /gone",
		"C /typ", "C /typ/dir2file", "C /typ/file2dir", "A /typ/file2dir/n",
	})

	var diff bytes.Buffer
	if err := archive.WriteDiff(context.Background(), &diff, lower, upper); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(base, "dst")
	copyTree(t, lower, dst)
	if _, err := archive.Apply(context.Background(), dst, bytes.NewReader(diff.Bytes())); err != nil {
		t.Fatal(err)
	}
	// etc/same keeps lower's mtime: an mtime-only change is not in the
	// diff, by the comparison's rule.
	setMtime(t, filepath.Join(dst, "etc/same"), old.Add(2*time.Hour))
	if err := archivetest.Compare(upper, dst); err != nil {
		t.Fatal(err)
	}
	names := tarNames(t, diff.Bytes())
	for _, n := range names {
		if n == "keep/" || n == "keep/deep/file" {
			t.Errorf("unchanged %s in the diff", n)
		}
	}
	// The diff of a tree with itself is empty.
	if c, err := archive.Changes(context.Background(), upper, upper); err != nil || len(c) != 0 {
		t.Errorf("Changes(upper, upper) = %v, %v", c, err)
	}
	// From nothing, everything is added.
	c, err := archive.Changes(context.Background(), "", lower)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range c {
		if ch.Kind != archive.ChangeAdd {
			t.Errorf("Changes from empty: %v", ch)
		}
	}
}

// hookWriter calls on with the name of each tar header block written
// through it, before passing the block on.
type hookWriter struct {
	buf bytes.Buffer
	on  func(name string)
}

func (h *hookWriter) Write(p []byte) (int, error) {
	if len(p) == 512 {
		if name := string(bytes.TrimRight(p[:100], "\x00")); name != "" {
			h.on(name)
		}
	}
	return h.buf.Write(p)
}

// TestDiffOfAChangingTree reads a tree whose files go away while it is
// read, as a running container's layer does under commit without pause:
// a file removed after its directory was listed is left out, one removed
// after its header was written is an entry of zeros of the announced
// size, and a directory removed after its header has no children; none
// of it is an error.
func TestDiffOfAChangingTree(t *testing.T) {
	testenv.RequireRoot(t)
	lower, upper := t.TempDir(), t.TempDir()
	run(t, upper, `
		echo a > a; echo b > b; echo cccc > c; echo e > e
		mkdir d; echo x > d/x
	`)
	h := &hookWriter{on: func(name string) {
		switch name {
		case "a":
			os.Remove(filepath.Join(upper, "b"))
		case "c":
			os.Remove(filepath.Join(upper, "c"))
		case "d/":
			os.RemoveAll(filepath.Join(upper, "d"))
		}
	}}
	if err := archive.WriteDiff(context.Background(), h, lower, upper); err != nil {
		t.Fatalf("WriteDiff: %v", err)
	}
	type entry struct {
		name string
		size int64
		body string
	}
	var got []entry
	tr := tar.NewReader(&h.buf)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, entry{hdr.Name, hdr.Size, string(body)})
	}
	want := []entry{{"a", 2, "a\n"}, {"c", 5, "\x00\x00\x00\x00\x00"}, {"d/", 0, ""}, {"e", 2, "e\n"}}
	if !slices.Equal(got, want) {
		t.Errorf("entries %+v, want %+v", got, want)
	}
}
