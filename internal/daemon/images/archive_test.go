package images_test

import (
	"archive/tar"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image/imagetest"
)

// loadArchive loads a docker-archive of imgs into f and returns the
// stream.
func loadArchive(t *testing.T, f *fixture, imgs map[string]v1.Image, quiet bool) []jsonMessage {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.tar")
	imagetest.WriteDockerArchive(t, path, imgs, imagetest.ArchiveOCI)
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var out bytes.Buffer
	if err := f.svc.ImageLoad(t.Context(), in, quiet, &out); err != nil {
		t.Fatal(err)
	}
	return messages(t, out.Bytes())
}

func loadedLines(msgs []jsonMessage) []string {
	var out []string
	for _, m := range msgs {
		if m.Stream != "" {
			out = append(out, strings.TrimSuffix(m.Stream, "\n"))
		}
	}
	sort.Strings(out)
	return out
}

// TestSaveLoadRoundTrip loads three images (two names on one), saves two
// of them in one archive, loads that into another data root, and finds
// the same images under the same names; docker load's lines and the
// load and save events come out on the way.
func TestSaveLoadRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a := imagetest.BusyboxImage(t, imagetest.WithSeed(1), imagetest.WithRandomLayer(64<<10))
	b := imagetest.BusyboxImage(t, imagetest.WithSeed(2), imagetest.WithRandomLayer(64<<10))
	c := imagetest.BusyboxImage(t, imagetest.WithSeed(3), imagetest.WithRandomLayer(64<<10))
	f := newService(t)
	rec := record(t, f.events)
	msgs := loadArchive(t, f, map[string]v1.Image{"busybox:a": a, "busybox:a2": a, "example.com/team/b:1": b, "c:latest": c}, false)
	want := []string{"Loaded image: busybox:a", "Loaded image: busybox:a2", "Loaded image: c:latest", "Loaded image: example.com/team/b:1"}
	if got := loadedLines(msgs); !slices.Equal(got, want) {
		t.Errorf("load lines %q, want %q", got, want)
	}
	if !slices.ContainsFunc(msgs, func(m jsonMessage) bool { return m.Status == "Loading layer" }) {
		t.Errorf("no Loading layer progress in %+v", msgs)
	}
	if got := rec.actions(3); !slices.Equal(got, []string{"load", "load", "load"}) {
		t.Errorf("events %v", got)
	}

	var archive bytes.Buffer
	if err := f.svc.ImageSave(ctx, []string{"busybox:a", "example.com/team/b:1"}, &archive); err != nil {
		t.Fatal(err)
	}
	if got := rec.actions(5); !slices.Equal(got[3:], []string{"save", "save"}) {
		t.Errorf("events %v", got)
	}

	g := newService(t)
	var out bytes.Buffer
	if err := g.svc.ImageLoad(ctx, &archive, true, &out); err != nil {
		t.Fatal(err)
	}
	quietMsgs := messages(t, out.Bytes())
	for _, m := range quietMsgs {
		if m.Stream == "" {
			t.Errorf("quiet load sent %+v", m)
		}
	}
	if got := loadedLines(quietMsgs); !slices.Equal(got, []string{"Loaded image: busybox:a", "Loaded image: example.com/team/b:1"}) {
		t.Errorf("reload lines %q", got)
	}
	for _, ref := range []string{"busybox:a", "example.com/team/b:1"} {
		x, err := f.svc.ImageInspect(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		y, err := g.svc.ImageInspect(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		if x.ID != y.ID {
			t.Errorf("%s: saved %s, loaded %s", ref, x.ID, y.ID)
		}
	}
	list, err := g.svc.ImageList(ctx, server.ImageListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Errorf("second root lists %d images, want 2", len(list))
	}

	t.Run("save unknown", func(t *testing.T) {
		var out bytes.Buffer
		err := f.svc.ImageSave(ctx, []string{"busybox:a", "nope:1"}, &out)
		if !errdefs.IsNotFound(err) || err.Error() != "No such image: nope:1" || out.Len() != 0 {
			t.Errorf("err %v, %d bytes written", err, out.Len())
		}
	})

	t.Run("save repository", func(t *testing.T) {
		// A name without a tag is every tag of the repository, as
		// docker save busybox saves busybox:a and busybox:a2.
		var out bytes.Buffer
		if err := f.svc.ImageSave(ctx, []string{"busybox"}, &out); err != nil {
			t.Fatal(err)
		}
		h := newService(t)
		var loaded bytes.Buffer
		if err := h.svc.ImageLoad(ctx, &out, true, &loaded); err != nil {
			t.Fatal(err)
		}
		if got := loadedLines(messages(t, loaded.Bytes())); !slices.Equal(got, []string{"Loaded image: busybox:a", "Loaded image: busybox:a2"}) {
			t.Errorf("load lines %q", got)
		}
		out.Reset()
		if err := f.svc.ImageSave(ctx, []string{"nope"}, &out); !errdefs.IsNotFound(err) || out.Len() != 0 {
			t.Errorf("unknown repository: %v, %d bytes written", err, out.Len())
		}
	})

	t.Run("load garbage", func(t *testing.T) {
		var out bytes.Buffer
		err := f.svc.ImageLoad(ctx, strings.NewReader("this is not a tar archive, not at all"), false, &out)
		if err == nil {
			t.Fatal("garbage loaded")
		}
		if out.Len() > 0 {
			msgs := messages(t, out.Bytes())
			if msgs[len(msgs)-1].ErrorMsg != err.Error() {
				t.Errorf("stream does not end with the error: %s", out.String())
			}
		}
	})
}

// tarDir writes dir as a tar stream (an OCI layout, as `tar -C dir -c .`).
func tarDir(t *testing.T, dir string) *bytes.Buffer {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(rel)
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			_, err = tw.Write(data)
			return err
		}
		return nil
	})
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return &b
}

// TestLoadOCILayout loads an OCI image layout whose only name is a tag
// annotation: docker loads it without a name ("Loaded image ID").
func TestLoadOCILayout(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	img := imagetest.BusyboxImage(t, imagetest.WithFormat(imagetest.OCI))
	imagetest.WriteOCILayout(t, dir, map[string]imagetest.Artifact{"v1": img})
	f := newService(t)
	var out bytes.Buffer
	if err := f.svc.ImageLoad(t.Context(), tarDir(t, dir), false, &out); err != nil {
		t.Fatal(err)
	}
	lines := loadedLines(messages(t, out.Bytes()))
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || (lines[0] != "Loaded image ID: "+cfg.String() && !strings.HasPrefix(lines[0], "Loaded image: ")) {
		t.Errorf("load lines %q", lines)
	}
	if _, err := f.svc.ImageInspect(t.Context(), cfg.String()); err != nil {
		t.Error(err)
	}
}
