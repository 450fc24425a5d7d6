package daemon

import (
	"context"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/snapshot"
)

// TestFSCommit is docker commit of a stopped container: the new image has
// the changes (an added file, a deletion, an opaque directory) as one
// layer without the runtime's mount points, the --change instructions
// (CMD, ENV, LABEL, EXPOSE, WORKDIR, USER) over the container's config,
// the message and author in its history, the tag; a container of it sees
// all that. Then a container with no change (an empty layer), a bad
// change, a bad tag.
func TestFSCommit(t *testing.T) {
	t.Parallel()
	d := newRealDaemon(t, testRoots(t))
	ctx := context.Background()
	ev := recordEvents(t, d)

	script := "echo committed > /commit.txt && rm /etc/group && rm -rf /opt/old && mkdir /opt/old && echo fresh > /opt/old/fresh"
	id := create(t, d, "", []string{"sh", "-c", script}, noNet, func(c *containertypes.Config, _ *containertypes.HostConfig) {
		c.Env = []string{"FROMCTR=1"}
		c.Labels = map[string]string{"ctr": "label"}
	})
	runOutputOf(t, d, id)
	imageID, err := d.ContainerCommit(ctx, id, server.CommitOptions{
		Repo: "committed", Tag: "v1", Author: "A U Thor <a@example.com>", Comment: "the message", Pause: true,
		Changes: []string{`CMD ["cat", "/commit.txt"]`, "ENV FOO=bar", "LABEL l1=v1", "EXPOSE 8080/tcp", "WORKDIR /opt/old", "USER 1234"},
	})
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	if !strings.HasPrefix(imageID, "sha256:") {
		t.Fatalf("commit returned %q", imageID)
	}
	insp, err := d.ImageInspect(ctx, "committed:v1")
	if err != nil {
		t.Fatal(err)
	}
	cfg := insp.Config
	switch {
	case insp.ID != imageID:
		t.Errorf("inspect ID %s, commit said %s", insp.ID, imageID)
	case !slices.Equal(cfg.Cmd, []string{"cat", "/commit.txt"}):
		t.Errorf("Cmd %q", cfg.Cmd)
	case !slices.Contains(cfg.Env, "FOO=bar") || !slices.Contains(cfg.Env, "FROMCTR=1") || !slices.ContainsFunc(cfg.Env, func(e string) bool { return strings.HasPrefix(e, "PATH=") }):
		t.Errorf("Env %q", cfg.Env)
	case cfg.Labels["l1"] != "v1" || cfg.Labels["ctr"] != "label":
		t.Errorf("Labels %v", cfg.Labels)
	case !slices.Equal(slices.Sorted(maps.Keys(cfg.ExposedPorts)), []string{"8080/tcp"}):
		t.Errorf("ExposedPorts %v", cfg.ExposedPorts)
	case cfg.WorkingDir != "/opt/old" || cfg.User != "1234":
		t.Errorf("WorkingDir %q User %q", cfg.WorkingDir, cfg.User)
	case insp.Author != "A U Thor <a@example.com>" || insp.Comment != "the message":
		t.Errorf("Author %q Comment %q", insp.Author, insp.Comment)
	}
	hist, err := d.ImageHistory(ctx, "committed:v1")
	if err != nil {
		t.Fatal(err)
	}
	if h := hist[0]; h.CreatedBy != "sh -c "+script || h.Comment != "the message" || h.Size == 0 || !slices.Contains(h.Tags, "committed:v1") {
		t.Errorf("history's new entry %+v", h)
	}
	if img, err := d.ImageStore().Get(ctx, "committed:v1"); err != nil {
		t.Fatal(err)
	} else if res, err := d.ImageStore().Resolve(ctx, img); err != nil {
		t.Fatal(err)
	} else if h := res.Config.History[len(res.Config.History)-1]; h.Author != "A U Thor <a@example.com>" || h.EmptyLayer {
		t.Errorf("the config's history entry %+v", h)
	}
	base, err := d.ImageInspect(ctx, "busybox")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(insp.RootFS.Layers); n != len(base.RootFS.Layers)+1 {
		t.Errorf("%d layers, busybox has %d", n, len(base.RootFS.Layers))
	}

	// The layer: the changes, in docker's whiteout format, and none of
	// the runtime's mount points (the image has no /proc, /sys, /dev nor
	// network files, so the container's layer holds them).
	names := layerNames(t, d, "committed:v1")
	for _, want := range []string{"commit.txt", "etc/.wh.group", "opt/old/", "opt/old/.wh..wh..opq", "opt/old/fresh"} {
		if !slices.Contains(names, want) {
			t.Errorf("the layer lacks %s: %q", want, names)
		}
	}
	for _, stub := range []string{"proc/", "sys/", "dev/", "etc/hosts", "etc/hostname", "etc/resolv.conf"} {
		if slices.Contains(names, stub) {
			t.Errorf("the layer holds the runtime's %s: %q", stub, names)
		}
	}

	// A container of it sees it all.
	if out := runOutput(t, d, "committed:v1", nil); out != "committed\n" {
		t.Errorf("the committed image's CMD says %q", out)
	}
	out := runOutput(t, d, "committed:v1", []string{"sh", "-c", "id -u; pwd; echo $FOO; ls /etc/group 2>/dev/null; ls /opt/old"})
	if out != "1234\n/opt/old\nbar\nfresh\n" {
		t.Errorf("a container of the committed image says %q", out)
	}
	eventually(t, "the commit event", func() bool { return ev.find(id, "commit") != nil && ev.find(imageID, "tag") != nil })
	if e := ev.find(id, "commit"); e == nil || e.Actor.Attributes["imageID"] != imageID || e.Actor.Attributes["comment"] != "the message" || e.Actor.Attributes["imageRef"] != "committed:v1" {
		t.Errorf("commit event %+v", e)
	}
	if ev.find(imageID, "tag") == nil {
		t.Errorf("no tag event for %s", imageID)
	}

	// Nothing changed: no layer, an empty_layer history entry; untagged.
	same := create(t, d, "", []string{"true"}, noNet)
	sameID, err := d.ContainerCommit(ctx, same, server.CommitOptions{Pause: true})
	if err != nil {
		t.Fatalf("commit of an unchanged container: %v", err)
	}
	si, err := d.ImageInspect(ctx, sameID)
	if err != nil {
		t.Fatal(err)
	}
	if len(si.RootFS.Layers) != len(base.RootFS.Layers) || len(si.RepoTags) != 0 {
		t.Errorf("commit of an unchanged container: layers %d (busybox %d), tags %v", len(si.RootFS.Layers), len(base.RootFS.Layers), si.RepoTags)
	}

	// No snapshot of the commits' unpacking is left behind.
	err = d.snapshots.Walk(ctx, func(_ context.Context, info snapshot.Info) error {
		if strings.HasPrefix(info.Name, "berth-unpack-") {
			t.Errorf("a snapshot left behind: %s (%s)", info.Name, info.Kind)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Refusals, before anything is made.
	for _, bad := range []server.CommitOptions{
		{Changes: []string{"RUN echo hi"}},
		{Changes: []string{"EXPOSE notaport"}},
		{Repo: "Bad Name"},
		{Repo: "ok", Tag: "bad tag"},
	} {
		if _, err := d.ContainerCommit(ctx, same, bad); !errdefs.IsInvalidParameter(err) {
			t.Errorf("commit %+v: %v", bad, err)
		}
	}
	if _, err := d.ContainerCommit(ctx, "no-such", server.CommitOptions{}); !errdefs.IsNotFound(err) {
		t.Errorf("commit of a missing container: %v", err)
	}
}

// TestFSCommitRunning commits a container that keeps writing: it is
// paused while its layer is read and running again after, with pause and
// unpause events; without pause it is never frozen.
func TestFSCommitRunning(t *testing.T) {
	t.Parallel()
	d := newRealDaemon(t, testRoots(t))
	ctx := context.Background()
	ev := recordEvents(t, d)
	id := create(t, d, "", []string{"sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /counter.new; mv /counter.new /counter; sleep 0.01; done"}, noNet)
	if err := d.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the counter", func() bool {
		_, err := d.ContainerStatPath(ctx, id, "/counter")
		return err == nil
	})
	if _, err := d.ContainerCommit(ctx, id, server.CommitOptions{Repo: "running", Pause: true}); err != nil {
		t.Fatalf("commit with pause: %v", err)
	}
	eventually(t, "the commit event", func() bool { return ev.find(id, "commit") != nil })
	if got := ev.actions(id); !slices.Equal(got[len(got)-3:], []string{"pause", "unpause", "commit"}) {
		t.Errorf("events of a commit with pause: %v", got)
	}
	if s := inspect(t, d, id).State; s.Status != "running" || s.Paused {
		t.Errorf("after the commit: %+v", s)
	}
	if out := runOutput(t, d, "running", []string{"cat", "/counter"}); strings.TrimSpace(out) == "" {
		t.Errorf("the committed counter: %q", out)
	}
	before := len(ev.actions(id))
	if _, err := d.ContainerCommit(ctx, id, server.CommitOptions{Repo: "running", Tag: "nopause"}); err != nil {
		t.Fatalf("commit without pause: %v", err)
	}
	eventually(t, "the second commit event", func() bool { return len(ev.actions(id)) > before })
	if got := ev.actions(id)[before:]; slices.Contains(got, "pause") {
		t.Errorf("a commit without pause paused: %v", got)
	}
	// A paused container stays paused.
	if err := d.ContainerPause(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ContainerCommit(ctx, id, server.CommitOptions{Pause: true}); err != nil {
		t.Fatalf("commit of a paused container: %v", err)
	}
	if s := inspect(t, d, id).State; !s.Paused {
		t.Errorf("the paused container was unpaused: %+v", s)
	}
	if err := d.ContainerUnpause(ctx, id); err != nil {
		t.Fatal(err)
	}
}

// layerNames lists the entries of ref's top layer.
func layerNames(t *testing.T, d *Daemon, ref string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := d.ImageStore()
	img, err := st.Get(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	res, err := st.Resolve(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	layers := res.ManifestBody.Layers
	ra, err := st.Content().ReaderAt(ctx, layers[len(layers)-1])
	if err != nil {
		t.Fatal(err)
	}
	defer ra.Close()
	hdrs, _ := readTar(t, io.NewSectionReader(ra, 0, ra.Size()))
	return slices.Sorted(maps.Keys(hdrs))
}
