package images_test

import (
	"archive/tar"
	"bytes"
	"slices"
	"testing"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
)

func rootfsTar(t *testing.T) *bytes.Buffer {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range []*tar.Header{
		{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "etc/hello", Typeflag: tar.TypeReg, Mode: 0o644, Size: 6},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write([]byte("hello\n")); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return &b
}

// TestImport is docker import - with a repository, a message and
// Dockerfile changes.
func TestImport(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	f := newService(t)
	rec := record(t, f.events)
	var out bytes.Buffer
	err := f.svc.ImageImport(ctx, rootfsTar(t), server.ImageImportOptions{
		Repo:    "imported",
		Tag:     "v1",
		Message: "from a test",
		Changes: []string{`CMD ["/bin/sh","-c","cat /etc/hello"]`, "ENV GREETING=hi", "LABEL team=berth", "WORKDIR /etc", "EXPOSE 8080/tcp", "USER nobody"},
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	msgs := messages(t, out.Bytes())
	insp, err := f.svc.ImageInspect(ctx, "imported:v1")
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].Status != insp.ID {
		t.Errorf("import answered %+v, want status %s", msgs, insp.ID)
	}
	c := insp.Config
	if !slices.Equal(c.Cmd, []string{"/bin/sh", "-c", "cat /etc/hello"}) || !slices.Contains(c.Env, "GREETING=hi") ||
		c.Labels["team"] != "berth" || c.WorkingDir != "/etc" || c.User != "nobody" {
		t.Errorf("config %+v", c)
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("exposed ports %v", c.ExposedPorts)
	}
	if insp.Comment != "from a test" || len(insp.RootFS.Layers) != 1 {
		t.Errorf("comment %q, layers %v", insp.Comment, insp.RootFS.Layers)
	}
	hist, err := f.svc.ImageHistory(ctx, "imported:v1")
	if err != nil || len(hist) != 1 || hist[0].Comment != "from a test" || hist[0].ID != insp.ID {
		t.Errorf("history %+v %v", hist, err)
	}
	if got := rec.actions(1); !slices.Equal(got, []string{"import"}) {
		t.Errorf("events %v", got)
	}
	if ev := rec.events()[0]; ev.Actor.ID != insp.ID || ev.Actor.Attributes["team"] != "berth" {
		t.Errorf("import event %+v", ev)
	}

	t.Run("dangling", func(t *testing.T) {
		var out bytes.Buffer
		if err := f.svc.ImageImport(ctx, rootfsTar(t), server.ImageImportOptions{Changes: []string{"ENV X=1"}}, &out); err != nil {
			t.Fatal(err)
		}
		list, err := f.svc.ImageList(ctx, server.ImageListOptions{Filters: server.Filters{"dangling": {"true"}}})
		if err != nil || len(list) != 1 || len(list[0].RepoTags) != 0 {
			t.Errorf("dangling list %+v %v", list, err)
		}
	})

	t.Run("bad change", func(t *testing.T) {
		var out bytes.Buffer
		err := f.svc.ImageImport(ctx, rootfsTar(t), server.ImageImportOptions{Changes: []string{"RUN rm -rf /"}}, &out)
		if !errdefs.IsInvalidParameter(err) {
			t.Errorf("err %v", err)
		}
	})

	t.Run("not a tar", func(t *testing.T) {
		var out bytes.Buffer
		err := f.svc.ImageImport(ctx, bytes.NewReader(bytes.Repeat([]byte("x"), 2048)), server.ImageImportOptions{}, &out)
		if !errdefs.IsInvalidParameter(err) {
			t.Errorf("err %v", err)
		}
	})
}
