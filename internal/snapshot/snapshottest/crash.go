//go:build linux

package snapshottest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/mount"
	"github.com/berth-project/berth/internal/snapshot"
)

// The crash test runs the test binary again as a child that works on the
// store without pause, kills it with SIGKILL at a random moment, opens
// the store again and checks that every snapshot is whole. The child
// runs in its own mount namespace, so its mounts die with it.
const (
	crashRootEnv = "BERTH_SNAPSHOTTEST_CRASH_ROOT"
	crashSeedEnv = "BERTH_SNAPSHOTTEST_CRASH_SEED"
	// SeedEnv, when set, fixes the crash test's seed, to repeat a run
	// whose log printed it.
	SeedEnv = "BERTH_SNAPSHOTTEST_SEED"
)

func isCrashChild() bool { return os.Getenv(crashRootEnv) != "" }

// maxKillDelay bounds how long a child works before it is killed; a
// round of its work (prepare, mount, write, commit) takes a few
// milliseconds, so kills land all over it, while the store grows over
// the rounds.
const maxKillDelay = 250 * time.Millisecond

func checkCrashSafety(ctx context.Context, t *testing.T, newSnapshotter NewFunc) {
	root, work := dirs(t)
	seed := time.Now().UnixNano()
	if s := os.Getenv(SeedEnv); s != "" {
		var err error
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatalf("%s=%q: %v", SeedEnv, s, err)
		}
	}
	t.Logf("seed %d (set %s to repeat)", seed, SeedEnv)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	rounds := 16
	if testing.Short() {
		rounds = 3
	}
	for round := range rounds {
		delay := time.Duration(rng.Int64N(int64(maxKillDelay)))
		runAndKill(t, root, work, seed+int64(round), delay)
		checkWhole(ctx, t, newSnapshotter, root, work)
	}
	checkNoLeftovers(ctx, t, newSnapshotter, root)
}

// runPattern is the -test.run pattern that selects exactly the test name.
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

func runAndKill(t *testing.T, root, work string, seed int64, delay time.Duration) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run="+runPattern(t.Name()), "-test.count=1", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), crashRootEnv+"="+root, crashSeedEnv+"="+strconv.FormatInt(seed, 10),
		// The child's temporary mount points, which its death leaves
		// behind (empty), go where the test removes them.
		"TMPDIR="+work)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Go makes the new namespace's mounts private, so nothing the
		// child mounts reaches the host, and all of it goes when the
		// child dies.
		Unshareflags: syscall.CLONE_NEWNS,
		Pdeathsig:    syscall.SIGKILL,
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "ready" {
				ready <- true
			}
		}
		ready <- false
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case ok := <-ready:
		if !ok {
			_ = cmd.Wait()
			t.Fatalf("crash child exited before it was ready: %v\n%s", cmd.ProcessState, stderr.String())
		}
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		<-drained
		_ = cmd.Wait()
		t.Fatalf("crash child not ready after a minute\n%s", stderr.String())
	}
	time.Sleep(delay)
	_ = cmd.Process.Kill()
	<-drained
	_ = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("crash child stopped on its own (%v), not by the kill:\n%s", cmd.ProcessState, stderr.String())
	}
}

// crashChild is the child's side: two workers making, committing,
// viewing and removing snapshots until the parent kills the process.
// Every committed snapshot c-<id> holds /layers/<id> and /chain, the ids
// of its chain from the bottom, one a line; checkWhole reads them back.
func crashChild(t *testing.T, newSnapshotter NewFunc) {
	root := os.Getenv(crashRootEnv)
	seed, err := strconv.ParseInt(os.Getenv(crashSeedEnv), 10, 64)
	if err != nil {
		t.Fatalf("%s: %v", crashSeedEnv, err)
	}
	ctx := context.Background()
	sn, _, err := newSnapshotter(ctx, t, root)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("ready")
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			crashWorker(ctx, sn, seed, w)
		})
	}
	wg.Wait()
}

func crashWorker(ctx context.Context, sn snapshot.Snapshotter, seed int64, worker int) {
	fail := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "crash child: "+format+"\n", args...)
		os.Exit(3)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(worker)))
	for n := 0; ; n++ {
		id := fmt.Sprintf("%d-%d-%d", seed, worker, n)
		var committed, all []string
		err := sn.Walk(ctx, func(_ context.Context, info snapshot.Info) error {
			all = append(all, info.Name)
			if info.Kind == snapshot.KindCommitted {
				committed = append(committed, info.Name)
			}
			return nil
		})
		if err != nil {
			fail("walk: %v", err)
		}
		pick := func(names []string) string {
			if len(names) == 0 || rng.IntN(5) == 0 {
				return ""
			}
			return names[rng.IntN(len(names))]
		}
		switch op := rng.IntN(10); {
		case op < 6:
			parent := pick(committed)
			key := "a-" + id
			mounts, err := sn.Prepare(ctx, key, parent)
			if errdefs.IsNotFound(err) {
				continue // the other worker removed the parent
			}
			if err != nil {
				fail("prepare %s on %q: %v", key, parent, err)
			}
			if err := writeLayer(ctx, mounts, id, rng.IntN(256<<10)); err != nil {
				fail("write %s: %v", key, err)
			}
			if rng.IntN(5) == 0 {
				continue // leave it active
			}
			if err := sn.Commit(ctx, "c-"+id, key); err != nil {
				fail("commit %s: %v", key, err)
			}
		case op < 7:
			parent := pick(committed)
			if _, err := sn.View(ctx, "v-"+id, parent); err != nil && !errdefs.IsNotFound(err) {
				fail("view of %q: %v", parent, err)
			}
		default:
			// A worker removes only what it made, or what earlier
			// rounds left (worker 0): removing the other's active
			// snapshot while it is being written is legal but makes
			// that worker's next step fail for no interesting reason.
			mine := slices.DeleteFunc(all, func(name string) bool {
				own := strings.Contains(name, fmt.Sprintf("-%d-%d-", seed, worker))
				old := !strings.Contains(name, fmt.Sprintf("-%d-", seed))
				return !own && !(old && worker == 0)
			})
			if len(mine) == 0 {
				continue
			}
			key := mine[rng.IntN(len(mine))]
			if err := sn.Remove(ctx, key); err != nil && !errdefs.IsConflict(err) && !errdefs.IsNotFound(err) {
				fail("remove %s: %v", key, err)
			}
		}
	}
}

// writeLayer mounts an active snapshot and adds the layer id to it: its
// marker, the chain file extended by id, and a blob of size bytes so
// that commits take a while.
func writeLayer(ctx context.Context, mounts []mount.Mount, id string, size int) error {
	return mount.WithTempMount(ctx, mounts, func(dir string) error {
		chain, err := os.ReadFile(filepath.Join(dir, "chain"))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dir, "layers"), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "layers", id), []byte(id), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "blob-"+id), bytes.Repeat([]byte{'b'}, size), 0o644); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, "chain"), append(chain, id+"\n"...), 0o644)
	})
}

// checkWhole opens the store after a crash and checks every snapshot: it
// is consistent with its parent, its mounts can be had, and a committed
// layer holds everything its maker wrote before committing.
func checkWhole(ctx context.Context, t *testing.T, newSnapshotter NewFunc, root, work string) {
	t.Helper()
	sn, closeFn, err := newSnapshotter(ctx, t, root)
	if err != nil {
		t.Fatalf("reopen after a crash: %v", err)
	}
	defer func() {
		if err := closeFn(); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	all := walkAll(ctx, t, sn)
	kinds := map[snapshot.Kind]int{}
	for _, info := range all {
		kinds[info.Kind]++
	}
	t.Logf("after the kill: %d committed, %d active, %d views", kinds[snapshot.KindCommitted], kinds[snapshot.KindActive], kinds[snapshot.KindView])
	for _, name := range slices.Sorted(maps.Keys(all)) {
		info := all[name]
		if stat, err := sn.Stat(ctx, name); err != nil || stat.Kind != info.Kind || stat.Parent != info.Parent {
			t.Errorf("after a crash, Stat(%s) = %+v, %v; Walk gave %+v", name, stat, err, info)
		}
		if p := info.Parent; p != "" && all[p].Kind != snapshot.KindCommitted {
			t.Errorf("after a crash, %s has parent %q of kind %v", name, p, all[p].Kind)
		}
		if _, err := sn.Usage(ctx, name); err != nil {
			t.Errorf("after a crash, Usage(%s): %v", name, err)
		}
		switch info.Kind {
		case snapshot.KindActive, snapshot.KindView:
			if _, err := sn.Mounts(ctx, name); err != nil {
				t.Errorf("after a crash, Mounts(%s): %v", name, err)
			}
		case snapshot.KindCommitted:
			checkChain(ctx, t, sn, work, all, name)
		default:
			t.Errorf("after a crash, %s is of kind %v", name, info.Kind)
		}
	}
}

// checkChain views the committed c-<id> and compares its chain file and
// markers with its recorded ancestry.
func checkChain(ctx context.Context, t *testing.T, sn snapshot.Snapshotter, work string, all map[string]snapshot.Info, name string) {
	t.Helper()
	var ids []string
	for p := name; p != ""; p = all[p].Parent {
		ids = append([]string{strings.TrimPrefix(p, "c-")}, ids...)
	}
	key := "check-" + randomSuffix()
	mounts, err := sn.View(ctx, key, name)
	if err != nil {
		t.Errorf("after a crash, View of %s: %v", name, err)
		return
	}
	defer func() {
		if err := sn.Remove(ctx, key); err != nil {
			t.Errorf("remove %s: %v", key, err)
		}
	}()
	err = mount.WithTempMount(ctx, mounts, func(dir string) error {
		chain, err := os.ReadFile(filepath.Join(dir, "chain"))
		if err != nil {
			return err
		}
		if want := strings.Join(ids, "\n") + "\n"; string(chain) != want {
			return fmt.Errorf("chain file %q, want %q", chain, want)
		}
		for _, id := range ids {
			b, err := os.ReadFile(filepath.Join(dir, "layers", id))
			if err != nil || string(b) != id {
				return fmt.Errorf("marker of %s: %q, %v", id, b, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Errorf("after a crash, committed %s is not whole: %v", name, err)
	}
}

// maxSkeleton is how many files and directories an empty store may have:
// its root, metadata, lock and a few fixed directories. A directory left
// by a half-made or half-removed snapshot adds two at least.
const maxSkeleton = 8

// checkNoLeftovers removes every snapshot, reopens the store (which
// cleans up what crashes left) and checks that nothing but the skeleton
// remains.
func checkNoLeftovers(ctx context.Context, t *testing.T, newSnapshotter NewFunc, root string) {
	t.Helper()
	sn, closeFn, err := newSnapshotter(ctx, t, root)
	if err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		all := walkAll(ctx, t, sn)
		if len(all) == 0 {
			break
		}
		for name := range all {
			if err := sn.Remove(ctx, name); err != nil && !errdefs.IsConflict(err) {
				t.Fatalf("remove %s: %v", name, err)
			}
		}
	}
	if err := closeFn(); err != nil {
		t.Fatal(err)
	}
	sn, closeFn, err = newSnapshotter(ctx, t, root)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(walkAll(ctx, t, sn)); n != 0 {
		t.Errorf("%d snapshots left", n)
	}
	if err := closeFn(); err != nil {
		t.Fatal(err)
	}
	if n, names := inodes(t, root); n > maxSkeleton {
		t.Errorf("an empty store after crashes holds %d files, more than %d: %v", n, maxSkeleton, names)
	}
}
