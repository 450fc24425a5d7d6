package interchange

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestLoadSaveTiming times Load and Save of the benchmark image
// (bench/mkimage): set BERTH_BENCH_ARCHIVE to its path. It prints the
// times for comparison with dockerd's docker load/save on the same file.
func TestLoadSaveTiming(t *testing.T) {
	path := os.Getenv("BERTH_BENCH_ARCHIVE")
	if path == "" {
		t.Skip("BERTH_BENCH_ARCHIVE is not set (go run ./bench/mkimage -o image.tar)")
	}
	ctx := context.Background()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	s := newStore(t, nil)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	loaded, err := Load(ctx, f, s)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	loadTime := time.Since(start)
	name := loaded[0].Names[0]

	out := filepath.Join(t.TempDir(), "saved.tar")
	w, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := Save(ctx, w, s, []string{name}); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	saveTime := time.Since(start)

	start = time.Now()
	if err := Save(ctx, io.Discard, s, []string{name}); err != nil {
		t.Fatal(err)
	}
	saveDiscard := time.Since(start)

	// Loading what we saved (compressed-as-stored blobs, OCI side).
	s2 := newStore(t, nil)
	r, _ := os.Open(out)
	start = time.Now()
	if _, err := Load(ctx, r, s2); err != nil {
		t.Fatal(err)
	}
	r.Close()
	reload := time.Since(start)
	t.Logf("archive %d MiB: load %v, save to file %v (fsync'd), save to discard %v, load of our save %v",
		st.Size()>>20, loadTime, saveTime, saveDiscard, reload)
}
