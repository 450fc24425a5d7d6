package images_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	imagetypes "github.com/moby/moby/api/types/image"
	digest "github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image/imagetest"
)

const (
	stoppedCtr = "5700000000000000000000000000000000000000000000000000000000000001"
	runningCtr = "a100000000000000000000000000000000000000000000000000000000000002"
)

func imageID(t *testing.T, f *fixture, ref string) digest.Digest {
	t.Helper()
	insp, err := f.svc.ImageInspect(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return digest.Digest(insp.ID)
}

func responses(rs []imagetypes.DeleteResponse) []string {
	var out []string
	for _, r := range rs {
		if r.Untagged != "" {
			out = append(out, "Untagged: "+r.Untagged)
		}
		if r.Deleted != "" {
			out = append(out, "Deleted: "+r.Deleted)
		}
	}
	return out
}

func TestTag(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	f := newService(t)
	loadArchive(t, f, map[string]v1.Image{"busybox:latest": imagetest.BusyboxImage(t)}, true)
	id := imageID(t, f, "busybox")
	rec := record(t, f.events)

	for _, tc := range []struct {
		source, repo, tag string
		class             func(error) bool
		msg               string
	}{
		{"busybox", "Bad", "", errdefs.IsInvalidParameter, "invalid reference format: repository name (library/Bad) must be lowercase"},
		{"busybox", "ok", "bad tag", errdefs.IsInvalidParameter, "invalid tag format"},
		{"busybox", "ok@sha256:" + strings.Repeat("a", 64), "", errdefs.IsInvalidParameter, "cannot tag digested reference"},
		{"nope", "ok", "1", errdefs.IsNotFound, "No such image: nope:latest"},
	} {
		err := f.svc.ImageTag(ctx, tc.source, tc.repo, tc.tag)
		if !tc.class(err) || err.Error() != tc.msg {
			t.Errorf("tag %s %s:%s: %v, want %q", tc.source, tc.repo, tc.tag, err, tc.msg)
		}
	}
	if err := f.svc.ImageTag(ctx, "busybox:latest", "localhost:5000/mine", ""); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.ImageTag(ctx, id.Encoded()[:8], "mine", "v2"); err != nil {
		t.Fatal(err)
	}
	insp, err := f.svc.ImageInspect(ctx, "mine:v2")
	if err != nil {
		t.Fatal(err)
	}
	if tags := slices.Sorted(slices.Values(insp.RepoTags)); !slices.Equal(tags, []string{"busybox:latest", "localhost:5000/mine:latest", "mine:v2"}) {
		t.Errorf("RepoTags %v", insp.RepoTags)
	}
	evs := rec.events()
	for len(evs) < 2 {
		rec.actions(2)
		evs = rec.events()
	}
	if evs[0].Action != "tag" || evs[0].Actor.ID != id.String() || evs[0].Actor.Attributes["name"] != "localhost:5000/mine:latest" {
		t.Errorf("tag event %+v", evs[0])
	}
}

// TestDeleteConflicts walks docker rmi's rules with a fake of the
// daemon's containers.
func TestDeleteConflicts(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	f := newService(t)
	loadArchive(t, f, map[string]v1.Image{
		"busybox:a": imagetest.BusyboxImage(t, imagetest.WithSeed(1), imagetest.WithRandomLayer(4096)),
		"other:1":   imagetest.BusyboxImage(t, imagetest.WithSeed(2), imagetest.WithRandomLayer(4096)),
	}, true)
	a := imageID(t, f, "busybox:a")
	other := imageID(t, f, "other:1")
	short := a.Encoded()[:12]
	rec := record(t, f.events)

	del := func(ref string, force bool) ([]string, error) {
		t.Helper()
		rs, err := f.svc.ImageDelete(ctx, ref, force, false)
		return responses(rs), err
	}
	wantConflict := func(err error, msg string) {
		t.Helper()
		if !errdefs.IsConflict(err) || err.Error() != msg {
			t.Errorf("err %v, want conflict %q", err, msg)
		}
	}

	// One of several names: untagged only, image kept.
	if err := f.svc.ImageTag(ctx, "busybox:a", "mine", "1"); err != nil {
		t.Fatal(err)
	}
	got, err := del("mine:1", false)
	if err != nil || !slices.Equal(got, []string{"Untagged: mine:1"}) {
		t.Errorf("rmi mine:1: %v %v", got, err)
	}

	f.users.use(a, stoppedCtr, false)
	_, err = del("busybox:a", false)
	wantConflict(err, `conflict: unable to remove repository reference "busybox:a" (must force) - container 570000000000 is using its referenced image `+short)
	_, err = del(short, false)
	wantConflict(err, "conflict: unable to delete "+short+" (must be forced) - image is being used by stopped container 570000000000")

	f.users.use(a, runningCtr, true)
	_, err = del(a.String(), true)
	wantConflict(err, "conflict: unable to delete "+short+" (cannot be forced) - image is being used by running container a10000000000")

	// Forced by name while a container runs: the name goes, the image
	// stays, dangling.
	got, err = del("busybox:a", true)
	if err != nil || !slices.Equal(got, []string{"Untagged: busybox:a"}) {
		t.Errorf("rmi -f busybox:a: %v %v", got, err)
	}
	dangling, err := f.svc.ImageList(ctx, server.ImageListOptions{Filters: server.Filters{"dangling": {"true"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(dangling) != 1 || dangling[0].ID != a.String() {
		t.Errorf("dangling images %+v", dangling)
	}

	// Only the stopped container left: a forced delete by ID removes it.
	f.users.clear()
	f.users.use(a, stoppedCtr, false)
	got, err = del(short, true)
	if err != nil || !slices.Equal(got, []string{"Deleted: " + a.String()}) {
		t.Errorf("rmi -f %s: %v %v", short, got, err)
	}
	if _, err := f.svc.ImageInspect(ctx, a.String()); !errdefs.IsNotFound(err) || err.Error() != "No such image: "+a.String() {
		t.Errorf("inspect after delete: %v", err)
	}

	// Several repositories: by ID needs force.
	for _, r := range []string{"x", "y"} {
		if err := f.svc.ImageTag(ctx, "other:1", r, "1"); err != nil {
			t.Fatal(err)
		}
	}
	oshort := other.Encoded()[:12]
	_, err = del(oshort, false)
	wantConflict(err, "conflict: unable to delete "+oshort+" (must be forced) - image is referenced in multiple repositories")
	got, err = del(oshort, true)
	if err != nil || !slices.Equal(got, []string{"Untagged: other:1", "Untagged: x:1", "Untagged: y:1", "Deleted: " + other.String()}) {
		t.Errorf("rmi -f %s: %v %v", oshort, got, err)
	}
	if _, err := del("nope", false); !errdefs.IsNotFound(err) || err.Error() != "No such image: nope:latest" {
		t.Errorf("rmi nope: %v", err)
	}

	// Events: untag (mine:1), untag (busybox:a, forced), delete (a),
	// untag x3 and delete (other).
	want := []string{"untag", "untag", "delete", "untag", "untag", "untag", "delete"}
	got = rec.actions(len(want) + 3)
	// The tags made on the way are events too; keep the deletes'.
	var dels []string
	for _, g := range got {
		if g != "tag" {
			dels = append(dels, g)
		}
	}
	if !slices.Equal(dels, want) {
		t.Errorf("events %v, want %v", dels, want)
	}
	list, err := f.svc.ImageList(context.Background(), server.ImageListOptions{})
	if err != nil || len(list) != 0 {
		t.Errorf("left: %+v %v", list, err)
	}
}
