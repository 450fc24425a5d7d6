package images_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/moby/moby/api/types/jsonstream"
	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"

	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/image/imagetest"
	"github.com/berth-project/berth/internal/image/transfer"
	"github.com/berth-project/berth/internal/snapshot"
	"github.com/berth-project/berth/internal/testenv"
	"github.com/berth-project/berth/internal/testenv/registrytest"
)

// The crash test's child: TestMain runs crashChild when childRootEnv is
// set, instead of the tests.
const (
	childRootEnv = "BERTH_IMAGES_CHILD_ROOT"
	childRefEnv  = "BERTH_IMAGES_CHILD_REF"
	childKillEnv = "BERTH_IMAGES_CHILD_KILL"
	// seedEnv replays a run of TestPullSurvivesKills: the same kill
	// schedule (the moments, not what the machine was doing at them).
	seedEnv = "BERTH_TEST_SEED"
)

// crashChild pulls ref into the stores under root, as the daemon would,
// and exits 0 when the image is recorded. With childKillEnv set to
// "<status prefix>#<n>" it SIGKILLs itself when the n-th progress message
// with that status arrives: a kill at a chosen point of the pull ("Pull
// complete#2": just after the second layer's snapshot was committed;
// "Digest:#1": just after the record was made).
func crashChild(root, ref string) int {
	ctx := context.Background()
	s, err := openStores(ctx, root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open stores:", err)
		return 2
	}
	defer s.close()
	c, err := distribution.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var opts []transfer.Opt
	if at := os.Getenv(childKillEnv); at != "" {
		status, count, _ := strings.Cut(at, "#")
		n, _ := strconv.Atoi(count)
		ch := make(chan jsonstream.Message)
		defer close(ch)
		go func() {
			seen := 0
			for m := range ch {
				if strings.HasPrefix(m.Status, status) {
					if seen++; seen == n {
						_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
					}
				}
			}
		}()
		opts = append(opts, transfer.WithProgress(ch))
	}
	if _, err := transfer.Pull(ctx, c, s.images, ref, opts...); err != nil {
		fmt.Fprintln(os.Stderr, "pull:", err)
		return 1
	}
	return 0
}

// killPoints are the progress statuses a child may be told to die at, in
// the order a layer goes through them, and the two image lines around.
var killPoints = []string{"Pulling from", "Pulling fs layer", "Downloading", "Verifying Checksum",
	"Download complete", "Extracting", "Pull complete", "Digest:"}

// crashLayers are the data layers the crash test's image adds on top of
// the busybox test image: incompressible bytes, gzipped and plain, about
// 72 MiB in all.
var crashLayers = []struct {
	size int64
	gzip bool
}{{16 << 20, true}, {20 << 20, false}, {20 << 20, true}, {16 << 20, false}}

const crashFileSize = 4 << 20

// crashImage builds the crash test's image and returns it with the SHA-256
// of every data file, by path.
func crashImage(t testing.TB) (v1.Image, map[string]string) {
	t.Helper()
	rng := rand.NewChaCha8([32]byte{'b', 'e', 'r', 't', 'h'})
	files := map[string]string{}
	var adds []mutate.Addendum
	for i, spec := range crashLayers {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		dir := fmt.Sprintf("crash/layer%d", i)
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755, ModTime: imagetest.Epoch}); err != nil {
			t.Fatal(err)
		}
		data := make([]byte, crashFileSize)
		for n := int64(0); n < spec.size; n += crashFileSize {
			name := fmt.Sprintf("%s/file%d", dir, n/crashFileSize)
			_, _ = rng.Read(data) // ChaCha8.Read never fails
			sum := sha256.Sum256(data)
			files[name] = hex.EncodeToString(sum[:])
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: crashFileSize, ModTime: imagetest.Epoch}); err != nil {
				t.Fatal(err)
			}
			if _, err := tw.Write(data); err != nil {
				t.Fatal(err)
			}
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		raw := buf.Bytes()
		var l v1.Layer
		if spec.gzip {
			var err error
			l, err = tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil },
				tarball.WithCompressionLevel(gzip.BestSpeed), tarball.WithMediaType(types.OCILayer))
			if err != nil {
				t.Fatal(err)
			}
		} else {
			l = static.NewLayer(raw, types.OCIUncompressedLayer)
		}
		adds = append(adds, mutate.Addendum{Layer: l, History: v1.History{CreatedBy: "crash test layer " + strconv.Itoa(i)}})
	}
	img, err := mutate.Append(imagetest.BusyboxImage(t), adds...)
	if err != nil {
		t.Fatal(err)
	}
	return img, files
}

// wanted is what a completed pull of the crash image leaves.
type wanted struct {
	name     string // the record's name
	manifest digest.Digest
	blobs    []digest.Digest // config and layers
	diffIDs  []digest.Digest
	chains   []digest.Digest
	files    map[string]string
}

func describe(t testing.TB, img v1.Image, name string, files map[string]string) *wanted {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	w := &wanted{name: name, files: files, manifest: manifestDigestOf(t, img)}
	w.blobs = append(w.blobs, digest.Digest(m.Config.Digest.String()))
	for _, l := range m.Layers {
		w.blobs = append(w.blobs, digest.Digest(l.Digest.String()))
	}
	for _, d := range cfg.RootFS.DiffIDs {
		w.diffIDs = append(w.diffIDs, digest.Digest(d.String()))
	}
	w.chains = identity.ChainIDs(slices.Clone(w.diffIDs))
	return w
}

func manifestDigestOf(t testing.TB, img v1.Image) digest.Digest {
	t.Helper()
	h, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return digest.Digest(h.String())
}

// pullState is what a look at the stores after a kill finds.
type pullState struct {
	blobs    map[digest.Digest]bool // committed blobs of the image
	chains   int                    // committed layer snapshots (a prefix of the chain)
	recorded bool
	ingests  []string
}

// phase names where in the pull the state says the kill landed.
func (s pullState) phase(w *wanted) string {
	allBlobs := len(s.blobs) == len(w.blobs)+1
	switch {
	case s.recorded:
		return "recorded"
	case s.chains == len(w.chains):
		return "unpacked, not recorded"
	case s.chains > 0 && !allBlobs:
		return "downloading and extracting"
	case s.chains > 0 || allBlobs:
		return "extracting"
	case len(s.blobs) > 0:
		return "downloading"
	}
	return "resolving"
}

// inspect opens the stores under root, as the next start of the daemon
// would, and fails t (naming when) unless they are consistent: the image
// store's check (every blob rehashed against its digest, no stray or
// temporary file, records resolve, unpacked chains whole, no unfinished
// unpack) finds nothing; the snapshots are exactly a prefix of the
// image's chain, committed, with the right parents and diff_ids, and no
// snapshot directory or link is left without its snapshot; a record, if
// there is one, names the image and the image is wholly unpacked; nothing
// is mounted under root.
func inspect(t testing.TB, when, root string, w *wanted) pullState {
	t.Helper()
	ctx := context.Background()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s: %s", when, fmt.Sprintf(format, args...))
	}
	s, err := openStores(ctx, root)
	if err != nil {
		t.Fatalf("%s: open stores: %v", when, err)
	}
	defer s.close()
	st := pullState{blobs: map[digest.Digest]bool{}}

	rep, err := s.images.Check(ctx)
	if err != nil {
		t.Fatalf("%s: check: %v", when, err)
	}
	for _, p := range rep.Unrepaired() {
		fail("check: %s", p)
	}

	var snaps []snapshot.Info
	if err := s.sn.Walk(ctx, func(_ context.Context, i snapshot.Info) error { snaps = append(snaps, i); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, sn := range snaps {
		i := slices.Index(w.chains, digest.Digest(sn.Name))
		switch {
		case sn.Kind != snapshot.KindCommitted:
			fail("snapshot %s is %s after the store's cleanup", sn.Name, sn.Kind)
		case i < 0:
			fail("snapshot %s is no layer of the image", sn.Name)
		case i > 0 && sn.Parent != w.chains[i-1].String(), i == 0 && sn.Parent != "":
			fail("snapshot %d has parent %q", i, sn.Parent)
		case sn.Labels[image.LabelSnapshotDiffID] != w.diffIDs[i].String():
			fail("snapshot %d has diff_id label %q, want %s", i, sn.Labels[image.LabelSnapshotDiffID], w.diffIDs[i])
		}
	}
	for st.chains < len(w.chains) && slices.ContainsFunc(snaps, func(i snapshot.Info) bool { return i.Name == w.chains[st.chains].String() }) {
		st.chains++
	}
	if st.chains != len(snaps) {
		fail("%d snapshots, not a prefix of the chain (%d)", len(snaps), st.chains)
	}
	for _, sub := range []string{"snapshots", "l"} {
		entries, err := os.ReadDir(filepath.Join(root, "overlay", sub))
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != len(snaps) {
			fail("overlay/%s holds %d entries for %d snapshots", sub, len(entries), len(snaps))
		}
	}

	recs, err := s.images.Records(ctx)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case len(recs) > 1:
		fail("records %+v", recs)
	case len(recs) == 1:
		st.recorded = true
		if recs[0].Name != w.name || recs[0].Target.Digest != w.manifest {
			fail("record %s -> %s, want %s -> %s", recs[0].Name, recs[0].Target.Digest, w.name, w.manifest)
		}
		if _, ok, err := s.images.Unpacked(ctx, recs[0]); err != nil || !ok {
			fail("recorded but not unpacked (%v)", err)
		}
	}

	for _, d := range append([]digest.Digest{w.manifest}, w.blobs...) {
		_, err := s.images.Content().Info(ctx, d)
		switch {
		case err == nil:
			st.blobs[d] = true
		case !errdefs.IsNotFound(err):
			t.Fatal(err)
		}
	}
	statuses, err := s.images.Content().ListStatuses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, is := range statuses {
		st.ingests = append(st.ingests, fmt.Sprintf("%s %d/%d", is.Expected.Encoded()[:12], is.Offset, is.Total))
	}
	if m := mountsBelow(t, root); len(m) > 0 {
		fail("mounts left: %v", m)
	}
	return st
}

// checkTree checks the unpacked image: the busybox layers' tree, and every
// data file whole.
func checkTree(t testing.TB, root string, w *wanted) {
	t.Helper()
	s, err := openStores(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	withView(t, s.sn, w.chains[len(w.chains)-1].String(), func(rootfs string) {
		imagetest.CheckBusyboxTree(t, rootfs)
		for name, want := range w.files {
			b, err := os.ReadFile(filepath.Join(rootfs, name))
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != want {
				t.Errorf("%s: content differs from the image's", name)
			}
		}
	})
}

// TestPullSurvivesKills is the crash-safety requirement: a pull of
// a ~73 MB, six-layer image (through transfer.Pull, so download, the
// pipelined unpack into overlay and the record) in a child process is
// SIGKILLed at seeded random moments and restarted until a run completes;
// that makes a round, and rounds with fresh stores go on until enough
// kills have landed. After every kill and at the end of a round the stores
// are opened and inspected (see inspect), and a counting proxy in front of
// the registry shows that no blob committed before a kill is ever fetched
// again. At the end of a round the unpacked tree is checked file by file.
// BERTH_TEST_SEED replays a run's kill schedule.
func TestPullSurvivesKills(t *testing.T) {
	testenv.RequireRoot(t)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(seedEnv); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s: %v", seedEnv, err)
		}
	}
	t.Logf("%s=%d", seedEnv, seed)
	defer func() {
		if t.Failed() {
			t.Logf("replay the kill schedule with %s=%d", seedEnv, seed)
		}
	}()
	rng := rand.New(rand.NewPCG(seed, 0))

	reg := registrytest.Start(t)
	img, files := crashImage(t)
	imagetest.Push(t, reg, "crash/big:latest", img)
	// 20 MB/s per blob, three blobs at once: a whole pull takes about
	// 1.5 seconds, so random kills land in every phase of it.
	px := newProxy(t, reg.URL(), 20<<20)
	ref := px.Host + "/crash/big:latest"
	named, err := image.NormalizeName(ref)
	if err != nil {
		t.Fatal(err)
	}
	w := describe(t, img, named.String(), files)

	const (
		minKills = 20
		budget   = 40 * time.Second
		maxKill  = 1500 * time.Millisecond
	)
	type kill struct {
		committed map[digest.Digest]bool
		mark      int // the proxy log's length at the kill
	}
	var (
		kills, rounds, refetches, resumed int
		phases                            = map[string]int{}
		start                             = time.Now()
	)
	for kills < minKills && time.Since(start) < budget {
		rounds++
		root := t.TempDir()
		var roundKills []kill
		for run := 1; ; run++ {
			// Half the runs die at a random moment, half at a chosen
			// point of the progress stream (a point that a resumed pull
			// no longer passes lets the run finish).
			at := 10*time.Millisecond + time.Duration(rng.Int64N(int64(maxKill)))
			point := ""
			if rng.IntN(2) == 0 {
				status, n := killPoints[rng.IntN(len(killPoints))], 1
				if status != "Pulling from" && status != "Digest:" {
					n += rng.IntN(len(w.chains)) // the n-th layer to get there
				}
				point = fmt.Sprintf("%s#%d", status, n)
				at = time.Minute
			}
			var stderr bytes.Buffer
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childRootEnv+"="+root, childRefEnv+"="+ref, childKillEnv+"="+point)
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			timer := time.NewTimer(at)
			var err error
			select {
			case err = <-exited:
				timer.Stop()
			case <-timer.C:
				// The pull may end as the timer fires: Wait has then
				// reaped it, and there is nothing left to kill.
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
					t.Fatal(err)
				}
				err = <-exited
			}
			ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if !ws.Signaled() {
				if err != nil {
					t.Fatalf("round %d run %d failed: %v\n%s", rounds, run, err, stderr.String())
				}
				break
			}
			kills++
			when := fmt.Sprintf("round %d, run %d killed at %v", rounds, run, at)
			if point != "" {
				when = fmt.Sprintf("round %d, run %d killed at %q", rounds, run, point)
			}
			st := inspect(t, when, root, w)
			phases[st.phase(w)]++
			t.Logf("%s: %s, %d/%d blobs, %d/%d layers unpacked, ingests %v", when, st.phase(w),
				len(st.blobs), len(w.blobs)+1, st.chains, len(w.chains), st.ingests)
			roundKills = append(roundKills, kill{committed: st.blobs, mark: len(px.requests())})
			if t.Failed() {
				return
			}
		}
		st := inspect(t, fmt.Sprintf("round %d, at the end", rounds), root, w)
		if !st.recorded || st.chains != len(w.chains) {
			t.Fatalf("round %d: the completed pull left %+v", rounds, st)
		}
		checkTree(t, root, w)
		reqs := px.requests()
		for i, k := range roundKills {
			for _, r := range reqs[k.mark:] {
				if r.Method == http.MethodGet && k.committed[r.blob()] {
					refetches++
					t.Errorf("round %d: blob %s, committed before kill %d, was fetched again", rounds, r.blob(), i+1)
				}
			}
		}
		if len(roundKills) > 0 {
			for _, r := range reqs[roundKills[0].mark:] {
				if r.Method == http.MethodGet && r.blob() != "" && r.Range != "" {
					resumed++
				}
			}
		}
		// A round's stores are done with: free their ~150 MB now rather
		// than when the test ends.
		if err := os.RemoveAll(root); err != nil {
			t.Fatal(err)
		}
		// The next round's requests are a fresh store's: drop this one's.
		px.mu.Lock()
		px.log = nil
		px.mu.Unlock()
		if t.Failed() {
			return
		}
	}
	var ph []string
	for k, v := range phases {
		ph = append(ph, fmt.Sprintf("%s %d", k, v))
	}
	slices.Sort(ph)
	t.Logf("%d rounds, %d kills (%s), %d downloads resumed with Range, %d committed blobs fetched again, %v",
		rounds, kills, strings.Join(ph, ", "), resumed, refetches, time.Since(start).Round(time.Millisecond))
	if kills < 3 {
		t.Errorf("only %d kills landed", kills)
	}
}
