package image

import (
	"context"
	"encoding/json"
	"github.com/berth-project/berth/internal/content"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image/imagetest"
	imagetypes "github.com/moby/moby/api/types/image"
	digest "github.com/opencontainers/go-digest"
)

func TestCreateGetByNameAndID(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, nil)
	target := putImage(t, s, imagetest.BusyboxImage(t))
	mustCreate(t, s, "busybox", target)
	res, err := s.Resolve(ctx, Image{Target: target})
	if err != nil {
		t.Fatal(err)
	}
	id := res.ID()
	for _, ref := range []string{
		"busybox", "busybox:latest", "docker.io/library/busybox:latest", "library/busybox",
		id.String(), id.Encoded(), id.Encoded()[:4], "sha256:" + id.Encoded()[:12],
		"busybox@" + target.Digest.String(), "busybox:whatever@" + target.Digest.String(),
	} {
		img, err := s.Get(ctx, ref)
		if err != nil {
			t.Errorf("Get(%q): %v", ref, err)
			continue
		}
		if img.Name != "docker.io/library/busybox:latest" {
			t.Errorf("Get(%q) = %s", ref, img.Name)
		}
	}
	for _, ref := range []string{"busybox:1", "other", "sha256:" + strings.Repeat("0", 64), "ffff"} {
		if _, err := s.Get(ctx, ref); !errdefs.IsNotFound(err) {
			t.Errorf("Get(%q): %v, want NotFound", ref, err)
		}
	}
	// A name with the wrong digest is refused.
	if _, err := s.Create(ctx, Image{Name: "busybox@sha256:" + strings.Repeat("1", 64), Target: target}); !errdefs.IsInvalidParameter(err) {
		t.Errorf("create with a mismatched digest name: %v", err)
	}
	// A target that is not in the store is refused.
	bad := target
	bad.Digest = digest.Digest("sha256:" + strings.Repeat("2", 64))
	if _, err := s.Create(ctx, Image{Name: "x", Target: bad}); !errdefs.IsNotFound(err) {
		t.Errorf("create with a missing target: %v", err)
	}
}

func TestRecordsDurableAcrossReopen(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, nil)
	target := putImage(t, s, imagetest.BusyboxImage(t))
	mustCreate(t, s, "a:1", target)
	s2, err := NewStore(ctx, s.root, s.content, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Get(ctx, "a:1"); err != nil {
		t.Fatal(err)
	}
	// A second store on the same root sees the first's edits (the
	// cross-process case: the cache is keyed on the file's inode).
	mustCreate(t, s, "a:2", target)
	if _, err := s2.Get(ctx, "a:2"); err != nil {
		t.Fatal(err)
	}
	// A leftover temporary is removed on open.
	tmp := filepath.Join(s.root, ".tmp-images.json-123")
	if err := os.WriteFile(tmp, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewStore(ctx, s.root, s.content, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatalf("temporary survived open: %v", err)
	}
}

func TestTagMovesAndDangling(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, nil)
	a := putImage(t, s, imagetest.BusyboxImage(t, imagetest.WithLabel("v", "a")))
	b := putImage(t, s, imagetest.BusyboxImage(t, imagetest.WithLabel("v", "b")))
	mustCreate(t, s, "app", a)
	if _, err := s.Tag(ctx, "app", "app:stable"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Tag(ctx, "app", "app@"+a.Digest.String()); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("tag with a digest: %v", err)
	}
	// Moving app:latest to b leaves a still tagged app:stable: not dangling.
	mustCreate(t, s, "app", b)
	list, err := s.List(ctx, ListOptions{Filters: map[string][]string{"dangling": {"true"}}})
	if err != nil || len(list) != 0 {
		t.Fatalf("dangling after first move: %v %v", list, err)
	}
	// Moving app:stable too leaves a without a name: a dangling image.
	mustCreate(t, s, "app:stable", b)
	list, err = s.List(ctx, ListOptions{Filters: map[string][]string{"dangling": {"true"}}})
	if err != nil || len(list) != 1 {
		t.Fatalf("dangling after second move: %v %v", list, err)
	}
	resA, _ := s.Resolve(ctx, Image{Target: a})
	if list[0].ID != resA.ID().String() || len(list[0].RepoTags) != 0 {
		t.Fatalf("dangling image: %+v", list[0])
	}
	// Tagging it again makes it not dangling.
	if _, err := s.Tag(ctx, resA.ID().Encoded()[:12], "app:old"); err != nil {
		t.Fatal(err)
	}
	recs, _ := s.Records(ctx)
	for _, r := range recs {
		if r.Dangling() {
			t.Fatalf("a dangling record is left: %+v", r)
		}
	}
	all, err := s.List(ctx, ListOptions{})
	if err != nil || len(all) != 2 {
		t.Fatalf("list: %v %v", all, err)
	}
}

func TestDeleteSemantics(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, nil)
	target := putImage(t, s, imagetest.BusyboxImage(t))
	res, _ := s.Resolve(ctx, Image{Target: target})
	id := res.ID()
	mustCreate(t, s, "busybox", target)
	mustCreate(t, s, "busybox:1", target)
	mustCreate(t, s, "busybox@"+target.Digest.String(), target)
	mustCreate(t, s, "localhost:5000/busybox:x", target)

	inUse := true
	used := WithInUse(func(_ context.Context, got digest.Digest) (bool, error) { return inUse && got == id, nil })

	// By ID with names in two repositories: must be forced.
	if _, err := s.Delete(ctx, id.String(), used); !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "must be forced") {
		t.Fatalf("delete by id: %v", err)
	}
	// By a name that is not the last: untag only, even in use.
	out, err := s.Delete(ctx, "localhost:5000/busybox:x", used)
	if err != nil || len(out) != 1 || out[0].Untagged != "localhost:5000/busybox:x" {
		t.Fatalf("untag: %+v %v", out, err)
	}
	out, err = s.Delete(ctx, "busybox:1", used)
	if err != nil || len(out) != 1 {
		t.Fatalf("untag busybox:1: %+v %v", out, err)
	}
	// The last tag of the repository: in use, so a conflict.
	_, err = s.Delete(ctx, "busybox", used)
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), `unable to remove repository reference "busybox" (must force)`) {
		t.Fatalf("delete last tag in use: %v", err)
	}
	// Not in use: the last tag goes with the repository's digest name, and
	// the image is deleted and its blobs collected.
	inUse = false
	out, err = s.Delete(ctx, "busybox", used)
	if err != nil {
		t.Fatal(err)
	}
	want := []imagetypes.DeleteResponse{
		{Untagged: "busybox:latest"},
		{Untagged: "busybox@" + target.Digest.String()},
		{Deleted: id.String()},
	}
	if got, _ := json.Marshal(out); string(got) != string(mustJSON(want)) {
		t.Fatalf("delete: got %s, want %s", got, mustJSON(want))
	}
	if _, err := s.Get(ctx, id.String()); !errdefs.IsNotFound(err) {
		t.Fatalf("image still there: %v", err)
	}
	assertClean(t, s)
	var blobs int
	s.content.Walk(ctx, func(info content.Info) error { blobs++; return nil })
	if blobs != 0 {
		t.Fatalf("%d blobs left after deleting the only image", blobs)
	}
}

func TestDeleteForceAndByID(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, nil)
	shared := imagetest.BusyboxImage(t)
	a := putImage(t, s, shared)
	b := putImage(t, s, imagetest.BusyboxImage(t, imagetest.WithRandomLayer(1<<16)))
	resA, _ := s.Resolve(ctx, Image{Target: a})
	mustCreate(t, s, "a:1", a)
	mustCreate(t, s, "a:2", a)
	mustCreate(t, s, "b", b)
	inUse := WithInUse(func(context.Context, digest.Digest) (bool, error) { return true, nil })
	if _, err := s.Delete(ctx, resA.ID().Encoded()[:8], inUse); !errdefs.IsConflict(err) {
		t.Fatalf("delete in use by id: %v", err)
	}
	out, err := s.Delete(ctx, resA.ID().Encoded()[:8], inUse, WithForce())
	if err != nil || len(out) != 3 || out[2].Deleted != resA.ID().String() {
		t.Fatalf("force: %+v %v", out, err)
	}
	// b shares a's first two layers: they stay for b.
	assertClean(t, s)
	if _, err := s.Get(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	// Delete b by its ID: single reference, so it untags and deletes.
	resB, _ := s.Resolve(ctx, Image{Target: b})
	out, err = s.Delete(ctx, resB.ID().String())
	if err != nil || len(out) != 2 || out[0].Untagged != "b:latest" {
		t.Fatalf("delete b: %+v %v", out, err)
	}
	assertClean(t, s)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func TestIndexResolvesToHostPlatform(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, nil)
	idx := imagetest.MultiArchIndex(t)
	target := putIndex(t, s, idx)
	mustCreate(t, s, "multi", target)
	im, _ := idx.IndexManifest()
	var want string
	for _, m := range im.Manifests {
		p := PlatformFromOCI(ocispec.Platform{OS: m.Platform.OS, Architecture: m.Platform.Architecture, Variant: m.Platform.Variant})
		if HostPlatform().Matches(p) && want == "" {
			img, _ := idx.Image(m.Digest)
			cfg, _ := img.ConfigName()
			want = cfg.String()
		}
	}
	insp, err := s.Inspect(ctx, "multi")
	if err != nil {
		t.Fatal(err)
	}
	if insp.ID != want || insp.Descriptor.Digest != target.Digest {
		t.Fatalf("id %s (descriptor %s), want %s (%s)", insp.ID, insp.Descriptor.Digest, want, target.Digest)
	}
	// Another platform's store picks its own manifest.
	s2, err := NewStore(ctx, t.TempDir(), s.content, nil, WithPlatform(Platform{OS: "linux", Architecture: "arm", Variant: "v7"}))
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s2, "multi", target)
	insp2, err := s2.Inspect(ctx, "multi")
	if err != nil || insp2.Architecture != "arm" || insp2.ID == insp.ID {
		t.Fatalf("arm/v7: %+v %v", insp2, err)
	}
}
