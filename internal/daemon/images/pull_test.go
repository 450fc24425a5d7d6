package images_test

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/registry"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image/imagetest"
	"github.com/berth-project/berth/internal/testenv/registrytest"
)

// TestPullPush pulls a busybox image from a real registry through the
// service (docker's progress stream, the image unpacked and listed),
// pulls it again by digest, pushes it under another name and pulls that
// back into a second data root.
func TestPullPush(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reg := registrytest.Start(t)
	img := imagetest.BusyboxImage(t, imagetest.WithLabel("org.example.kind", "test"))
	byDigest := imagetest.Push(t, reg, "busybox:1", img)
	f := newService(t)
	rec := record(t, f.events)

	var out bytes.Buffer
	// The docker CLI sends fromImage without the tag and an empty auth.
	if err := f.svc.ImagePull(ctx, reg.Ref("busybox"), server.ImagePullOptions{Tag: "1", Auth: &registry.AuthConfig{}}, &out); err != nil {
		t.Fatal(err)
	}
	msgs := messages(t, out.Bytes())
	if len(msgs) < 3 || msgs[0].Status != "Pulling from busybox" || msgs[0].ID != "1" {
		t.Fatalf("stream starts %+v", msgs)
	}
	last := msgs[len(msgs)-1]
	if want := "Status: Downloaded newer image for " + reg.Ref("busybox:1"); last.Status != want {
		t.Errorf("last message %q, want %q", last.Status, want)
	}
	if !strings.HasPrefix(msgs[len(msgs)-2].Status, "Digest: sha256:") {
		t.Errorf("digest line %+v", msgs[len(msgs)-2])
	}
	list, err := f.svc.ImageList(ctx, server.ImageListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || !slices.Equal(list[0].RepoTags, []string{reg.Ref("busybox:1")}) || list[0].Labels["org.example.kind"] != "test" {
		t.Fatalf("list %+v", list)
	}
	if got := rec.actions(1); !slices.Equal(got, []string{"pull"}) {
		t.Errorf("events %v", got)
	}
	if ev := rec.events()[0]; ev.Type != "image" || ev.Actor.ID != reg.Ref("busybox:1") || ev.Actor.Attributes["name"] != reg.Ref("busybox") || ev.Actor.Attributes["org.example.kind"] != "test" {
		t.Errorf("pull event %+v", ev)
	}

	t.Run("by digest", func(t *testing.T) {
		_, dgst, _ := strings.Cut(byDigest, "@")
		var out bytes.Buffer
		if err := f.svc.ImagePull(ctx, reg.Ref("busybox"), server.ImagePullOptions{Tag: dgst}, &out); err != nil {
			t.Fatal(err)
		}
		msgs := messages(t, out.Bytes())
		if want := "Status: Image is up to date for " + byDigest; msgs[len(msgs)-1].Status != want && msgs[len(msgs)-1].Status != "Status: Downloaded newer image for "+byDigest {
			t.Errorf("last message %q", msgs[len(msgs)-1].Status)
		}
		insp, err := f.svc.ImageInspect(ctx, byDigest)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(insp.RepoDigests, byDigest) {
			t.Errorf("RepoDigests %v, want %s", insp.RepoDigests, byDigest)
		}
	})

	t.Run("push and pull back", func(t *testing.T) {
		if err := f.svc.ImageTag(ctx, reg.Ref("busybox:1"), reg.Ref("copy"), "2"); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := f.svc.ImagePush(ctx, reg.Ref("copy"), server.ImagePushOptions{Tag: "2"}, &out); err != nil {
			t.Fatal(err)
		}
		msgs := messages(t, out.Bytes())
		if msgs[0].Status != "The push refers to repository ["+reg.Host+"/copy]" {
			t.Errorf("push starts %+v", msgs[0])
		}
		g := newService(t)
		out.Reset()
		if err := g.svc.ImagePull(ctx, reg.Ref("copy"), server.ImagePullOptions{Tag: "2"}, &out); err != nil {
			t.Fatal(err)
		}
		a, err := f.svc.ImageInspect(ctx, reg.Ref("copy:2"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := g.svc.ImageInspect(ctx, reg.Ref("copy:2"))
		if err != nil {
			t.Fatal(err)
		}
		if a.ID != b.ID {
			t.Errorf("pulled back %s, pushed %s", b.ID, a.ID)
		}
	})

	t.Run("push all tags", func(t *testing.T) {
		if err := f.svc.ImageTag(ctx, reg.Ref("busybox:1"), reg.Ref("many"), "a"); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.ImageTag(ctx, reg.Ref("busybox:1"), reg.Ref("many"), "b"); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := f.svc.ImagePush(ctx, reg.Ref("many"), server.ImagePushOptions{}, &out); err != nil {
			t.Fatal(err)
		}
		var summaries []string
		headers := 0
		for _, m := range messages(t, out.Bytes()) {
			if strings.Contains(m.Status, ": digest: ") {
				summaries = append(summaries, m.Status[:1])
			}
			if strings.HasPrefix(m.Status, "The push refers to repository") {
				headers++
			}
		}
		if !slices.Equal(summaries, []string{"a", "b"}) {
			t.Errorf("pushed tags %v", summaries)
		}
		// docker names the repository once for all its tags.
		if headers != 1 {
			t.Errorf("%d \"The push refers to repository\" lines, want 1", headers)
		}
	})

	t.Run("push unknown", func(t *testing.T) {
		var out bytes.Buffer
		err := f.svc.ImagePush(ctx, reg.Ref("nothere"), server.ImagePushOptions{Tag: "1"}, &out)
		if !errdefs.IsNotFound(err) || err.Error() != "An image does not exist locally with the tag: "+reg.Ref("nothere") || out.Len() != 0 {
			t.Errorf("err %v, output %q", err, out.String())
		}
	})
}

// TestPullErrors: a bad reference fails before the stream; a missing
// image is reported with its class, in the stream if it started.
func TestPullErrors(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reg := registrytest.Start(t)
	f := newService(t)

	var out bytes.Buffer
	err := f.svc.ImagePull(ctx, "Bad:Name", server.ImagePullOptions{}, &out)
	if !errdefs.IsInvalidParameter(err) || out.Len() != 0 {
		t.Errorf("bad name: %v, output %q", err, out.String())
	}
	err = f.svc.ImagePull(ctx, "scratch", server.ImagePullOptions{}, &out)
	if !errdefs.IsForbidden(err) {
		t.Errorf("scratch: %v", err)
	}
	err = f.svc.ImagePull(ctx, reg.Ref("nothere"), server.ImagePullOptions{Tag: "1"}, &out)
	if !errdefs.IsNotFound(err) {
		t.Errorf("missing image: %v", err)
	}
	if out.Len() > 0 {
		msgs := messages(t, out.Bytes())
		if last := msgs[len(msgs)-1]; last.Error == nil || last.ErrorMsg != err.Error() {
			t.Errorf("stream does not end with the error: %+v", last)
		}
	}
	err = f.svc.ImagePull(ctx, reg.Ref("x"), server.ImagePullOptions{Platform: "plan9"}, &out)
	if !errdefs.IsInvalidParameter(err) {
		t.Errorf("bad platform: %v", err)
	}
}

// TestPullAllTags: a name with no tag and no Tag option is docker pull
// --all-tags: every tag of the repository is pulled on one stream.
func TestPullAllTags(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reg := registrytest.Start(t)
	one := imagetest.BusyboxImage(t, imagetest.WithLabel("n", "1"))
	two := imagetest.BusyboxImage(t, imagetest.WithLabel("n", "2"))
	imagetest.Push(t, reg, "multi:a", one)
	imagetest.Push(t, reg, "multi:b", two)
	f := newService(t)
	var out bytes.Buffer
	if err := f.svc.ImagePull(ctx, reg.Ref("multi"), server.ImagePullOptions{Auth: &registry.AuthConfig{}}, &out); err != nil {
		t.Fatal(err)
	}
	list, err := f.svc.ImageList(ctx, server.ImageListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, img := range list {
		tags = append(tags, img.RepoTags...)
	}
	slices.Sort(tags)
	if want := []string{reg.Ref("multi:a"), reg.Ref("multi:b")}; !slices.Equal(tags, want) {
		t.Fatalf("tags after pull -a: %q, want %q\n%s", tags, want, out.String())
	}
	var statuses int
	for _, m := range messages(t, out.Bytes()) {
		if strings.HasPrefix(m.Status, "Status: ") {
			statuses++
		}
	}
	if statuses != 2 {
		t.Errorf("%d status lines, want one per tag:\n%s", statuses, out.String())
	}
	if err := f.svc.ImagePull(ctx, reg.Ref("nothing"), server.ImagePullOptions{}, &out); !errdefs.IsNotFound(err) {
		t.Errorf("pull -a of an unknown repository: %v", err)
	}
}

// TestRegistryRefusalIsNot401: a registry that refuses the credentials
// fails the pull or push as dockerd's does, with a 500 and the registry's
// message, never with the Unauthorized class: the docker CLI answers a
// 401 from the daemon by prompting for a login, and docker pull then waits
// for a user name even with no terminal.
func TestRegistryRefusalIsNot401(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reg := registrytest.Start(t, registrytest.WithHtpasswd("alice", "secret"))
	imagetest.Push(t, reg, "busybox:1", imagetest.BusyboxImage(t))
	f := newService(t)

	wrong := &registry.AuthConfig{Username: "alice", Password: "wrong", ServerAddress: reg.Host}
	for name, auth := range map[string]*registry.AuthConfig{"anonymous": {}, "wrong password": wrong} {
		var out bytes.Buffer
		err := f.svc.ImagePull(ctx, reg.Ref("busybox"), server.ImagePullOptions{Tag: "1", Auth: auth}, &out)
		if err == nil || errdefs.IsUnauthorized(err) || !strings.Contains(err.Error(), "401") {
			t.Errorf("pull, %s: %v (%T), want a classless error naming the 401", name, err, err)
		}
		err = f.svc.ImagePull(ctx, reg.Ref("busybox"), server.ImagePullOptions{Auth: auth}, &out)
		if err == nil || errdefs.IsUnauthorized(err) {
			t.Errorf("pull --all-tags, %s: %v (%T)", name, err, err)
		}
	}
	right := &registry.AuthConfig{Username: "alice", Password: "secret", ServerAddress: reg.Host}
	if err := f.svc.ImagePull(ctx, reg.Ref("busybox"), server.ImagePullOptions{Tag: "1", Auth: right}, io.Discard); err != nil {
		t.Fatal(err)
	}
	err := f.svc.ImagePush(ctx, reg.Ref("busybox"), server.ImagePushOptions{Tag: "1", Auth: wrong}, io.Discard)
	if err == nil || errdefs.IsUnauthorized(err) {
		t.Errorf("push, wrong password: %v (%T)", err, err)
	}
}
