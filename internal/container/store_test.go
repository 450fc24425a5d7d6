package container

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	containertypes "github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/testenv"
)

func newRecord(name string) *Container {
	return &Container{
		ID:         NewID(),
		Name:       name,
		Created:    time.Now().UTC(),
		Config:     &containertypes.Config{Image: "busybox", Labels: map[string]string{"a": "b"}},
		HostConfig: &containertypes.HostConfig{},
		State:      State{Status: Created},
		Driver:     "overlay2",
	}
}

func TestStoreCreateGetReopen(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	web := newRecord("web")
	if err := s.Create(web, nil); err != nil {
		t.Fatal(err)
	}
	if web.Name != "/web" {
		t.Fatalf("name %q", web.Name)
	}
	anon := newRecord("")
	if err := s.Create(anon, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(anon.Name, "_") {
		t.Fatalf("random name %q", anon.Name)
	}
	// Same name again: docker's conflict message.
	err = s.Create(newRecord("/web"), nil)
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), `The container name "/web" is already in use by container "`+web.ID+`"`) {
		t.Fatalf("duplicate name: %v", err)
	}
	for _, ref := range []string{web.ID, "web", "/web", web.ID[:12]} {
		c, err := s.Get(ref)
		if err != nil || c != web {
			t.Fatalf("Get(%q) = %v, %v", ref, c, err)
		}
	}
	if _, err := s.Get("nope"); !errdefs.IsNotFound(err) || err.Error() != "No such container: nope" {
		t.Fatalf("unknown: %v", err)
	}
	if _, err := s.Get(""); !errdefs.IsNotFound(err) {
		t.Fatalf("empty: %v", err)
	}

	web.Lock()
	if err := web.State.SetRunning(99, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(web); err != nil {
		t.Fatal(err)
	}
	web.Unlock()

	s2, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Len() != 2 || len(s2.Incomplete()) != 0 {
		t.Fatalf("reopened: %d records, incomplete %v", s2.Len(), s2.Incomplete())
	}
	c, err := s2.Get("web")
	if err != nil {
		t.Fatal(err)
	}
	if c.State.Status != Running || c.State.Pid != 99 || c.Config.Labels["a"] != "b" {
		t.Fatalf("reloaded %+v", c)
	}
	if got := s2.List(); got[0].ID != anon.ID {
		t.Fatalf("list order: newest first expected")
	}
}

func TestStoreAmbiguousPrefix(t *testing.T) {
	t.Parallel()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, b := newRecord("a1"), newRecord("b1")
	a.ID = "abc" + a.ID[3:]
	b.ID = "abd" + b.ID[3:]
	for _, c := range []*Container{a, b} {
		if err := s.Create(c, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Get("ab"); !errdefs.IsInvalidParameter(err) || !strings.Contains(err.Error(), "multiple IDs found with provided prefix: ab") {
		t.Fatalf("ambiguous: %v", err)
	}
	if c, err := s.Get("abd"); err != nil || c != b {
		t.Fatalf("unique prefix: %v", err)
	}
	// A name wins over an ID prefix.
	n := newRecord("abc")
	if err := s.Create(n, nil); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Get("abc"); c != n {
		t.Fatal("name must win over an ID prefix")
	}
}

func TestStoreRenameDelete(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s, _ := Open(root)
	a, b := newRecord("one"), newRecord("two")
	_ = s.Create(a, nil)
	_ = s.Create(b, nil)
	a.Lock()
	if err := s.Rename(a, "two"); !errdefs.IsConflict(err) {
		t.Fatalf("rename onto a taken name: %v", err)
	}
	if err := s.Rename(a, "one"); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("rename to itself: %v", err)
	}
	if err := s.Rename(a, "b@d"); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("bad name: %v", err)
	}
	if err := s.Rename(a, "three"); err != nil {
		t.Fatal(err)
	}
	a.Unlock()
	if _, err := s.Get("one"); !errdefs.IsNotFound(err) {
		t.Fatalf("old name still found: %v", err)
	}
	if c, _ := s.Get("three"); c != a {
		t.Fatal("new name not found")
	}
	// The old name is free again.
	if err := s.Create(newRecord("one"), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Dir(a.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("directory left: %v", err)
	}
	if _, err := s.Get("three"); !errdefs.IsNotFound(err) {
		t.Fatal("deleted container still found")
	}
	s2, _ := Open(root)
	if s2.Len() != 2 {
		t.Fatalf("after delete and reopen: %d", s2.Len())
	}
}

func TestStoreIncompleteRecords(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s, _ := Open(root)
	good := newRecord("good")
	_ = s.Create(good, nil)
	// A crash between mkdir and the first record, and one mid-write.
	empty := NewID()
	_ = os.Mkdir(filepath.Join(root, empty), 0o700)
	_ = os.WriteFile(filepath.Join(root, good.ID, tempPrefix+RecordFile+"-123"), []byte("{half"), 0o600)
	garbled := NewID()
	_ = os.Mkdir(filepath.Join(root, garbled), 0o700)
	_ = os.WriteFile(filepath.Join(root, garbled, RecordFile), []byte("{not json"), 0o600)
	_ = os.Mkdir(filepath.Join(root, "not-an-id"), 0o700)

	s2, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Len() != 1 {
		t.Fatalf("records %d", s2.Len())
	}
	inc := s2.Incomplete()
	if len(inc) != 2 {
		t.Fatalf("incomplete %v", inc)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, good.ID)); len(ents) != 1 {
		t.Fatalf("temporary file not cleaned: %v", ents)
	}
	for _, id := range inc {
		if err := s2.RemoveIncomplete(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := s2.RemoveIncomplete(good.ID); !errdefs.IsConflict(err) {
		t.Fatalf("removing a real record as incomplete: %v", err)
	}
	if len(s2.Incomplete()) != 0 {
		t.Fatal("incomplete list not updated")
	}
}

// TestStoreFullDisk fills a small tmpfs: a Save that cannot be written
// fails with ENOSPC and the record on disk stays the previous one, whole.
func TestStoreFullDisk(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	root := t.TempDir()
	if err := unix.Mount("tmpfs", root, "tmpfs", 0, "size=256k"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(root, unix.MNT_DETACH) })
	s, err := Open(filepath.Join(root, "containers"))
	if err != nil {
		t.Fatal(err)
	}
	c := newRecord("full")
	if err := s.Create(c, nil); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(root, "filler")
	f, err := os.OpenFile(filler, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	_ = f.Close()

	c.Lock()
	c.Config.Labels["big"] = strings.Repeat("x", 64<<10)
	err = s.Save(c)
	c.Unlock()
	if !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("save on a full disk: %v", err)
	}
	other := newRecord("other")
	if err := s.Create(other, nil); err == nil {
		// Small records may still fit in the last free block; then the
		// directory must be whole.
		if _, err := Open(filepath.Join(root, "containers")); err != nil {
			t.Fatal(err)
		}
	} else if _, err := os.Stat(s.Dir(other.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("failed create left its directory: %v", err)
	}
	_ = os.Remove(filler)
	s2, err := Open(filepath.Join(root, "containers"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := s2.Get("full")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Config.Labels["big"]; ok {
		t.Fatal("the failed save's content reached the disk")
	}
	if len(s2.Incomplete()) != 0 {
		t.Fatalf("incomplete after a full disk: %v", s2.Incomplete())
	}
}

// TestStorePrepareDirAdopt: a directory made ahead is no container until
// Adopt, which reserves the name (conflicts as Create's) and writes the
// record; one never adopted is incomplete at the next Open.
func TestStorePrepareDirAdopt(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	web := newRecord("web")
	if err := s.Create(web, nil); err != nil {
		t.Fatal(err)
	}
	ahead, orphan := newRecord(""), newRecord("")
	for _, c := range []*Container{ahead, orphan} {
		if err := s.PrepareDir(c.ID, func(dir string) error { return os.WriteFile(filepath.Join(dir, "hosts"), nil, 0o644) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PrepareDir(ahead.ID, nil); !errdefs.IsAlreadyExists(err) {
		t.Fatalf("PrepareDir of an existing directory: %v", err)
	}
	if _, err := s.Get(ahead.ID); !errdefs.IsNotFound(err) {
		t.Fatalf("a prepared directory is a container before Adopt: %v", err)
	}
	ahead.Name = "web"
	if err := s.Adopt(ahead); !errdefs.IsConflict(err) {
		t.Fatalf("Adopt under a taken name: %v", err)
	}
	ahead.Name = "db"
	if err := s.Adopt(ahead); err != nil {
		t.Fatal(err)
	}
	if c, err := s.Get("db"); err != nil || c != ahead {
		t.Fatalf("Get(db) = %v, %v", c, err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(ahead.ID), "hosts")); err != nil {
		t.Fatalf("the prepared files are gone: %v", err)
	}
	s2, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Len() != 2 || len(s2.Incomplete()) != 1 || s2.Incomplete()[0] != orphan.ID {
		t.Fatalf("reopened: %d records, incomplete %v (want %s)", s2.Len(), s2.Incomplete(), orphan.ID)
	}
}
