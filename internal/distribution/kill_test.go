package distribution_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image/imagetest"
	"github.com/berth-project/berth/internal/testenv/registrytest"
)

// The child process of TestKilledPull: it pulls env[childRef] into the
// store at env[childStore] and exits.
const (
	childRef   = "BERTH_DISTRIBUTION_CHILD_REF"
	childStore = "BERTH_DISTRIBUTION_CHILD_STORE"
)

func TestKilledPullChild(t *testing.T) {
	ref, root := os.Getenv(childRef), os.Getenv(childStore)
	if ref == "" {
		return // only a child of TestKilledPull does anything here
	}
	store, err := content.NewStore(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if _, err := distribution.Pull(context.Background(), ref, store); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// TestKilledPull SIGKILLs a pulling process at seeded random moments and
// restarts it, until a run completes. After every kill the store passes its
// own check (nothing half-written is visible), and no blob committed before
// a kill is ever requested again; at the end every blob is there and right.
// BERTH_TEST_SEED replays a run.
func TestKilledPull(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("BERTH_TEST_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("BERTH_TEST_SEED=%d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	reg := registrytest.Start(t)
	img := randomImage(t, 6, 12<<20, 50)
	imagetest.Push(t, reg, "big/multi:latest", img)
	layers := layerDescs(t, img)
	px := newProxy(t, reg)
	// About 3 s for the whole pull, so kills land all over it.
	px.rate = 10 << 20
	root := t.TempDir()
	ref := px.Host + "/big/multi:latest"

	run := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKilledPullChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), childRef+"="+ref, childStore+"="+root)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	type kill struct {
		at        time.Duration
		committed map[digest.Digest]bool
		logMark   int
	}
	var kills []kill
	for len(kills) < 8 {
		cmd := run()
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		at := time.Duration(20+rng.IntN(1500)) * time.Millisecond
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("child failed: %v", err)
			}
			t.Logf("run %d finished before its kill at %v", len(kills)+1, at)
			goto done
		case <-time.After(at):
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-exited
		store, err := content.NewStore(root)
		if err != nil {
			t.Fatal(err)
		}
		checkStore(t, store)
		k := kill{at: at, committed: map[digest.Digest]bool{}, logMark: len(px.requests())}
		for _, l := range layers {
			if _, err := store.Info(context.Background(), l.Digest); err == nil {
				k.committed[l.Digest] = true
			} else if !errdefs.IsNotFound(err) {
				t.Fatal(err)
			}
		}
		statuses, err := store.ListStatuses(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var partial []string
		for _, st := range statuses {
			partial = append(partial, fmt.Sprintf("%d/%d", st.Offset, st.Total))
		}
		t.Logf("kill %d at %v: %d of %d layers committed, ingests %v", len(kills)+1, at, len(k.committed), len(layers), partial)
		kills = append(kills, k)
	}
	// Enough kills: let the last run finish.
	if err := run().Wait(); err != nil {
		t.Fatalf("final run: %v", err)
	}
done:
	store, err := content.NewStore(root)
	if err != nil {
		t.Fatal(err)
	}
	checkStore(t, store)
	for _, l := range layers {
		if got := digest.FromBytes(readStored(t, store, l)); got != l.Digest {
			t.Fatalf("layer %s reads back as %s", l.Digest, got)
		}
	}
	reqs := px.requests()
	ranges := 0
	for _, r := range reqs {
		if r.Method == http.MethodGet && r.blob() != "" && r.Range != "" {
			ranges++
		}
	}
	for i, k := range kills {
		for _, r := range reqs[k.logMark:] {
			if r.Method == http.MethodGet && k.committed[r.blob()] {
				t.Errorf("blob %s, committed before kill %d, was fetched again", r.blob(), i+1)
			}
		}
	}
	t.Logf("%d kills, %d requests, %d resumed with Range", len(kills), len(reqs), ranges)
	if len(kills) >= 3 && ranges == 0 {
		t.Errorf("%d kills and no download was ever resumed", len(kills))
	}
}
