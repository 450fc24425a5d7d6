//go:build linux

package snapshottest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/snapshot"
)

// checkBasic: prepare, write, commit, prepare on top, change, commit, view
// the result.
func checkBasic(ctx context.Context, t *testing.T, sn snapshot.Snapshotter, work string) {
	mounts, err := sn.Prepare(ctx, "base-active", "")
	must(t, err)
	if len(mounts) == 0 {
		t.Fatal("Prepare returned no mounts")
	}
	dir := mountAt(t, work, mounts)
	writeFile(t, filepath.Join(dir, "foo"), "foo\n", 0o644)
	mkdir(t, filepath.Join(dir, "a", "b", "c"), 0o755)
	unmount(t, dir)

	info, err := sn.Stat(ctx, "base-active")
	must(t, err)
	if info.Kind != snapshot.KindActive || info.Name != "base-active" || info.Parent != "" {
		t.Errorf("Stat of the active snapshot = %+v", info)
	}

	must(t, sn.Commit(ctx, "base", "base-active"))
	if _, err := sn.Stat(ctx, "base-active"); !errdefs.IsNotFound(err) {
		t.Errorf("Stat of a committed key: %v, want NotFound", err)
	}
	info, err = sn.Stat(ctx, "base")
	must(t, err)
	if info.Kind != snapshot.KindCommitted || info.Name != "base" || info.Parent != "" {
		t.Errorf("Stat of the committed snapshot = %+v", info)
	}

	mounts, err = sn.Prepare(ctx, "next-active", "base")
	must(t, err)
	dir = mountAt(t, work, mounts)
	checkTree(t, dir, map[string]string{
		"foo": "file 0644 foo\n", "a": "dir 0755", "a/b": "dir 0755", "a/b/c": "dir 0755",
	})
	writeFile(t, filepath.Join(dir, "foo"), "bar\n", 0o644)
	writeFile(t, filepath.Join(dir, "bar"), "bar\n", 0o600)
	must(t, os.RemoveAll(filepath.Join(dir, "a", "b")))
	unmount(t, dir)
	must(t, sn.Commit(ctx, "next", "next-active"))

	info, err = sn.Stat(ctx, "next")
	must(t, err)
	if info.Parent != "base" || info.Kind != snapshot.KindCommitted {
		t.Errorf("Stat of the second layer = %+v", info)
	}
	want := map[string]string{"foo": "file 0644 bar\n", "bar": "file 0600 bar\n", "a": "dir 0755"}
	if d := diffTrees(viewTree(ctx, t, sn, work, "next"), want); d != "" {
		t.Errorf("view of the second layer:\n%s", d)
	}
	// The first layer is unchanged under the second.
	if d := diffTrees(viewTree(ctx, t, sn, work, "base"), map[string]string{
		"foo": "file 0644 foo\n", "a": "dir 0755", "a/b": "dir 0755", "a/b/c": "dir 0755",
	}); d != "" {
		t.Errorf("view of the first layer:\n%s", d)
	}
}

// checkKinds: Stat and Mounts of each kind.
func checkKinds(ctx context.Context, t *testing.T, sn snapshot.Snapshotter, work string) {
	layer(ctx, t, sn, work, "c1", "", func(dir string) { writeFile(t, filepath.Join(dir, "f"), "1", 0o644) })
	_, err := sn.Prepare(ctx, "active", "c1")
	must(t, err)
	_, err = sn.View(ctx, "view", "c1")
	must(t, err)
	for key, kind := range map[string]snapshot.Kind{"c1": snapshot.KindCommitted, "active": snapshot.KindActive, "view": snapshot.KindView} {
		info, err := sn.Stat(ctx, key)
		must(t, err)
		if info.Kind != kind || info.Name != key {
			t.Errorf("Stat(%s) = %+v, want kind %v", key, info, kind)
		}
		if key != "c1" && info.Parent != "c1" {
			t.Errorf("Stat(%s).Parent = %q, want c1", key, info.Parent)
		}
		if info.Created.IsZero() || info.Updated.Before(info.Created) {
			t.Errorf("Stat(%s) times: created %v, updated %v", key, info.Created, info.Updated)
		}
	}
	for _, key := range []string{"active", "view"} {
		m, err := sn.Mounts(ctx, key)
		must(t, err)
		if ro := m[0].ReadOnly(); ro != (key == "view") {
			t.Errorf("Mounts(%s) read-only = %v", key, ro)
		}
	}
	if got := snapshot.KindView.String() + snapshot.KindActive.String() + snapshot.KindCommitted.String() + snapshot.KindUnknown.String(); got != "ViewActiveCommittedUnknown" {
		t.Errorf("Kind strings: %s", got)
	}
}

// checkParentChain: a chain of layers adding, changing and removing
// files, directories and links, viewed at every level.
func checkParentChain(ctx context.Context, t *testing.T, sn snapshot.Snapshotter, work string) {
	steps := []struct {
		change func(dir string)
		want   map[string]string
	}{
		{func(dir string) {
			writeFile(t, filepath.Join(dir, "etc", "conf"), "v1", 0o644)
			writeFile(t, filepath.Join(dir, "bin", "tool"), "#!/bin/sh\n", 0o755)
			writeFile(t, filepath.Join(dir, "dir", "old", "x"), "x", 0o644)
			must(t, os.Symlink("../etc/conf", filepath.Join(dir, "bin", "link")))
		}, map[string]string{
			"etc": "dir 0755", "etc/conf": "file 0644 v1", "bin": "dir 0755", "bin/tool": "file 0755 #!/bin/sh\n",
			"bin/link": "symlink ../etc/conf", "dir": "dir 0755", "dir/old": "dir 0755", "dir/old/x": "file 0644 x",
		}},
		{func(dir string) {
			writeFile(t, filepath.Join(dir, "etc", "conf"), "v2", 0o600)
			must(t, os.Remove(filepath.Join(dir, "bin", "link")))
			// A directory replaced by a new one of the same name must
			// not show the old one's files (overlay: opaque).
			must(t, os.RemoveAll(filepath.Join(dir, "dir", "old")))
			writeFile(t, filepath.Join(dir, "dir", "old", "y"), "y", 0o644)
		}, map[string]string{
			"etc": "dir 0755", "etc/conf": "file 0600 v2", "bin": "dir 0755", "bin/tool": "file 0755 #!/bin/sh\n",
			"dir": "dir 0755", "dir/old": "dir 0755", "dir/old/y": "file 0644 y",
		}},
		{func(dir string) {
			must(t, os.Rename(filepath.Join(dir, "bin", "tool"), filepath.Join(dir, "tool")))
			must(t, os.Remove(filepath.Join(dir, "bin")))
			chmod(t, filepath.Join(dir, "etc"), 0o700)
		}, map[string]string{
			"etc": "dir 0700", "etc/conf": "file 0600 v2", "tool": "file 0755 #!/bin/sh\n",
			"dir": "dir 0755", "dir/old": "dir 0755", "dir/old/y": "file 0644 y",
		}},
		{func(dir string) {
			// A file where a directory was, and back.
			must(t, os.RemoveAll(filepath.Join(dir, "dir")))
			writeFile(t, filepath.Join(dir, "dir"), "now a file", 0o644)
		}, map[string]string{
			"etc": "dir 0700", "etc/conf": "file 0600 v2", "tool": "file 0755 #!/bin/sh\n", "dir": "file 0644 now a file",
		}},
	}
	parent := ""
	for i, s := range steps {
		name := fmt.Sprintf("layer%d", i)
		layer(ctx, t, sn, work, name, parent, s.change)
		info, err := sn.Stat(ctx, name)
		must(t, err)
		if info.Parent != parent {
			t.Errorf("%s: parent %q, want %q", name, info.Parent, parent)
		}
		parent = name
	}
	for i, s := range steps {
		name := fmt.Sprintf("layer%d", i)
		if d := diffTrees(viewTree(ctx, t, sn, work, name), s.want); d != "" {
			t.Errorf("view of %s:\n%s", name, d)
		}
	}
	// An active snapshot shows its parent chain too.
	mounts, err := sn.Prepare(ctx, "top", parent)
	must(t, err)
	dir := mountAt(t, work, mounts)
	checkTree(t, dir, steps[len(steps)-1].want)
	unmount(t, dir)
}

// checkMetadata: owners, modes, times, xattrs, special files and hard
// links survive a commit and show in the child.
func checkMetadata(ctx context.Context, t *testing.T, sn snapshot.Snapshotter, work string) {
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 7000, time.UTC)
	layer(ctx, t, sn, work, "meta", "", func(dir string) {
		chmod(t, dir, 0o750)
		writeFile(t, filepath.Join(dir, "owned"), "o", 0o640)
		must(t, os.Lchown(filepath.Join(dir, "owned"), 1000, 1001))
		writeFile(t, filepath.Join(dir, "setuid"), "s", 0o755)
		chmod(t, filepath.Join(dir, "setuid"), 0o4755)
		mkdir(t, filepath.Join(dir, "sticky"), 0o1777)
		writeFile(t, filepath.Join(dir, "hard1"), "h", 0o644)
		must(t, os.Link(filepath.Join(dir, "hard1"), filepath.Join(dir, "hard2")))
		must(t, unix.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
		must(t, unix.Mknod(filepath.Join(dir, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
		must(t, os.Symlink("owned", filepath.Join(dir, "symlink")))
		must(t, os.Lchown(filepath.Join(dir, "symlink"), 1000, 1000))
		must(t, unix.Lsetxattr(filepath.Join(dir, "owned"), "user.berth", []byte("value"), 0))
		must(t, os.Chtimes(filepath.Join(dir, "owned"), mtime, mtime))
	})
	mounts, err := sn.Prepare(ctx, "child", "meta")
	must(t, err)
	dir := mountAt(t, work, mounts)

	root := lstat(t, dir)
	if root.Mode&0o7777 != 0o750 {
		t.Errorf("root mode %o, want 750", root.Mode&0o7777)
	}
	owned := lstat(t, filepath.Join(dir, "owned"))
	if owned.Uid != 1000 || owned.Gid != 1001 || owned.Mode&0o7777 != 0o640 {
		t.Errorf("owned: uid %d gid %d mode %o", owned.Uid, owned.Gid, owned.Mode&0o7777)
	}
	if got := time.Unix(owned.Mtim.Unix()); !got.Equal(mtime) {
		t.Errorf("owned: mtime %v, want %v", got, mtime)
	}
	buf := make([]byte, 64)
	n, err := unix.Lgetxattr(filepath.Join(dir, "owned"), "user.berth", buf)
	if err != nil || string(buf[:n]) != "value" {
		t.Errorf("owned: xattr %q, %v", buf[:max(n, 0)], err)
	}
	if m := lstat(t, filepath.Join(dir, "setuid")).Mode & 0o7777; m != 0o4755 {
		t.Errorf("setuid: mode %o", m)
	}
	if m := lstat(t, filepath.Join(dir, "sticky")).Mode & 0o7777; m != 0o1777 {
		t.Errorf("sticky: mode %o", m)
	}
	h1, h2 := lstat(t, filepath.Join(dir, "hard1")), lstat(t, filepath.Join(dir, "hard2"))
	if h1.Ino != h2.Ino || h1.Nlink != 2 {
		t.Errorf("hard links: inodes %d and %d, nlink %d", h1.Ino, h2.Ino, h1.Nlink)
	}
	if m := lstat(t, filepath.Join(dir, "fifo")).Mode; m&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("fifo: mode %o", m)
	}
	if st := lstat(t, filepath.Join(dir, "null")); st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("device: mode %o rdev %d", st.Mode, st.Rdev)
	}
	if st := lstat(t, filepath.Join(dir, "symlink")); st.Uid != 1000 {
		t.Errorf("symlink: uid %d", st.Uid)
	}
	unmount(t, dir)
}

// checkRemoveOrder: children first; a parent with children is Conflict.
func checkRemoveOrder(ctx context.Context, t *testing.T, sn snapshot.Snapshotter, work string) {
	noop := func(string) {}
	layer(ctx, t, sn, work, "a", "", noop)
	layer(ctx, t, sn, work, "b", "a", noop)
	_, err := sn.Prepare(ctx, "c", "b")
	must(t, err)
	_, err = sn.View(ctx, "v", "b")
	must(t, err)

	for _, key := range []string{"a", "b"} {
		err := sn.Remove(ctx, key)
		if !errdefs.IsConflict(err) || errdefs.IsAlreadyExists(err) {
			t.Errorf("Remove(%s) with children: %v, want Conflict", key, err)
		}
		if _, err := sn.Stat(ctx, key); err != nil {
			t.Errorf("a refused Remove(%s) changed it: %v", key, err)
		}
	}
	must(t, sn.Remove(ctx, "c"))
	if err := sn.Remove(ctx, "b"); !errdefs.IsConflict(err) {
		t.Errorf("Remove(b) with a view on it: %v, want Conflict", err)
	}
	for _, key := range []string{"v", "b", "a"} {
		if err := sn.Remove(ctx, key); err != nil {
			t.Fatalf("Remove(%s): %v", key, err)
		}
		if _, err := sn.Stat(ctx, key); !errdefs.IsNotFound(err) {
			t.Errorf("Stat(%s) after Remove: %v, want NotFound", key, err)
		}
	}
	if err := sn.Remove(ctx, "a"); !errdefs.IsNotFound(err) {
		t.Errorf("second Remove(a): %v, want NotFound", err)
	}
	// A removed name is free again.
	layer(ctx, t, sn, work, "a", "", noop)
}

// checkCollisions: keys and names share one namespace.
func checkCollisions(ctx context.Context, t *testing.T, sn snapshot.Snapshotter, work string) {
	layer(ctx, t, sn, work, "committed", "", func(dir string) { writeFile(t, filepath.Join(dir, "f"), "c", 0o644) })
	_, err := sn.Prepare(ctx, "active", "committed")
	must(t, err)
	_, err = sn.View(ctx, "view", "committed")
	must(t, err)
	_, err = sn.Prepare(ctx, "other", "")
	must(t, err)

	for _, key := range []string{"committed", "active", "view"} {
		if _, err := sn.Prepare(ctx, key, ""); !errdefs.IsAlreadyExists(err) {
			t.Errorf("Prepare(%s) again: %v, want AlreadyExists", key, err)
		}
		if _, err := sn.View(ctx, key, "committed"); !errdefs.IsAlreadyExists(err) {
			t.Errorf("View(%s) again: %v, want AlreadyExists", key, err)
		}
	}
	for _, name := range []string{"committed", "other", "view", "active"} {
		if err := sn.Commit(ctx, name, "active"); !errdefs.IsAlreadyExists(err) {
			t.Errorf("Commit(%s, active): %v, want AlreadyExists", name, err)
		}
	}
	// A refused commit changed nothing.
	info, err := sn.Stat(ctx, "active")
	if err != nil || info.Kind != snapshot.KindActive {
		t.Errorf("active after refused commits: %+v, %v", info, err)
	}
	if _, err := sn.Mounts(ctx, "active"); err != nil {
		t.Errorf("Mounts(active) after refused commits: %v", err)
	}
}

// checkErrors: every error class the contract names.
func checkErrors(ctx context.Context, t *testing.T, sn snapshot.Snapshotter, work string) {
	layer(ctx, t, sn, work, "committed", "", func(string) {})
	_, err := sn.Prepare(ctx, "active", "committed")
	must(t, err)
	_, err = sn.View(ctx, "view", "committed")
	must(t, err)

	for _, tc := range []struct {
		name  string
		err   error
		class func(error) bool
		want  string
	}{
		{"Stat missing", second(sn.Stat(ctx, "missing")), errdefs.IsNotFound, "NotFound"},
		{"Mounts missing", second(sn.Mounts(ctx, "missing")), errdefs.IsNotFound, "NotFound"},
		{"Usage missing", second(sn.Usage(ctx, "missing")), errdefs.IsNotFound, "NotFound"},
		{"Remove missing", sn.Remove(ctx, "missing"), errdefs.IsNotFound, "NotFound"},
		{"Commit missing", sn.Commit(ctx, "x", "missing"), errdefs.IsNotFound, "NotFound"},
		{"Update missing", second(sn.Update(ctx, snapshot.Info{Name: "missing"})), errdefs.IsNotFound, "NotFound"},
		{"Prepare on missing parent", second(sn.Prepare(ctx, "p1", "missing")), errdefs.IsNotFound, "NotFound"},
		{"View of missing parent", second(sn.View(ctx, "p2", "missing")), errdefs.IsNotFound, "NotFound"},
		{"Prepare on an active parent", second(sn.Prepare(ctx, "p3", "active")), errdefs.IsInvalidParameter, "InvalidParameter"},
		{"Prepare on a view", second(sn.Prepare(ctx, "p4", "view")), errdefs.IsInvalidParameter, "InvalidParameter"},
		{"Commit a view", sn.Commit(ctx, "x", "view"), errdefs.IsInvalidParameter, "InvalidParameter"},
		{"Commit a committed", sn.Commit(ctx, "x", "committed"), errdefs.IsInvalidParameter, "InvalidParameter"},
		{"Mounts of a committed", second(sn.Mounts(ctx, "committed")), errdefs.IsInvalidParameter, "InvalidParameter"},
		{"empty key", second(sn.Prepare(ctx, "", "")), errdefs.IsInvalidParameter, "InvalidParameter"},
		{"key with NUL", second(sn.Prepare(ctx, "a\x00b", "")), errdefs.IsInvalidParameter, "InvalidParameter"},
		{"empty commit name", sn.Commit(ctx, "", "active"), errdefs.IsInvalidParameter, "InvalidParameter"},
		{"Update of the parent", second(sn.Update(ctx, snapshot.Info{Name: "active", Parent: "x"}, "parent")), errdefs.IsInvalidParameter, "InvalidParameter"},
	} {
		if !tc.class(tc.err) {
			t.Errorf("%s: %v, want %s", tc.name, tc.err, tc.want)
		}
	}
	// Failed calls made nothing.
	for _, key := range []string{"p1", "p2", "p3", "p4", "x", ""} {
		if _, err := sn.Stat(ctx, key); !errdefs.IsNotFound(err) {
			t.Errorf("Stat(%q) after failed calls: %v, want NotFound", key, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// checkLabels: labels at creation, at commit, and every Update form.
func checkLabels(ctx context.Context, t *testing.T, sn snapshot.Snapshotter, work string) {
	_, err := sn.Prepare(ctx, "active", "", snapshot.WithLabels(map[string]string{"a": "1", "b": "2"}))
	must(t, err)
	info, err := sn.Stat(ctx, "active")
	must(t, err)
	if want := map[string]string{"a": "1", "b": "2"}; !maps.Equal(info.Labels, want) {
		t.Errorf("labels at Prepare: %v, want %v", info.Labels, want)
	}
	created := info.Created

	time.Sleep(2 * time.Millisecond) // so Updated can be seen to move
	info, err = sn.Update(ctx, snapshot.Info{Name: "active", Labels: map[string]string{"a": "x", "c": "3"}}, "labels.a", "labels.b")
	must(t, err)
	if want := map[string]string{"a": "x"}; !maps.Equal(info.Labels, want) {
		t.Errorf("labels after Update of labels.a and labels.b: %v, want %v", info.Labels, want)
	}
	if !info.Created.Equal(created) || !info.Updated.After(created) {
		t.Errorf("times after Update: created %v (was %v), updated %v", info.Created, created, info.Updated)
	}
	stat, err := sn.Stat(ctx, "active")
	must(t, err)
	if !reflect.DeepEqual(stat, info) {
		t.Errorf("Stat after Update = %+v, Update returned %+v", stat, info)
	}

	info, err = sn.Update(ctx, snapshot.Info{Name: "active", Labels: map[string]string{"z": "26"}})
	must(t, err)
	if want := map[string]string{"z": "26"}; !maps.Equal(info.Labels, want) {
		t.Errorf("labels after Update of all: %v, want %v", info.Labels, want)
	}
	info, err = sn.Update(ctx, snapshot.Info{Name: "active"}, "labels")
	must(t, err)
	if len(info.Labels) != 0 {
		t.Errorf("labels after clearing: %v", info.Labels)
	}

	// The committed snapshot has the labels given to Commit.
	_, err = sn.Update(ctx, snapshot.Info{Name: "active", Labels: map[string]string{"work": "in progress"}})
	must(t, err)
	must(t, sn.Commit(ctx, "committed", "active", snapshot.WithLabels(map[string]string{"gc": "root"})))
	info, err = sn.Stat(ctx, "committed")
	must(t, err)
	if want := map[string]string{"gc": "root"}; !maps.Equal(info.Labels, want) {
		t.Errorf("labels after Commit: %v, want %v", info.Labels, want)
	}
	info, err = sn.Update(ctx, snapshot.Info{Name: "committed", Labels: map[string]string{"more": "yes"}}, "labels.more")
	must(t, err)
	if want := map[string]string{"gc": "root", "more": "yes"}; !maps.Equal(info.Labels, want) {
		t.Errorf("labels of a committed snapshot after Update: %v, want %v", info.Labels, want)
	}
	_, err = sn.View(ctx, "view", "committed", snapshot.WithLabels(map[string]string{"v": "1"}))
	must(t, err)
	info, err = sn.Stat(ctx, "view")
	must(t, err)
	if want := map[string]string{"v": "1"}; !maps.Equal(info.Labels, want) {
		t.Errorf("labels of a view: %v, want %v", info.Labels, want)
	}
}

// checkWalk: every snapshot once, with what Stat says; errors stop it;
// the callback may use the snapshotter.
func checkWalk(ctx context.Context, t *testing.T, sn snapshot.Snapshotter, work string) {
	layer(ctx, t, sn, work, "c1", "", func(string) {})
	layer(ctx, t, sn, work, "c2", "c1", func(string) {})
	_, err := sn.Prepare(ctx, "a1", "c2", snapshot.WithLabels(map[string]string{"k": "v"}))
	must(t, err)
	_, err = sn.View(ctx, "v1", "c1")
	must(t, err)
	_, err = sn.Prepare(ctx, "a2", "")
	must(t, err)

	walked := map[string]snapshot.Info{}
	must(t, sn.Walk(ctx, func(ctx context.Context, info snapshot.Info) error {
		if _, dup := walked[info.Name]; dup {
			t.Errorf("Walk visited %s twice", info.Name)
		}
		walked[info.Name] = info
		// Stat from inside the callback must not deadlock.
		stat, err := sn.Stat(ctx, info.Name)
		if err != nil || !reflect.DeepEqual(stat, info) {
			t.Errorf("Stat(%s) in Walk = %+v, %v; Walk gave %+v", info.Name, stat, err, info)
		}
		return nil
	}))
	if got, want := slices.Sorted(maps.Keys(walked)), []string{"a1", "a2", "c1", "c2", "v1"}; !slices.Equal(got, want) {
		t.Errorf("Walk visited %v, want %v", got, want)
	}

	stop := errors.New("stop")
	calls := 0
	err = sn.Walk(ctx, func(context.Context, snapshot.Info) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Walk with a failing callback: %v after %d calls, want stop after 1", err, calls)
	}

	// Removing from the callback works: the view and the actives go.
	must(t, sn.Walk(ctx, func(ctx context.Context, info snapshot.Info) error {
		if info.Kind != snapshot.KindCommitted {
			return sn.Remove(ctx, info.Name)
		}
		return nil
	}))
	var left []string
	must(t, sn.Walk(ctx, func(_ context.Context, info snapshot.Info) error { left = append(left, info.Name); return nil }))
	if want := []string{"c1", "c2"}; !slices.Equal(slices.Sorted(slices.Values(left)), want) {
		t.Errorf("after removing in Walk: %v, want %v", left, want)
	}
}

// checkUsage: an active snapshot's usage grows with writes, is kept at
// commit, and covers only the snapshot's own layer.
func checkUsage(ctx context.Context, t *testing.T, sn snapshot.Snapshotter, work string) {
	layer(ctx, t, sn, work, "base", "", func(dir string) {
		writeFile(t, filepath.Join(dir, "big-in-parent"), strings.Repeat("p", 4<<20), 0o644)
	})
	mounts, err := sn.Prepare(ctx, "active", "base")
	must(t, err)
	// A snapshotter that copies its parent really uses that much disk;
	// one that layers does not. Only the growth is the same for both.
	before, err := sn.Usage(ctx, "active")
	must(t, err)

	dir := mountAt(t, work, mounts)
	const size = 1 << 20
	writeFile(t, filepath.Join(dir, "one-mib"), strings.Repeat("x", size), 0o644)
	for i := range 3 {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("small%d", i)), "s", 0o644)
	}
	unmount(t, dir)
	after, err := sn.Usage(ctx, "active")
	must(t, err)
	if after.Inodes != before.Inodes+4 || after.Size < before.Size+size {
		t.Errorf("usage %+v after 4 files of 1MiB+3B, before %+v", after, before)
	}

	must(t, sn.Commit(ctx, "committed", "active"))
	committed, err := sn.Usage(ctx, "committed")
	must(t, err)
	if committed != after {
		t.Errorf("usage at commit %+v, before commit %+v", committed, after)
	}
	_, err = sn.View(ctx, "view", "committed")
	must(t, err)
	if u, err := sn.Usage(ctx, "view"); err != nil || u.Size >= size {
		t.Errorf("usage of a view: %+v, %v; a view adds nothing of its own", u, err)
	}
}

// checkViewReadOnly: every shape of view refuses writes with EROFS.
func checkViewReadOnly(ctx context.Context, t *testing.T, sn snapshot.Snapshotter, work string) {
	layer(ctx, t, sn, work, "one", "", func(dir string) { writeFile(t, filepath.Join(dir, "f"), "1", 0o644) })
	layer(ctx, t, sn, work, "two", "one", func(dir string) { writeFile(t, filepath.Join(dir, "g"), "2", 0o644) })
	layer(ctx, t, sn, work, "three", "two", func(dir string) { writeFile(t, filepath.Join(dir, "h"), "3", 0o644) })
	for _, parent := range []string{"", "one", "two", "three"} {
		key := "view-of-" + parent
		mounts, err := sn.View(ctx, key, parent)
		must(t, err)
		for _, m := range mounts {
			if !m.ReadOnly() {
				t.Errorf("view of %q: mount %+v is not read-only", parent, m)
			}
		}
		dir := mountAt(t, work, mounts)
		if err := os.WriteFile(filepath.Join(dir, "new"), nil, 0o644); !errors.Is(err, unix.EROFS) {
			t.Errorf("write to a view of %q: %v, want EROFS", parent, err)
		}
		if parent != "" {
			if err := os.Remove(filepath.Join(dir, "f")); !errors.Is(err, unix.EROFS) {
				t.Errorf("remove in a view of %q: %v, want EROFS", parent, err)
			}
		}
		unmount(t, dir)
	}
}

// checkUpperDir: a layer written straight into the upper directory,
// without a mount, reads back through the mounts, whiteouts included.
func checkUpperDir(ctx context.Context, t *testing.T, sn snapshot.Snapshotter, work string) {
	layer(ctx, t, sn, work, "base", "", func(dir string) {
		writeFile(t, filepath.Join(dir, "keep"), "k", 0o644)
		writeFile(t, filepath.Join(dir, "gone"), "g", 0o644)
		writeFile(t, filepath.Join(dir, "dir", "old"), "o", 0o644)
	})
	for _, tc := range []struct{ key, parent string }{{"on-base", "base"}, {"no-parent", ""}} {
		mounts, err := sn.Prepare(ctx, tc.key, tc.parent)
		must(t, err)
		upper, err := snapshot.UpperDir(mounts)
		if err != nil {
			t.Fatalf("UpperDir of %s: %v", tc.key, err)
		}
		writeFile(t, filepath.Join(upper.Dir, "new"), "n", 0o644)
		want := map[string]string{"new": "file 0644 n"}
		if tc.parent != "" {
			// Remove "gone", replace "dir" by an empty directory.
			if upper.Overlay {
				must(t, unix.Mknod(filepath.Join(upper.Dir, "gone"), unix.S_IFCHR, 0))
				mkdir(t, filepath.Join(upper.Dir, "dir"), 0o755)
				must(t, unix.Setxattr(filepath.Join(upper.Dir, "dir"), "trusted.overlay.opaque", []byte("y"), 0))
			} else {
				must(t, os.Remove(filepath.Join(upper.Dir, "gone")))
				must(t, os.RemoveAll(filepath.Join(upper.Dir, "dir", "old")))
			}
			want["keep"] = "file 0644 k"
			want["dir"] = "dir 0755"
		} else if upper.Overlay {
			t.Errorf("UpperDir of a snapshot without parent says Overlay")
		}
		must(t, sn.Commit(ctx, tc.key+"-c", tc.key))
		if d := diffTrees(viewTree(ctx, t, sn, work, tc.key+"-c"), want); d != "" {
			t.Errorf("%s written through UpperDir:\n%s", tc.key, d)
		}
	}
	_, err := sn.View(ctx, "view", "base")
	must(t, err)
	m, err := sn.Mounts(ctx, "view")
	must(t, err)
	if _, err := snapshot.UpperDir(m); !errdefs.IsInvalidParameter(err) {
		t.Errorf("UpperDir of a view: %v, want InvalidParameter", err)
	}
}

// manyLayers is more than fits in one page of mount(2) options, so the
// mount package's other path is exercised.
const manyLayers = 128

// checkManyLayers: a chain of 128 layers, each mounted to be written,
// then viewed and read whole.
func checkManyLayers(ctx context.Context, t *testing.T, sn snapshot.Snapshotter, work string) {
	parent := ""
	want := map[string]string{}
	for i := range manyLayers {
		name := fmt.Sprintf("layer%03d", i)
		layer(ctx, t, sn, work, name, parent, func(dir string) {
			writeFile(t, filepath.Join(dir, "layers", name), name, 0o644)
			writeFile(t, filepath.Join(dir, "top"), name, 0o644)
			if i > 0 {
				// Each layer removes the previous layer's marker.
				must(t, os.Remove(filepath.Join(dir, fmt.Sprintf("marker%03d", i-1))))
			}
			writeFile(t, filepath.Join(dir, fmt.Sprintf("marker%03d", i)), "m", 0o644)
		})
		want["layers/"+name] = "file 0644 " + name
		parent = name
	}
	want["layers"] = "dir 0755"
	want["top"] = "file 0644 " + parent
	want[fmt.Sprintf("marker%03d", manyLayers-1)] = "file 0644 m"
	if d := diffTrees(viewTree(ctx, t, sn, work, parent), want); d != "" {
		t.Errorf("view of %d layers:\n%s", manyLayers, d)
	}
	mounts, err := sn.Prepare(ctx, "container", parent)
	must(t, err)
	dir := mountAt(t, work, mounts)
	writeFile(t, filepath.Join(dir, "top"), "container", 0o644)
	want["top"] = "file 0644 container"
	checkTree(t, dir, want)
	unmount(t, dir)
}

// checkConcurrentPrepare: many goroutines at once; of those asking for
// one key, exactly one gets it.
func checkConcurrentPrepare(ctx context.Context, t *testing.T, sn snapshot.Snapshotter, work string) {
	layer(ctx, t, sn, work, "base", "", func(dir string) { writeFile(t, filepath.Join(dir, "f"), "base", 0o644) })
	const distinct, same = 16, 8
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for i := range distinct + same {
		wg.Go(func() {
			key := fmt.Sprintf("c%d", i)
			if i >= distinct {
				key = "same"
			}
			_, err := sn.Prepare(ctx, key, "base")
			switch {
			case err == nil && key == "same":
				mu.Lock()
				wins++
				mu.Unlock()
			case errdefs.IsAlreadyExists(err) && key == "same":
			case err != nil:
				t.Errorf("Prepare(%s): %v", key, err)
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d Prepares of one key succeeded, want 1", wins)
	}
	// Commits and removes at once, too.
	for i := range distinct {
		wg.Go(func() {
			key := fmt.Sprintf("c%d", i)
			if i%2 == 0 {
				if err := sn.Commit(ctx, key+"-done", key); err != nil {
					t.Errorf("Commit(%s): %v", key, err)
				}
				return
			}
			if err := sn.Remove(ctx, key); err != nil {
				t.Errorf("Remove(%s): %v", key, err)
			}
		})
	}
	wg.Wait()
	n := 0
	must(t, sn.Walk(ctx, func(_ context.Context, info snapshot.Info) error { n++; return nil }))
	if want := 1 + 1 + distinct/2; n != want {
		t.Errorf("%d snapshots after concurrent calls, want %d", n, want)
	}
	mounts, err := sn.Mounts(ctx, "same")
	must(t, err)
	dir := mountAt(t, work, mounts)
	checkTree(t, dir, map[string]string{"f": "file 0644 base"})
	unmount(t, dir)
}

// checkClose: Close twice is fine; calls after Close fail.
func checkClose(ctx context.Context, t *testing.T, sn snapshot.Snapshotter, work string) {
	_, err := sn.Prepare(ctx, "a", "")
	must(t, err)
	must(t, sn.Close())
	must(t, sn.Close())
	if _, err := sn.Stat(ctx, "a"); err == nil {
		t.Error("Stat after Close succeeded")
	}
	if _, err := sn.Prepare(ctx, "b", ""); err == nil {
		t.Error("Prepare after Close succeeded")
	}
}

// checkSharedRoot: two snapshotters on one root (as the daemon and the
// image store in two processes) see each other's changes at once and
// never lose one under concurrency.
func checkSharedRoot(ctx context.Context, t *testing.T, newSnapshotter NewFunc) {
	root, work := dirs(t)
	s1 := open(ctx, t, newSnapshotter, root)
	s2 := open(ctx, t, newSnapshotter, root)
	layer(ctx, t, s1, work, "base", "", func(dir string) { writeFile(t, filepath.Join(dir, "f"), "from s1", 0o644) })
	mounts, err := s2.Prepare(ctx, "on-base", "base")
	must(t, err)
	dir := mountAt(t, work, mounts)
	checkTree(t, dir, map[string]string{"f": "file 0644 from s1"})
	unmount(t, dir)
	if err := s1.Remove(ctx, "base"); !errdefs.IsConflict(err) {
		t.Errorf("Remove through s1 of a parent of s2's snapshot: %v, want Conflict", err)
	}

	var wg sync.WaitGroup
	const each = 10
	for i, s := range []snapshot.Snapshotter{s1, s2} {
		wg.Go(func() {
			for j := range each {
				key := fmt.Sprintf("s%d-%d", i, j)
				if _, err := s.Prepare(ctx, key, "base"); err != nil {
					t.Errorf("Prepare(%s): %v", key, err)
					return
				}
				if err := s.Commit(ctx, key+"-c", key); err != nil {
					t.Errorf("Commit(%s): %v", key, err)
				}
			}
		})
	}
	wg.Wait()
	for _, s := range []snapshot.Snapshotter{s1, s2} {
		n := 0
		must(t, s.Walk(ctx, func(context.Context, snapshot.Info) error { n++; return nil }))
		if want := 2 + 2*each; n != want {
			t.Errorf("%d snapshots seen, want %d", n, want)
		}
	}
}

// checkReopen: a closed and reopened store has everything it had.
func checkReopen(ctx context.Context, t *testing.T, newSnapshotter NewFunc) {
	root, work := dirs(t)
	sn, closeFn, err := newSnapshotter(ctx, t, root)
	must(t, err)
	layer(ctx, t, sn, work, "c1", "", func(dir string) { writeFile(t, filepath.Join(dir, "f"), "1", 0o644) })
	layer(ctx, t, sn, work, "c2", "c1", func(dir string) { writeFile(t, filepath.Join(dir, "g"), "2", 0o644) })
	mounts, err := sn.Prepare(ctx, "active", "c2", snapshot.WithLabels(map[string]string{"l": "v"}))
	must(t, err)
	dir := mountAt(t, work, mounts)
	writeFile(t, filepath.Join(dir, "h"), "3", 0o644)
	unmount(t, dir)
	_, err = sn.View(ctx, "view", "c1")
	must(t, err)

	before := walkAll(ctx, t, sn)
	usage, err := sn.Usage(ctx, "c2")
	must(t, err)
	must(t, closeFn())

	sn = open(ctx, t, newSnapshotter, root)
	after := walkAll(ctx, t, sn)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("after reopening:\n%+v\nbefore:\n%+v", after, before)
	}
	if u, err := sn.Usage(ctx, "c2"); err != nil || u != usage {
		t.Errorf("usage after reopening: %+v, %v; before %+v", u, err, usage)
	}
	mounts2, err := sn.Mounts(ctx, "active")
	must(t, err)
	if !reflect.DeepEqual(mounts, mounts2) {
		t.Errorf("mounts after reopening: %+v, before %+v", mounts2, mounts)
	}
	dir = mountAt(t, work, mounts2)
	checkTree(t, dir, map[string]string{"f": "file 0644 1", "g": "file 0644 2", "h": "file 0644 3"})
	unmount(t, dir)
}

func walkAll(ctx context.Context, t *testing.T, sn snapshot.Snapshotter) map[string]snapshot.Info {
	t.Helper()
	all := map[string]snapshot.Info{}
	must(t, sn.Walk(ctx, func(_ context.Context, info snapshot.Info) error {
		all[info.Name] = info
		return nil
	}))
	return all
}
