package content_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/content/contenttest"
	"github.com/berth-project/berth/internal/errdefs"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The test binary doubles as the child process of the crash tests: with
// childEnv set, TestMain runs a child's work instead of the tests.
const (
	childEnv     = "BERTH_CONTENT_TEST_CHILD"
	childRootEnv = "BERTH_CONTENT_TEST_ROOT"
	childSeedEnv = "BERTH_CONTENT_TEST_SEED"
	// childPointEnv is "<crash point>:<n>": the child kills itself the
	// n-th time it reaches that point.
	childPointEnv = "BERTH_CONTENT_TEST_POINT"
	// crashSeedEnv repeats a crash test's random choices (the kills'
	// timing still varies with the machine).
	crashSeedEnv = "BERTH_CONTENT_CRASH_SEED"
)

func TestMain(m *testing.M) {
	children := map[string]func(root string, seed uint64) error{
		"ingest": childIngest,
		"hold":   childHold,
	}
	name := os.Getenv(childEnv)
	if name == "" {
		os.Exit(m.Run())
	}
	fn, ok := children[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown child %q\n", name)
		os.Exit(2)
	}
	seed, _ := strconv.ParseUint(os.Getenv(childSeedEnv), 10, 64)
	if err := fn(os.Getenv(childRootEnv), seed); err != nil {
		fmt.Fprintf(os.Stderr, "child %s: %v\n", name, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func startChild(t *testing.T, name, root string, seed uint64, env ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+name, childRootEnv+"="+root, childSeedEnv+"="+strconv.FormatUint(seed, 10))
	cmd.Env = append(cmd.Env, env...)
	stderr := new(bytes.Buffer)
	cmd.Stderr = stderr
	return cmd, stderr
}

type crashBlob struct {
	data []byte
	desc ocispec.Descriptor
}

// crashBlobs are what the children ingest: sizes from empty to a few
// MiB, so that kills land while writing, while committing, and between;
// every fifth one is a sha512 blob.
var crashBlobs = sync.OnceValue(func() []crashBlob {
	var bs []crashBlob
	for j := range 16 {
		data, desc := contenttest.Blob(uint64(1000+j), j*j*12_000)
		if j%5 == 4 {
			desc.Digest = digest.SHA512.FromBytes(data)
		}
		bs = append(bs, crashBlob{data, desc})
	}
	return bs
})

func crashBlobByRef(ref string) (crashBlob, bool) {
	for _, b := range crashBlobs() {
		if content.RefFor(b.desc) == ref {
			return b, true
		}
	}
	return crashBlob{}, false
}

// slowReader hands out a seekable source in small pieces, with a pause
// now and then, so that a child spends a good part of its time with an
// ingest half-written.
type slowReader struct {
	*bytes.Reader
	reads int
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.reads++; r.reads%8 == 0 {
		time.Sleep(100 * time.Microsecond)
	}
	return r.Reader.Read(p[:min(len(p), 64<<10)])
}

// childIngest ingests (whole or half), deletes, relabels and aborts blobs of crashBlobs,
// forever, until killed. Any unexpected error ends it with a message.
func childIngest(root string, seed uint64) error {
	if p := os.Getenv(childPointEnv); p != "" {
		point, nth, _ := strings.Cut(p, ":")
		n, err := strconv.Atoi(nth)
		if err != nil {
			return fmt.Errorf("%s=%q: %w", childPointEnv, p, err)
		}
		var hits atomic.Int64
		content.SetCrashHook(func(at string) {
			if at == point && hits.Add(1) == int64(n) {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
		})
	}
	ctx := context.Background()
	s, err := content.NewStore(root)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	blobs := crashBlobs()
	for {
		b := blobs[rng.IntN(len(blobs))]
		switch op := rng.IntN(10); {
		case op < 1:
			// A download that stops half-way, for a later one to resume.
			w, err := content.OpenWriter(ctx, s, content.RefFor(b.desc), b.desc)
			if errdefs.IsAlreadyExists(err) {
				continue
			}
			if err != nil {
				return fmt.Errorf("OpenWriter: %w", err)
			}
			st, _ := w.Status()
			if _, err := w.Write(b.data[st.Offset : st.Offset+(b.desc.Size-st.Offset)/2]); err != nil {
				return fmt.Errorf("Write: %w", err)
			}
			if err := w.Close(); err != nil {
				return fmt.Errorf("Close: %w", err)
			}
		case op < 7:
			var opts []content.WriteOpt
			if rng.IntN(2) == 0 {
				opts = append(opts, content.WithLabels(map[string]string{"test.berth.io/written": "yes"}))
			}
			r := &slowReader{Reader: bytes.NewReader(b.data)}
			if err := content.WriteBlob(ctx, s, content.RefFor(b.desc), r, b.desc, opts...); err != nil {
				return fmt.Errorf("WriteBlob %s: %w", b.desc.Digest, err)
			}
		case op < 8:
			if err := s.Delete(ctx, b.desc.Digest); err != nil && !errdefs.IsNotFound(err) {
				return fmt.Errorf("Delete: %w", err)
			}
		case op < 9:
			_, err := s.Update(ctx, content.Info{Digest: b.desc.Digest, Labels: map[string]string{"test.berth.io/updated": strconv.Itoa(rng.IntN(100))}}, "labels.test.berth.io/updated")
			if err != nil && !errdefs.IsNotFound(err) {
				return fmt.Errorf("Update: %w", err)
			}
		default:
			err := s.Abort(ctx, content.RefFor(b.desc))
			if err != nil && !errdefs.IsNotFound(err) && !errdefs.IsUnavailable(err) {
				return fmt.Errorf("Abort: %w", err)
			}
		}
	}
}

// TestCrashSafety kills processes that use one store with SIGKILL at
// random moments, in every phase of their work (opening the store,
// writing, committing, deleting, relabelling), sometimes two at once,
// and checks after each round that the reopened store is consistent, and
// that every ingest left behind resumes to the right blob.
func TestCrashSafety(t *testing.T) {
	t.Parallel()
	rng := crashRand(t)
	root := t.TempDir()
	rounds := 12
	if testing.Short() {
		rounds = 4
	}
	var resumed, ingests int
	for round := range rounds {
		var wg sync.WaitGroup
		for range 1 + rng.IntN(2) {
			cmd, stderr := startChild(t, "ingest", root, rng.Uint64())
			delay := time.Duration(rng.Int64N(int64(300 * time.Millisecond)))
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			wg.Go(func() {
				time.Sleep(delay)
				cmd.Process.Kill()
				err := cmd.Wait()
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
					t.Errorf("round %d: child ended by itself (%v): %s", round, err, stderr)
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		r, i := verifyAfterCrash(t, root, rng)
		resumed += r
		ingests += i
	}
	t.Logf("%d rounds; %d ingests left by killed children, %d of them resumed from data", rounds, ingests, resumed)
}

// crashRand is the source of a crash test's choices, seeded from
// crashSeedEnv or the clock.
func crashRand(t *testing.T) *rand.Rand {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(crashSeedEnv); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s: %v", crashSeedEnv, err)
		}
	}
	t.Logf("seed %d (%s=%d repeats the choices)", seed, crashSeedEnv, seed)
	return rand.New(rand.NewPCG(seed, 1))
}

// TestCrashPoints kills a child at each point where a crash leaves a
// distinct state on disk (content.CrashPoints), after another child was
// killed at a random one of them so that there is something to recover,
// and checks the store after each.
func TestCrashPoints(t *testing.T) {
	t.Parallel()
	rng := crashRand(t)
	rounds := 2
	if testing.Short() {
		rounds = 1
	}
	for _, point := range content.CrashPoints {
		seed := rng.Uint64()
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, 2))
			root := t.TempDir()
			for range rounds {
				first := content.CrashPoints[rng.IntN(len(content.CrashPoints))]
				runToCrash(t, root, rng.Uint64(), first, 1+rng.IntN(4))
				runToCrash(t, root, rng.Uint64(), point, 1+rng.IntN(4))
				verifyAfterCrash(t, root, rng)
			}
		})
	}
}

// runToCrash runs an ingesting child until it kills itself at the nth
// visit to point. The recovery point is passed once per process, so it
// is always the first visit.
func runToCrash(t *testing.T, root string, seed uint64, point string, nth int) {
	t.Helper()
	if point == "recovered-ingests" {
		nth = 1
	}
	cmd, stderr := startChild(t, "ingest", root, seed, fmt.Sprintf("%s=%s:%d", childPointEnv, point, nth))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	if !timer.Stop() {
		t.Fatalf("child did not reach %s #%d in 20s: %s", point, nth, stderr)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child ended (%v) before reaching %s #%d: %s", err, point, nth, stderr)
	}
}

// verifyAfterCrash reopens the store, checks it, completes the ingests
// the children left, and deletes some blobs so the next round has work.
func verifyAfterCrash(t *testing.T, root string, rng *rand.Rand) (resumed, ingests int) {
	t.Helper()
	ctx := t.Context()
	s, err := content.NewStore(root)
	if err != nil {
		t.Fatal(err)
	}
	wantClean(t, mustCheck(t, s))

	sts, err := s.ListStatuses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range sts {
		ingests++
		b, ok := crashBlobByRef(st.Ref)
		if !ok {
			t.Errorf("ingest of an unknown ref %q", st.Ref)
			continue
		}
		if st.Offset > b.desc.Size || st.Total != b.desc.Size || st.Expected != b.desc.Digest {
			t.Errorf("ingest %s: %+v; want at most %d bytes of %s", st.Ref, st, b.desc.Size, b.desc.Digest)
		}
		w, err := s.Writer(ctx, st.Ref, b.desc)
		if errdefs.IsAlreadyExists(err) {
			continue // committed under another name; Writer threw the ingest away
		}
		if err != nil {
			t.Fatalf("Writer %s: %v", st.Ref, err)
		}
		ws, _ := w.Status()
		if ws.Offset != st.Offset {
			t.Errorf("ingest %s resumed at %d; Status said %d", st.Ref, ws.Offset, st.Offset)
		}
		if ws.Offset > 0 {
			resumed++
		}
		if _, err := w.Write(b.data[ws.Offset:]); err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(ctx, b.desc.Size, b.desc.Digest, nil); err != nil {
			t.Errorf("Commit of the resumed ingest %s: %v", st.Ref, err)
		}
	}

	known := map[digest.Digest]bool{}
	for _, b := range crashBlobs() {
		known[b.desc.Digest] = true
	}
	var blobs []digest.Digest
	err = s.Walk(ctx, func(info content.Info) error {
		if !known[info.Digest] {
			t.Errorf("unknown blob %s", info.Digest)
		}
		blobs = append(blobs, info.Digest)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantClean(t, mustCheck(t, s))
	if sts, _ := s.ListStatuses(ctx); len(sts) != 0 {
		t.Errorf("ingests left after resuming all: %+v", sts)
	}
	for _, d := range blobs {
		if rng.IntN(2) == 0 {
			if err := s.Delete(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
	}
	return resumed, ingests
}

// childHold holds an ingest half-written until its stdin closes or it
// is killed.
func childHold(root string, _ uint64) error {
	s, err := content.NewStore(root)
	if err != nil {
		return err
	}
	data, desc := holdBlob()
	w, err := s.Writer(context.Background(), content.RefFor(desc), desc)
	if err != nil {
		return err
	}
	if _, err := w.Write(data[:len(data)/2]); err != nil {
		return err
	}
	fmt.Println("held")
	io.Copy(io.Discard, os.Stdin)
	return nil
}

func holdBlob() ([]byte, ocispec.Descriptor) { return contenttest.Blob(90, 100_000) }

// TestCrossProcessLock checks that a ref held by a writer in another
// process is held for this one too, that opening the store does not
// clear it away, and that the lock dies with its holder.
func TestCrossProcessLock(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	root := t.TempDir()
	data, desc := holdBlob()
	ref := content.RefFor(desc)

	cmd, stderr := startChild(t, "hold", root, 0)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); line != "held\n" {
		t.Fatalf("child: %q, %v: %s", line, err, stderr)
	}

	s, err := content.NewStore(root)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := s.Status(ctx, ref); err != nil || st.Offset != int64(len(data)/2) {
		t.Fatalf("Status of the child's ingest: %+v, %v", st, err)
	}
	if w, err := s.Writer(ctx, ref, desc); !errdefs.IsUnavailable(err) {
		t.Errorf("Writer of a ref another process holds: %v; want Unavailable", err)
		if w != nil {
			w.Close()
		}
	}
	if err := s.Abort(ctx, ref); !errdefs.IsUnavailable(err) {
		t.Errorf("Abort of a ref another process holds: %v; want Unavailable", err)
	}
	wantClean(t, mustCheck(t, s, content.WithRepair(), content.WithIngestExpiry(time.Nanosecond)))

	got := make(chan content.Writer, 1)
	go func() {
		w, err := content.OpenWriter(ctx, s, ref, desc)
		if err != nil {
			t.Errorf("OpenWriter: %v", err)
		}
		got <- w
	}()
	time.Sleep(20 * time.Millisecond)
	cmd.Process.Kill()
	cmd.Wait()
	var w content.Writer
	select {
	case w = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("OpenWriter still waiting 10s after the holder died")
	}
	if w == nil {
		t.FailNow()
	}
	defer w.Close()
	if st, _ := w.Status(); st.Offset != int64(len(data)/2) {
		t.Errorf("resumed at %d, want %d", st.Offset, len(data)/2)
	}
	if _, err := w.Write(data[len(data)/2:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, desc.Size, desc.Digest, nil); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	checkReadable(t, s, data, desc)
}
