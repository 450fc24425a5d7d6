package images_test

import (
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	imagetypes "github.com/moby/moby/api/types/image"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image/imagetest"
)

// TestPruneAndDiskUsage: prune removes dangling images only, then with
// dangling=false every image no container uses; df counts shared layers.
func TestPruneAndDiskUsage(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	f := newService(t)
	loadArchive(t, f, map[string]v1.Image{
		"keep:1": imagetest.BusyboxImage(t, imagetest.WithSeed(1), imagetest.WithRandomLayer(8192)),
		"used:1": imagetest.BusyboxImage(t, imagetest.WithSeed(2), imagetest.WithRandomLayer(8192)),
		"old:1":  imagetest.BusyboxImage(t, imagetest.WithSeed(3), imagetest.WithRandomLayer(8192)),
	}, true)
	keep, used, old := imageID(t, f, "keep:1"), imageID(t, f, "used:1"), imageID(t, f, "old:1")
	f.users.use(used, stoppedCtr, false)

	du, err := f.svc.ImagesDiskUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if du.TotalCount != 3 || du.ActiveCount != 1 || len(du.Items) != 3 || du.TotalSize <= 0 || du.Reclaimable <= 0 || du.Reclaimable >= du.TotalSize {
		t.Errorf("df %+v", du)
	}
	for _, it := range du.Items {
		// The busybox base layers are shared by all three.
		if it.SharedSize <= 0 || it.SharedSize >= it.Size {
			t.Errorf("image %s: size %d shared %d", it.ID, it.Size, it.SharedSize)
		}
		if want := int64(0); it.ID == used.String() {
			if it.Containers != 1 {
				t.Errorf("used image: %d containers", it.Containers)
			}
		} else if it.Containers != want {
			t.Errorf("image %s: %d containers", it.ID, it.Containers)
		}
	}

	// Make old:1 dangling by moving its tag.
	if err := f.svc.ImageTag(ctx, "keep:1", "old", "1"); err != nil {
		t.Fatal(err)
	}
	rec := record(t, f.events)
	rep, err := f.svc.ImagesPrune(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rep.ImagesDeleted, func(d imagetypes.DeleteResponse) bool { return d.Deleted == old.String() }) || rep.SpaceReclaimed == 0 {
		t.Errorf("prune report %+v", rep)
	}
	if got := rec.actions(2); !slices.Equal(got, []string{"delete", "prune"}) {
		t.Errorf("events %v", got)
	}

	rep, err = f.svc.ImagesPrune(ctx, server.Filters{"dangling": {"false"}})
	if err != nil {
		t.Fatal(err)
	}
	list, err := f.svc.ImageList(ctx, server.ImageListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != used.String() || list[0].Containers != 1 {
		t.Errorf("after prune -a: %+v (report %+v)", list, rep)
	}
	_ = keep
	if _, err := f.svc.ImagesPrune(ctx, server.Filters{"colour": {"red"}}); !errdefs.IsInvalidParameter(err) || err.Error() != "invalid filter 'colour'" {
		t.Errorf("bad filter: %v", err)
	}
	if _, err := f.svc.ImagesPrune(ctx, server.Filters{"dangling": {"maybe"}}); !errdefs.IsInvalidParameter(err) {
		t.Errorf("bad dangling: %v", err)
	}
}

// TestListFilters covers docker images' filters and shared sizes.
func TestListFilters(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	f := newService(t)
	loadArchive(t, f, map[string]v1.Image{
		"web:1":  imagetest.BusyboxImage(t, imagetest.WithSeed(1), imagetest.WithLabel("tier", "front")),
		"db:1":   imagetest.BusyboxImage(t, imagetest.WithSeed(2), imagetest.WithRandomLayer(4096), imagetest.WithLabel("tier", "back")),
		"webx:2": imagetest.BusyboxImage(t, imagetest.WithSeed(3), imagetest.WithRandomLayer(4096)),
	}, true)
	names := func(filters server.Filters) []string {
		t.Helper()
		list, err := f.svc.ImageList(ctx, server.ImageListOptions{Filters: filters, SharedSize: true})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range list {
			out = append(out, s.RepoTags...)
			if s.SharedSize < 0 {
				t.Errorf("%v: shared size %d", s.RepoTags, s.SharedSize)
			}
		}
		slices.Sort(out)
		return out
	}
	for _, tc := range []struct {
		filters server.Filters
		want    []string
	}{
		{nil, []string{"db:1", "web:1", "webx:2"}},
		{server.Filters{"reference": {"web*"}}, []string{"web:1", "webx:2"}},
		{server.Filters{"reference": {"web"}}, []string{"web:1"}},
		{server.Filters{"label": {"tier"}}, []string{"db:1", "web:1"}},
		{server.Filters{"label": {"tier=back"}}, []string{"db:1"}},
		{server.Filters{"dangling": {"true"}}, nil},
	} {
		if got := names(tc.filters); !slices.Equal(got, tc.want) {
			t.Errorf("filters %v: %v, want %v", tc.filters, got, tc.want)
		}
	}
	if _, err := f.svc.ImageList(ctx, server.ImageListOptions{Filters: server.Filters{"before": {"nope:1"}}}); !errdefs.IsNotFound(err) || err.Error() != "No such image: nope:1" {
		t.Errorf("before an unknown image: %v", err)
	}
	if _, err := f.svc.ImageList(ctx, server.ImageListOptions{Filters: server.Filters{"colour": {"red"}}}); !errdefs.IsInvalidParameter(err) || err.Error() != "invalid filter 'colour'" {
		t.Errorf("bad filter: %v", err)
	}
}
