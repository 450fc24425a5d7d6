package image

import (
	"context"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image/imagetest"
	"github.com/berth-project/berth/internal/testenv"
	digest "github.com/opencontainers/go-digest"
)

func TestInspectHistoryList(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, nil)
	target := putImage(t, s, imagetest.BusyboxImage(t, imagetest.WithLabel("team", "a")))
	mustCreate(t, s, "busybox", target)
	mustCreate(t, s, "localhost:5000/bb:1", target)
	insp, err := s.Inspect(ctx, "busybox")
	if err != nil {
		t.Fatal(err)
	}
	if len(insp.RepoTags) != 2 || len(insp.RepoDigests) != 2 || insp.Architecture == "" || insp.RootFS.Type != "layers" ||
		len(insp.RootFS.Layers) != 2 || insp.Descriptor == nil || insp.Size == 0 || insp.Metadata.LastTagTime.IsZero() ||
		insp.Config.Labels["team"] != "a" || insp.Author != "berth imagetest" {
		t.Fatalf("inspect: %+v", insp)
	}
	h, err := s.History(ctx, "busybox")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 4 || h[0].ID != insp.ID || h[1].ID != "<missing>" || len(h[0].Tags) != 2 || h[0].Size != 0 || h[1].Size == 0 {
		t.Fatalf("history: %+v", h)
	}
	for filter, want := range map[string]int{
		"reference=busybox":         1,
		"reference=bb":              0,
		"reference=*/bb":            1,
		"label=team=a":              1,
		"label=team=b":              0,
		"label=team":                1,
		"dangling=false":            1,
		"dangling=true":             0,
		"before=busybox":            0,
		"until=2000-01-01T00:00:00": 0,
	} {
		k, v, _ := cut(filter)
		list, err := s.List(ctx, ListOptions{Filters: map[string][]string{k: {v}}})
		if err != nil || len(list) != want {
			t.Errorf("filter %s: %d images (%v), want %d", filter, len(list), err, want)
		}
	}
	list, _ := s.List(ctx, ListOptions{Filters: map[string][]string{"reference": {"busybox"}}})
	if len(list) == 1 && (len(list[0].RepoTags) != 1 || len(list[0].RepoDigests) != 1) {
		// A digest of another repository left in the summary is a
		// "<none>" row of that repository in docker images.
		t.Errorf("reference filter shows the other tags or digests: %v %v", list[0].RepoTags, list[0].RepoDigests)
	}
	if _, err := s.List(ctx, ListOptions{Filters: map[string][]string{"bogus": {"x"}}}); err == nil {
		t.Error("unknown filter accepted")
	}
	// dockerd's words for a time it cannot read, in list and prune alike.
	const badTime = `failed to parse value as time or duration: "bad"`
	if _, err := s.List(ctx, ListOptions{Filters: map[string][]string{"until": {"bad"}}}); !errdefs.IsInvalidParameter(err) || err.Error() != badTime {
		t.Errorf("list until=bad: %v", err)
	}
	if _, err := s.Prune(ctx, PruneOptions{Filters: map[string][]string{"until": {"bad"}}}); !errdefs.IsInvalidParameter(err) || err.Error() != badTime {
		t.Errorf("prune until=bad: %v", err)
	}
}

func cut(s string) (string, string, bool) {
	for i := range s {
		if s[i] == '=' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func TestPruneAndDiskUsage(t *testing.T) {
	testenv.RequireRoot(t)
	ctx := context.Background()
	sn := newOverlay(t)
	s := newTestStore(t, sn)
	base := putImage(t, s, imagetest.BusyboxImage(t))
	big := putImage(t, s, imagetest.BusyboxImage(t, imagetest.WithRandomLayer(2<<20)))
	other := putImage(t, s, imagetest.BusyboxImage(t, imagetest.WithRandomLayer(1<<20), imagetest.WithSeed(7)))
	for name, target := range map[string]any{"base": base, "big": big, "other": other} {
		rec := mustCreate(t, s, name, target.(ocispec.Descriptor))
		if _, err := s.Unpack(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	resBig, _ := s.Resolve(ctx, Image{Target: big})
	containers := func(_ context.Context, id digest.Digest) (int64, error) {
		if id == resBig.ID() {
			return 1, nil
		}
		return 0, nil
	}
	du, err := s.DiskUsage(ctx, DiskUsageOptions{Containers: containers})
	if err != nil {
		t.Fatal(err)
	}
	if du.TotalCount != 3 || du.ActiveCount != 1 || len(du.Items) != 3 {
		t.Fatalf("df: %+v", du)
	}
	var sumUnique, baseSize int64
	for _, it := range du.Items {
		if it.SharedSize <= 0 || it.SharedSize > it.Size {
			t.Errorf("image %s: shared %d of %d", it.ID, it.SharedSize, it.Size)
		}
		sumUnique += it.Size - it.SharedSize
		if it.RepoTags[0] == "base:latest" {
			baseSize = it.Size
			if it.SharedSize != it.Size {
				t.Errorf("base is all shared, got %d of %d", it.SharedSize, it.Size)
			}
		}
	}
	// Each layer counted once: the shared base plus every image's own.
	if du.TotalSize != baseSize+sumUnique {
		t.Errorf("total %d, want %d + %d", du.TotalSize, baseSize, sumUnique)
	}
	if du.Reclaimable <= 0 || du.Reclaimable >= du.TotalSize {
		t.Errorf("reclaimable %d of %d", du.Reclaimable, du.TotalSize)
	}

	// Dangling-only prune: nothing is dangling yet.
	inUse := func(_ context.Context, id digest.Digest) (bool, error) { return id == resBig.ID(), nil }
	rep, err := s.Prune(ctx, PruneOptions{InUse: inUse})
	if err != nil || len(rep.ImagesDeleted) != 0 {
		t.Fatalf("prune: %+v %v", rep, err)
	}
	// Move "other" onto base: the old image is dangling and goes.
	mustCreate(t, s, "other", base)
	rep, err = s.Prune(ctx, PruneOptions{InUse: inUse})
	if err != nil || rep.SpaceReclaimed == 0 || len(rep.ImagesDeleted) == 0 {
		t.Fatalf("prune dangling: %+v %v", rep, err)
	}
	assertClean(t, s)
	// All: everything but the image in use.
	rep, err = s.Prune(ctx, PruneOptions{All: true, InUse: inUse})
	if err != nil || rep.SpaceReclaimed == 0 {
		t.Fatalf("prune all: %+v %v", rep, err)
	}
	list, _ := s.List(ctx, ListOptions{})
	if len(list) != 1 || list[0].ID != resBig.ID().String() {
		t.Fatalf("after prune -a: %+v", list)
	}
	assertClean(t, s)
}
