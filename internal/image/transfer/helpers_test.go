package transfer_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/api/types/jsonstream"
	digest "github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/image/imagetest"
	"github.com/berth-project/berth/internal/image/transfer"
	"github.com/berth-project/berth/internal/mount"
	"github.com/berth-project/berth/internal/snapshot"
	"github.com/berth-project/berth/internal/snapshot/overlay"
	"github.com/berth-project/berth/internal/testenv"
)

// newStore opens a fresh image store over a content store and the real
// overlay snapshotter, each in its own directory of t.
func newStore(t testing.TB, opts ...image.Opt) *image.Store {
	t.Helper()
	testenv.RequireRoot(t)
	cs, err := content.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sn, err := overlay.NewSnapshotter(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sn.Close() })
	s, err := image.NewStore(t.Context(), t.TempDir(), cs, sn, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newClient(t testing.TB) *distribution.Client {
	t.Helper()
	c, err := distribution.New()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pull runs transfer.Pull and returns the progress stream, read both from
// the channel and from the JSON writer, which must agree.
func pull(t testing.TB, c *distribution.Client, s *image.Store, ref string, opts ...transfer.Opt) (*transfer.PullResult, []jsonstream.Message, error) {
	t.Helper()
	ch := make(chan jsonstream.Message)
	got := make(chan []jsonstream.Message)
	go func() {
		var msgs []jsonstream.Message
		for m := range ch {
			msgs = append(msgs, m)
		}
		got <- msgs
	}()
	var buf bytes.Buffer
	res, err := transfer.Pull(t.Context(), c, s, ref, append(opts, transfer.WithProgress(ch), transfer.WithProgressWriter(&buf))...)
	close(ch)
	msgs := <-got
	checkSameAsJSON(t, msgs, buf.Bytes())
	return res, msgs, err
}

// push is pull's counterpart.
func push(t testing.TB, c *distribution.Client, s *image.Store, ref string, opts ...transfer.Opt) (*transfer.PushResult, []jsonstream.Message, error) {
	t.Helper()
	ch := make(chan jsonstream.Message)
	got := make(chan []jsonstream.Message)
	go func() {
		var msgs []jsonstream.Message
		for m := range ch {
			msgs = append(msgs, m)
		}
		got <- msgs
	}()
	var buf bytes.Buffer
	res, err := transfer.Push(t.Context(), c, s, ref, append(opts, transfer.WithProgress(ch), transfer.WithProgressWriter(&buf))...)
	close(ch)
	msgs := <-got
	checkSameAsJSON(t, msgs, buf.Bytes())
	return res, msgs, err
}

// checkSameAsJSON fails t unless the JSON lines are the messages, in
// order: the writer and the channel carry one stream.
func checkSameAsJSON(t testing.TB, msgs []jsonstream.Message, lines []byte) {
	t.Helper()
	var fromJSON []jsonstream.Message
	sc := bufio.NewScanner(bytes.NewReader(lines))
	for sc.Scan() {
		var m jsonstream.Message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("progress line %q: %v", sc.Text(), err)
		}
		fromJSON = append(fromJSON, m)
	}
	a, _ := json.Marshal(msgs)
	b, _ := json.Marshal(fromJSON)
	if !bytes.Equal(a, b) {
		t.Errorf("the JSON stream differs from the channel's:\n%s\n%s", b, a)
	}
}

// statuses are the statuses of the messages about id, in order, with
// "Waiting" dropped and repeats (byte counts) folded.
func statuses(msgs []jsonstream.Message, id string) []string {
	var out []string
	for _, m := range msgs {
		if m.ID != id || m.Status == distribution.StatusWaiting {
			continue
		}
		if len(out) == 0 || out[len(out)-1] != m.Status {
			out = append(out, m.Status)
		}
	}
	return out
}

func short(d digest.Digest) string { return d.Encoded()[:12] }

// layerDigests are img's layer blob digests, in order.
func layerDigests(t testing.TB, img v1.Image) []digest.Digest {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var out []digest.Digest
	for _, l := range m.Layers {
		out = append(out, digest.Digest(l.Digest.String()))
	}
	return out
}

func manifestDigest(t testing.TB, a interface{ Digest() (v1.Hash, error) }) digest.Digest {
	t.Helper()
	h, err := a.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return digest.Digest(h.String())
}

// checkPullStream checks a pull's stream against docker's: "Pulling from"
// first, then per layer the download's statuses followed, when the layer
// was fetched, by "Extracting" and "Pull complete", layer lines with a
// progressDetail and growing counts, and the two closing lines last.
func checkPullStream(t testing.TB, msgs []jsonstream.Message, repo, tag string, layers []digest.Digest, fresh bool, root digest.Digest, status string) {
	t.Helper()
	dump := func() string { b, _ := json.MarshalIndent(msgs, "", " "); return string(b) }
	if len(msgs) < 3 {
		t.Fatalf("stream too short:\n%s", dump())
	}
	if m := msgs[0]; m.Status != "Pulling from "+repo || m.ID != tag || m.Progress != nil {
		t.Errorf("first message %+v, want Pulling from %s (id %s)", m, repo, tag)
	}
	want := []string{distribution.StatusAlreadyExists}
	if fresh {
		want = []string{distribution.StatusPullingFSLayer, distribution.StatusDownloading, distribution.StatusVerifying,
			distribution.StatusDownloadComplete, "Extracting", "Pull complete"}
	}
	for i, l := range layers {
		if got := statuses(msgs, short(l)); !slices.Equal(got, want) {
			t.Errorf("layer %d (%s): %q, want %q", i, short(l), got, want)
		}
	}
	for _, m := range msgs {
		if m.ID == "" || m.Status == "Pulling from "+repo {
			continue
		}
		if m.Progress == nil {
			t.Errorf("layer message without progressDetail: %+v", m)
			continue
		}
		switch m.Status {
		case distribution.StatusDownloading, "Extracting":
			if m.Progress.Total <= 0 || m.Progress.Current > m.Progress.Total {
				t.Errorf("bad counts: %+v %+v", m, *m.Progress)
			}
		}
	}
	n := len(msgs)
	if msgs[n-2].Status != "Digest: "+root.String() || msgs[n-2].ID != "" {
		t.Errorf("second to last message %+v, want Digest: %s", msgs[n-2], root)
	}
	if msgs[n-1].Status != status || msgs[n-1].ID != "" {
		t.Errorf("last message %+v, want %q", msgs[n-1], status)
	}
	if t.Failed() {
		t.Logf("stream:\n%s", dump())
	}
}

// withView mounts a read-only view of the committed snapshot top and
// calls fn with its root; the view is unmounted and removed after.
func withView(t testing.TB, sn snapshot.Snapshotter, top string, fn func(root string)) {
	t.Helper()
	ctx := context.Background()
	key := "test-view-" + filepath.Base(t.TempDir())
	mounts, err := sn.View(ctx, key, top)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := sn.Remove(ctx, key); err != nil {
			t.Errorf("remove view: %v", err)
		}
	}()
	if err := mount.WithTempMount(ctx, mounts, func(root string) error { fn(root); return nil }); err != nil {
		t.Fatal(err)
	}
}

// assertConsistent fails t unless the store's check (blobs rehashed,
// records resolve, unpacked chains whole, no leftover) finds nothing, and
// every record's image is unpacked.
func assertConsistent(t testing.TB, s *image.Store) {
	t.Helper()
	ctx := context.Background()
	rep, err := s.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Unrepaired() {
		t.Errorf("check: %s", p)
	}
	recs, err := s.Records(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if _, ok, err := s.Unpacked(ctx, r); err != nil || !ok {
			t.Errorf("%s is recorded but not unpacked (%v)", r.Name, err)
		}
	}
}

// platformOf reads the platform marker of an unpacked imagetest image.
func platformOf(t testing.TB, s *image.Store, top string) string {
	t.Helper()
	var p string
	withView(t, s.Snapshotter(), top, func(root string) {
		b, err := os.ReadFile(filepath.Join(root, imagetest.PlatformPath))
		if err != nil {
			t.Fatal(err)
		}
		p = strings.TrimSpace(string(b))
	})
	return p
}
