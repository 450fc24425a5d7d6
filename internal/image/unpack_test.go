package image

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image/imagetest"
	"github.com/berth-project/berth/internal/mount"
	"github.com/berth-project/berth/internal/snapshot"
	"github.com/berth-project/berth/internal/snapshot/native"
	"github.com/berth-project/berth/internal/snapshot/overlay"
	"github.com/berth-project/berth/internal/testenv"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/api/types/jsonstream"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// snapshotterKind is a real snapshotter implementation that the unpack
// tests run against.
type snapshotterKind struct {
	name string
	open func(root string) (snapshot.Snapshotter, error)
}

// snapshotters are the implementations every unpack test runs against:
// overlay (layers applied straight into the upper directory, overlay
// whiteouts) and native (a full copy per layer, whiteouts deleted).
var snapshotters = []snapshotterKind{
	{"overlay", func(root string) (snapshot.Snapshotter, error) { return overlay.NewSnapshotter(root) }},
	{"native", func(root string) (snapshot.Snapshotter, error) { return native.NewSnapshotter(root) }},
}

// new opens a snapshotter of this kind in a fresh directory of t.
func (k snapshotterKind) new(t testing.TB) snapshot.Snapshotter {
	t.Helper()
	return k.openAt(t, t.TempDir())
}

// openAt opens a snapshotter of this kind at root, closed when t ends.
func (k snapshotterKind) openAt(t testing.TB, root string) snapshot.Snapshotter {
	t.Helper()
	sn, err := k.open(root)
	if err != nil {
		t.Fatalf("%s snapshotter at %s: %v", k.name, root, err)
	}
	t.Cleanup(func() { sn.Close() })
	return sn
}

// newOverlay is a real overlay snapshotter in a fresh directory of t.
func newOverlay(t testing.TB) snapshot.Snapshotter { return snapshotters[0].new(t) }

// withView mounts a read-only view of the snapshot top and calls fn with
// its root.
func withView(t testing.TB, sn snapshot.Snapshotter, top string, fn func(root string)) {
	t.Helper()
	ctx := context.Background()
	key := "test-view-" + randomHex(4)
	mounts, err := sn.View(ctx, key, top)
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Remove(ctx, key)
	if err := mount.WithTempMount(ctx, mounts, func(root string) error { fn(root); return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestUnpackOverlayNativeAndUmociAgree(t *testing.T) {
	testenv.RequireRoot(t)
	ctx := context.Background()
	img := imagetest.BusyboxImage(t, imagetest.WithRandomLayer(1<<20))
	roots := map[string]string{}
	out := t.TempDir()
	for _, sc := range snapshotters {
		t.Run(sc.name, func(t *testing.T) {
			sn := sc.new(t)
			s := newTestStore(t, sn)
			target := putImage(t, s, img)
			rec := mustCreate(t, s, "busybox", target)
			var msgs []jsonstream.Message
			top, err := s.Unpack(ctx, rec, WithUnpackProgress(func(m jsonstream.Message) { msgs = append(msgs, m) }))
			if err != nil {
				t.Fatal(err)
			}
			checkProgress(t, msgs, 3)
			// A second unpack reuses every layer.
			msgs = nil
			if top2, err := s.Unpack(ctx, rec, WithUnpackProgress(func(m jsonstream.Message) { msgs = append(msgs, m) })); err != nil || top2 != top || len(msgs) != 0 {
				t.Fatalf("second unpack: %s %v, %d messages", top2, err, len(msgs))
			}
			if _, ok, err := s.Unpacked(ctx, rec); !ok || err != nil {
				t.Fatalf("Unpacked: %v %v", ok, err)
			}
			dir := filepath.Join(out, sc.name)
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			withView(t, sn, top, func(root string) {
				imagetest.CheckBusyboxTree(t, root)
				// Copy the tree out, so the two snapshotters' results can
				// be compared after both tests ran.
				if out, err := exec.Command("cp", "-a", root+"/.", dir).CombinedOutput(); err != nil {
					t.Fatalf("cp: %v %s", err, out)
				}
			})
			roots[sc.name] = dir
			assertClean(t, s)
		})
	}
	if len(roots) == 2 {
		imagetest.CompareTrees(t, roots["overlay"], roots["native"], imagetest.CompareContent())
	}
	// umoci unpacks the same image from an OCI layout: the same tree.
	layout := filepath.Join(t.TempDir(), "layout")
	imagetest.WriteOCILayout(t, layout, map[string]imagetest.Artifact{"img": img})
	umoci := imagetest.UmociUnpack(t, layout, "img", filepath.Join(t.TempDir(), "bundle"))
	for name, root := range roots {
		t.Run("umoci-vs-"+name, func(t *testing.T) {
			imagetest.CompareTrees(t, umoci, root, imagetest.CompareContent())
		})
	}
}

func checkProgress(t testing.TB, msgs []jsonstream.Message, layers int) {
	t.Helper()
	complete := 0
	extracting := 0
	for _, m := range msgs {
		switch m.Status {
		case "Pull complete":
			complete++
		case "Extracting":
			extracting++
			if m.Progress == nil || m.Progress.Total == 0 || m.Progress.Current > m.Progress.Total || len(m.ID) != 12 {
				t.Errorf("bad Extracting message: %+v", m)
			}
		}
	}
	if complete != layers || extracting < layers {
		b, _ := json.Marshal(msgs)
		t.Errorf("progress: %d Pull complete, %d Extracting, want %d: %s", complete, extracting, layers, b)
	}
}

// imageWithDiffIDs writes img with its config's diff_ids replaced.
func imageWithDiffIDs(t testing.TB, s *Store, img v1.Image, fn func([]digest.Digest)) ocispec.Descriptor {
	t.Helper()
	putImage(t, s, img)
	raw, _ := img.RawConfigFile()
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	var ids []digest.Digest
	for _, d := range cfg["rootfs"].(map[string]any)["diff_ids"].([]any) {
		ids = append(ids, digest.Digest(d.(string)))
	}
	fn(ids)
	cfg["rootfs"].(map[string]any)["diff_ids"] = ids
	cb, _ := json.Marshal(cfg)
	cdesc := writeBlob(t, s.content, cb, ocispec.MediaTypeImageConfig)
	rawM, _ := img.RawManifest()
	var m ocispec.Manifest
	if err := json.Unmarshal(rawM, &m); err != nil {
		t.Fatal(err)
	}
	m.Config = cdesc
	mb, _ := json.Marshal(m)
	return writeBlob(t, s.content, mb, m.MediaType)
}

func TestUnpackRejectsDiffIDMismatch(t *testing.T) {
	testenv.RequireRoot(t)
	ctx := context.Background()
	for _, sc := range snapshotters {
		t.Run(sc.name, func(t *testing.T) {
			sn := sc.new(t)
			s := newTestStore(t, sn)
			target := imageWithDiffIDs(t, s, imagetest.BusyboxImage(t), func(ids []digest.Digest) {
				ids[1] = digest.FromString("not the layer")
			})
			rec := mustCreate(t, s, "bad", target)
			_, err := s.Unpack(ctx, rec)
			if !errdefs.IsInvalidParameter(err) || !strings.Contains(err.Error(), "diff_id") {
				t.Fatalf("got %v, want a diff_id mismatch", err)
			}
			// Layer 0 was fine and stays committed; layer 1 left nothing.
			var names []string
			sn.Walk(ctx, func(_ context.Context, i snapshot.Info) error { names = append(names, i.Name); return nil })
			if len(names) != 1 {
				t.Fatalf("snapshots after a rejected layer: %v", names)
			}
			rep, err := s.Check(ctx)
			if err != nil || !rep.OK() {
				t.Fatalf("check: %v %v", rep.Unrepaired(), err)
			}
		})
	}
}

// TestUnpackCrashSafe kills a child process in the middle of an unpack,
// at seeded points (after each stage of each layer), reopens the store,
// checks it, and unpacks to the end.
func TestUnpackCrashSafe(t *testing.T) {
	testenv.RequireRoot(t)
	if os.Getenv("BERTH_UNPACK_CHILD") != "" {
		crashChild(t)
		return
	}
	ctx := context.Background()
	img := imagetest.BusyboxImage(t, imagetest.WithRandomLayer(4<<20))
	stages := []string{"prepared", "extracted", "applied", "committed"}
	for _, sc := range snapshotters {
		for layer := 0; layer < 3; layer++ {
			for _, stage := range stages {
				name := fmt.Sprintf("%s/layer%d/%s", sc.name, layer, stage)
				t.Run(name, func(t *testing.T) {
					csRoot, imgRoot, snRoot := t.TempDir(), t.TempDir(), t.TempDir()
					{
						cs, _ := content.NewStore(csRoot)
						s, _ := NewStore(ctx, imgRoot, cs, nil)
						mustCreate(t, s, "victim", putImage(t, s, img))
					}
					cmd := exec.Command(os.Args[0], "-test.run=^TestUnpackCrashSafe$")
					cmd.Env = append(os.Environ(), "BERTH_UNPACK_CHILD="+strings.Join([]string{csRoot, imgRoot, snRoot, sc.name, strconv.Itoa(layer), stage}, ","))
					out, err := cmd.CombinedOutput()
					if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
						t.Fatalf("child was not killed: %v\n%s", err, out)
					}
					sn := sc.openAt(t, snRoot)
					cs, err := content.NewStore(csRoot)
					if err != nil {
						t.Fatal(err)
					}
					s, err := NewStore(ctx, imgRoot, cs, sn)
					if err != nil {
						t.Fatal(err)
					}
					rep, err := s.Check(ctx)
					if err != nil || !rep.OK() {
						t.Fatalf("check after the crash: %v %v", rep.Unrepaired(), err)
					}
					rec, _ := s.Get(ctx, "victim")
					top, err := s.Unpack(ctx, rec)
					if err != nil {
						t.Fatal(err)
					}
					withView(t, sn, top, func(root string) { imagetest.CheckBusyboxTree(t, root) })
					assertClean(t, s)
				})
			}
		}
	}
}

func crashChild(t *testing.T) {
	f := strings.Split(os.Getenv("BERTH_UNPACK_CHILD"), ",")
	layer, _ := strconv.Atoi(f[4])
	ctx := context.Background()
	var sn snapshot.Snapshotter
	for _, k := range snapshotters {
		if k.name == f[3] {
			sn = k.openAt(t, f[2])
		}
	}
	if sn == nil {
		t.Fatalf("no snapshotter %q", f[3])
	}
	cs, _ := content.NewStore(f[0])
	s, err := NewStore(ctx, f[1], cs, sn)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.Get(ctx, "victim")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Unpack(ctx, rec, withUnpackHook(func(l int, stage string) {
		if l == layer && stage == f[5] {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}))
	t.Fatalf("unpack ended without the kill: %v", err)
}
