package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	for _, opts := range [][]Option{nil, {WithoutDirSync()}, {WithoutSync()}, {WithTempPrefix("new-")}} {
		if err := Write(path, []byte("one"), 0o600, opts...); err != nil {
			t.Fatal(err)
		}
		if err := Write(path, []byte("two"), 0o640, opts...); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil || string(b) != "two" {
			t.Fatalf("content %q, %v", b, err)
		}
		st, _ := os.Stat(path)
		if st.Mode().Perm() != 0o640 {
			t.Errorf("mode %v", st.Mode())
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("leftovers: %v", entries)
	}
}

func TestWriteSeesTempBeforeRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rec")
	var temps []string
	err := Write(path, []byte("x"), 0o600, WithTempPrefix("tmp-"), WithBeforeRename(func() {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			temps = append(temps, e.Name())
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(temps) != 1 || !strings.HasPrefix(temps[0], "tmp-rec-") {
		t.Errorf("before the rename the directory held %v", temps)
	}
}

func TestWriteFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rec")
	if err := Write(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Renaming a file over a directory fails after the temp file is made.
	if err := Write(dir, []byte("new"), 0o600); err == nil {
		t.Fatal("write over a directory succeeded")
	}
	if err := Write(filepath.Join(dir, "missing", "rec"), []byte("x"), 0o600); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing directory: %v", err)
	}
	b, _ := os.ReadFile(path)
	entries, _ := os.ReadDir(dir)
	if string(b) != "old" || len(entries) != 1 {
		t.Errorf("content %q, entries %v", b, entries)
	}
}
