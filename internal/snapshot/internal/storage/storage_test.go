//go:build linux

package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/snapshot"
)

func openStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "root"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestOpenRejectsRelativeRoot(t *testing.T) {
	if _, err := Open("relative"); !errdefs.IsInvalidParameter(err) {
		t.Errorf("Open(relative): %v, want InvalidParameter", err)
	}
}

// TestFailedUpdateChangesNothing: an error from the function rolls the
// whole transaction back.
func TestFailedUpdateChangesNothing(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx *Tx) error {
		if _, err := tx.Create(snapshot.KindActive, "a", "", nil); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want the function's error", err)
	}
	if _, err := s.Stat(ctx, "a"); !errdefs.IsNotFound(err) {
		t.Errorf("Stat after a failed Update: %v, want NotFound", err)
	}
}

// TestChildIndex: Commit moves the child entry from key to name, so a
// parent's children are found whatever they are called now.
func TestChildIndex(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	err := s.Update(ctx, func(tx *Tx) error {
		if _, err := tx.Create(snapshot.KindActive, "p", "", nil); err != nil {
			return err
		}
		if _, err := tx.Commit("parent", "p", snapshot.Usage{}, nil); err != nil {
			return err
		}
		if _, err := tx.Create(snapshot.KindActive, "c", "parent", nil); err != nil {
			return err
		}
		_, err := tx.Commit("child", "c", snapshot.Usage{Inodes: 3, Size: 4096}, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(tx *Tx) error {
		if _, err := tx.Remove("parent"); !errdefs.IsConflict(err) {
			t.Errorf("Remove(parent): %v, want Conflict", err)
		}
		// "parent\x00child" must not match a snapshot named "paren".
		if _, err := tx.Create(snapshot.KindActive, "paren", "", nil); err != nil {
			return err
		}
		if _, err := tx.Remove("paren"); err != nil {
			t.Errorf("Remove(paren): %v", err)
		}
		if _, err := tx.Remove("child"); err != nil {
			return err
		}
		_, err := tx.Remove("parent")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCleanupSparesHeldDirectories(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	held, err := s.NewPending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	abandoned := filepath.Join(s.Root(), "snapshots", "new-abandoned")
	if err := os.MkdirAll(filepath.Join(abandoned, "fs", "deep"), 0o700); err != nil {
		t.Fatal(err)
	}
	var live map[string]bool
	if err := s.Cleanup(ctx, func(l map[string]bool) error { live = l; return nil }); err != nil {
		t.Fatal(err)
	}
	if live == nil {
		t.Error("Cleanup did not call extra")
	}
	if _, err := os.Stat(abandoned); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("abandoned directory: %v, want it gone", err)
	}
	if _, err := os.Stat(held.Path()); err != nil {
		t.Errorf("held directory: %v", err)
	}
	if err := held.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(held.Path()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a pending directory closed without Keep: %v, want it gone", err)
	}
}

func TestIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if !IsID(id) || seen[id] {
			t.Fatalf("NewID gave %q (seen before: %v)", id, seen[id])
		}
		seen[id] = true
	}
	for _, bad := range []string{"", "new-abc", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxy1"} {
		if IsID(bad) {
			t.Errorf("IsID(%q) = true", bad)
		}
	}
}

// BenchmarkStat is the cost of a read: lock, open the database, one
// lookup, close.
func BenchmarkStat(b *testing.B) {
	ctx := context.Background()
	s := openStore(b)
	if err := s.Update(ctx, func(tx *Tx) error {
		for i := range 1000 {
			if _, err := tx.Create(snapshot.KindActive, fmt.Sprint(i), "", nil); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Stat(ctx, "500"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateRemove is the cost of two changes: each locks, opens
// the database and commits a transaction (two fdatasyncs).
func BenchmarkCreateRemove(b *testing.B) {
	ctx := context.Background()
	s := openStore(b)
	for b.Loop() {
		if err := s.Update(ctx, func(tx *Tx) error {
			_, err := tx.Create(snapshot.KindActive, "k", "", nil)
			return err
		}); err != nil {
			b.Fatal(err)
		}
		if err := s.Update(ctx, func(tx *Tx) error {
			_, err := tx.Remove("k")
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestConcurrentRemovals: removals that share a transaction each get
// their own result; one refused (missing, has children) does not fail
// the others, and each removed snapshot's directory is deleted.
func TestConcurrentRemovals(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	const n = 60
	dirs := map[string]string{}
	err := s.Update(ctx, func(tx *Tx) error {
		for i := range n {
			key := fmt.Sprintf("k%d", i)
			sn, err := tx.Create(snapshot.KindActive, key, "", nil)
			if err != nil {
				return err
			}
			dirs[key] = s.Dir(sn.ID)
			if err := os.MkdirAll(filepath.Join(dirs[key], "fs"), 0o700); err != nil {
				return err
			}
		}
		if _, err := tx.Create(snapshot.KindActive, "p", "", nil); err != nil {
			return err
		}
		if _, err := tx.Commit("parent", "p", snapshot.Usage{}, nil); err != nil {
			return err
		}
		_, err := tx.Create(snapshot.KindActive, "child", "parent", nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"parent", "missing"}
	for i := range n {
		keys = append(keys, fmt.Sprintf("k%d", i))
	}
	errs := make([]error, len(keys))
	done := make(chan int)
	for i, key := range keys {
		go func() {
			_, errs[i] = s.Remove(ctx, key)
			done <- i
		}()
	}
	for range keys {
		<-done
	}
	if !errdefs.IsConflict(errs[0]) {
		t.Errorf("Remove(parent) = %v, want Conflict", errs[0])
	}
	if !errdefs.IsNotFound(errs[1]) {
		t.Errorf("Remove(missing) = %v, want NotFound", errs[1])
	}
	for i, key := range keys[2:] {
		if errs[i+2] != nil {
			t.Errorf("Remove(%s) = %v", key, errs[i+2])
		}
		if _, err := s.Stat(ctx, key); !errdefs.IsNotFound(err) {
			t.Errorf("Stat(%s) after its removal: %v, want NotFound", key, err)
		}
		if _, err := os.Stat(dirs[key]); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s's directory after its removal: %v", key, err)
		}
	}
	if _, err := s.Remove(ctx, "k0"); !errdefs.IsNotFound(err) {
		t.Errorf("second Remove(k0) = %v, want NotFound", err)
	}
	for _, key := range []string{"child", "parent"} {
		if _, err := s.Remove(ctx, key); err != nil {
			t.Errorf("Remove(%s) = %v", key, err)
		}
	}
}
