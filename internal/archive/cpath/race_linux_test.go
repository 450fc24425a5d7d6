package cpath

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSymlinkRace is the docker cp symlink-race class (CVE-2018-15664):
// while copies in and out run, a goroutine keeps exchanging a directory
// of the container with symlinks to a host directory (by its absolute
// host path, and by enough "../" to climb out). No archive may ever hold
// the host canary's secret and the host directory must stay as it was.
func TestSymlinkRace(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	makeTree(t, w.root,
		file("dir/sub/shadow", "in-root"), file("dir/sub/deep/f", "deep"), file("dir/keep", "k"),
		symlink("dir/abs", w.host), symlink("dir/rel", strings.Repeat("../", 16)+strings.TrimPrefix(w.host, "/")))
	sub := filepath.Join(w.root, "dir/sub")
	swaps := []string{filepath.Join(w.root, "dir/abs"), filepath.Join(w.root, "dir/rel")}

	stop := make(chan struct{})
	var racerDone sync.WaitGroup
	var nswaps atomic.Int64
	racerDone.Add(1)
	go func() {
		defer racerDone.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			// Atomic exchange: "sub" is a directory or a symlink out,
			// never missing.
			if err := unix.Renameat2(unix.AT_FDCWD, sub, unix.AT_FDCWD, swaps[i%2], unix.RENAME_EXCHANGE); err != nil {
				t.Errorf("exchange: %v", err)
				return
			}
			nswaps.Add(1)
		}
	}()

	deadline := time.Now().Add(1500 * time.Millisecond)
	var wg sync.WaitGroup
	var copies atomic.Int64
	var leaked atomic.Bool // report the first leak only
	leak := func(what string, b []byte) {
		if bytes.Contains(b, []byte(w.secret)) && !leaked.Swap(true) {
			t.Errorf("%s read the host canary", what)
		}
	}
	worker := func(fn func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				fn()
				copies.Add(1)
			}
		}()
	}
	for _, p := range []string{"/dir", "/dir/sub/", "/dir/sub/.", "/dir/sub/shadow"} {
		for _, follow := range []bool{false, true} {
			worker(func() {
				rc, _, err := Archive(t.Context(), w.root, p, ArchiveOptions{FollowLink: follow})
				if err != nil {
					return // the path may be a symlink leading nowhere at that instant
				}
				b, _ := io.ReadAll(rc)
				rc.Close()
				leak("Archive("+p+")", b)
			})
		}
	}
	tb := tarOf(t, reg("sub/pwned"), dirh("sub/newdir"), reg("sub/newdir/f"), reg("sub/deep/f"))
	direct := tarOf(t, reg("pwned"), reg("deep/f"))
	worker(func() { _ = Extract(t.Context(), w.root, "/dir", bytes.NewReader(tb), ExtractOptions{}) })
	worker(func() { _ = Extract(t.Context(), w.root, "/dir/sub", bytes.NewReader(direct), ExtractOptions{}) })
	worker(func() {
		_ = Extract(t.Context(), w.root, "/dir/sub/deep", bytes.NewReader(direct), ExtractOptions{NoOverwriteDirNonDir: true})
	})
	worker(func() {
		if st, err := Stat(t.Context(), w.root, "/dir/sub/shadow"); err == nil && st.Size == int64(len(w.secret)) && !leaked.Swap(true) {
			t.Errorf("Stat saw the host canary: %+v", st)
		}
	})
	wg.Wait()
	close(stop)
	racerDone.Wait()
	t.Logf("%d copies during %d exchanges", copies.Load(), nswaps.Load())
	if nswaps.Load() < 100 {
		t.Errorf("only %d exchanges: the race did not run", nswaps.Load())
	}
	w.checkHost(t)
}
