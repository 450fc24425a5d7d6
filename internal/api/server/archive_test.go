package server_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/api/server/servertest"
	"github.com/berth-project/berth/internal/archive/cpath"
)

// tarOf makes a tar of name -> content ("dir/" for a directory).
func tarOf(t *testing.T, files ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i+1 < len(files); i += 2 {
		hdr := &tar.Header{Name: files[i], Mode: 0o644, Size: int64(len(files[i+1])), Typeflag: tar.TypeReg, Uid: 1000, Gid: 1000}
		if strings.HasSuffix(files[i], "/") {
			hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[i+1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// untar lists a tar's names and regular files' contents.
func untar(t *testing.T, r io.Reader) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[hdr.Name] = string(b)
	}
}

func TestSDKCopyDiffExportCommit(t *testing.T) {
	t.Parallel()
	c, fake := newSDK(t)
	ctx := sdkContext(t)
	created, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{Name: "box", Config: &container.Config{Image: "busybox"}})
	if err != nil {
		t.Fatal(err)
	}

	// In: docker cp sends noOverwriteDirNonDir and, with -a, copyUIDGID.
	if _, err := c.CopyToContainer(ctx, "box", client.CopyToContainerOptions{DestinationPath: "/tmp",
		Content: bytes.NewReader(tarOf(t, "d/", "", "d/hello.txt", "hi\n")), CopyUIDGID: true}); err != nil {
		t.Fatal(err)
	}
	call, _ := fake.Last("ContainerExtractToDir")
	if opts := call.Opts.(server.ExtractOptions); !opts.CopyUIDGID || !opts.NoOverwriteDirNonDir {
		t.Errorf("extract options %+v", opts)
	}
	// A gzip body is the backend's to read.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(tarOf(t, "z.txt", "zipped"))
	_ = zw.Close()
	if _, err := c.CopyToContainer(ctx, "box", client.CopyToContainerOptions{DestinationPath: "/", Content: &gz}); err != nil {
		t.Fatal(err)
	}
	call, _ = fake.Last("ContainerExtractToDir")
	if opts := call.Opts.(server.ExtractOptions); opts.CopyUIDGID || !opts.NoOverwriteDirNonDir {
		t.Errorf("extract options without -a %+v", opts)
	}
	// Not a directory, and a directory replaced by a file.
	if _, err := c.CopyToContainer(ctx, "box", client.CopyToContainerOptions{DestinationPath: "/etc/passwd",
		Content: bytes.NewReader(tarOf(t, "x", "x"))}); !cerrdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "extraction point is not a directory") {
		t.Errorf("extract into a file: %v", err)
	}
	if _, err := c.CopyToContainer(ctx, "box", client.CopyToContainerOptions{DestinationPath: "/tmp",
		Content: bytes.NewReader(tarOf(t, "d", "file now"))}); !cerrdefs.IsConflict(err) {
		t.Errorf("dir replaced by a file: %v", err)
	}

	// Stat and out.
	st, err := c.ContainerStatPath(ctx, "box", client.ContainerStatPathOptions{Path: "/tmp/d/hello.txt"})
	if err != nil || st.Stat.Name != "hello.txt" || st.Stat.Size != 3 || st.Stat.Mode.Perm() != 0o644 {
		t.Fatalf("stat %+v %v", st, err)
	}
	st, err = c.ContainerStatPath(ctx, "box", client.ContainerStatPathOptions{Path: "/etc/motd"})
	if err != nil || st.Stat.Mode&fs.ModeSymlink == 0 || st.Stat.LinkTarget != "/etc/passwd" {
		t.Errorf("symlink stat %+v %v", st, err)
	}
	if _, err := c.ContainerStatPath(ctx, "box", client.ContainerStatPathOptions{Path: "/nothere"}); !cerrdefs.IsNotFound(err) {
		t.Errorf("stat missing: %v", err)
	}
	out, err := c.CopyFromContainer(ctx, "box", client.CopyFromContainerOptions{SourcePath: "/tmp/d"})
	if err != nil {
		t.Fatal(err)
	}
	files := untar(t, out.Content)
	out.Content.Close()
	if out.Stat.Name != "d" || !out.Stat.Mode.IsDir() || files["d/hello.txt"] != "hi\n" {
		t.Errorf("copy out: stat %+v, files %v", out.Stat, files)
	}
	if _, err := c.CopyFromContainer(ctx, "box", client.CopyFromContainerOptions{SourcePath: "/nothere"}); !cerrdefs.IsNotFound(err) ||
		!strings.Contains(err.Error(), "Could not find the file /nothere in container box") {
		t.Errorf("copy out missing: %v", err)
	}

	// Diff.
	diff, err := c.ContainerDiff(ctx, "box", client.ContainerDiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]container.ChangeType{}
	for _, ch := range diff.Changes {
		kinds[ch.Path] = ch.Kind
	}
	if kinds["/tmp"] != container.ChangeModify || kinds["/tmp/d/hello.txt"] != container.ChangeAdd || kinds["/z.txt"] != container.ChangeAdd {
		t.Errorf("diff %+v", diff.Changes)
	}

	// Export.
	exp, err := c.ContainerExport(ctx, "box", client.ContainerExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	files = untar(t, exp)
	exp.Close()
	if files["etc/passwd"] == "" || files["tmp/d/hello.txt"] != "hi\n" {
		t.Errorf("export: %v", files)
	}

	// Commit: query and body reach the backend.
	res, err := c.ContainerCommit(ctx, created.ID, client.ContainerCommitOptions{Reference: "me/app:v1", Author: "me", Comment: "first",
		Changes: []string{"CMD [\"sh\"]", "ENV A=1"}, NoPause: true, Config: &container.Config{Labels: map[string]string{"k": "v"}}})
	if err != nil || !strings.HasPrefix(res.ID, "sha256:") {
		t.Fatalf("commit %+v %v", res, err)
	}
	call, _ = fake.Last("ContainerCommit")
	opts := call.Opts.(server.CommitOptions)
	if opts.Repo != "docker.io/me/app" && opts.Repo != "me/app" || opts.Tag != "v1" || opts.Author != "me" || opts.Comment != "first" || opts.Pause ||
		len(opts.Changes) != 2 || opts.Config == nil || opts.Config.Labels["k"] != "v" {
		t.Errorf("commit options %+v", opts)
	}
	if _, err := c.ImageInspect(ctx, "me/app:v1"); err != nil {
		t.Errorf("committed image: %v", err)
	}
}

// TestPathStatHeader checks the header against the engine side's encoder
// (the server may not import it) and HEAD's empty body.
func TestPathStatHeader(t *testing.T) {
	t.Parallel()
	fake, h := newHandler(t)
	create(t, h, "box", `{"Image":"busybox"}`)
	rec := do(t, h, "HEAD", "/v1.50/containers/box/archive?path=/etc/passwd", nil)
	if rec.Code != 200 || rec.Body.Len() != 0 {
		t.Fatalf("HEAD: %d %q", rec.Code, rec.Body)
	}
	st, err := fake.ContainerStatPath(t.Context(), "box", "/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := cpath.EncodePathStat(st)
	if got := rec.Header().Get(cpath.PathStatHeader); got != want {
		t.Errorf("header %q, want %q", got, want)
	}
	rec = do(t, h, "GET", "/containers/box/archive?path=/etc/passwd", nil)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/x-tar" || rec.Header().Get(cpath.PathStatHeader) != want {
		t.Errorf("GET: %d %v", rec.Code, rec.Header())
	}
	if files := untar(t, rec.Body); files["passwd"] == "" {
		t.Errorf("GET body %v", files)
	}
	// PUT answers 200 with nothing.
	rec = do(t, h, "PUT", "/containers/box/archive?path=/tmp&noOverwriteDirNonDir=true", bytes.NewReader(tarOf(t, "a", "b")), "Content-Type", "application/x-tar")
	if rec.Code != 200 || rec.Body.Len() != 0 {
		t.Errorf("PUT: %d %q", rec.Code, rec.Body)
	}
	// Export is a tar; changes are a JSON list; commit is 201 {"Id":...}.
	rec = do(t, h, "GET", "/containers/box/export", nil)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/x-tar" {
		t.Errorf("export: %d %v", rec.Code, rec.Header())
	}
	rec = do(t, h, "GET", "/containers/box/changes", nil)
	var changes []container.FilesystemChange
	if err := json.Unmarshal(rec.Body.Bytes(), &changes); rec.Code != 200 || err != nil || len(changes) != 2 {
		t.Errorf("changes: %d %s", rec.Code, rec.Body)
	}
	rec = do(t, h, "POST", "/commit?container=box&repo=snap&pause=0", nil)
	var id struct{ Id string } //nolint:revive // docker's wire name
	if err := json.Unmarshal(rec.Body.Bytes(), &id); rec.Code != 201 || err != nil || !strings.HasPrefix(id.Id, "sha256:") {
		t.Errorf("commit: %d %s", rec.Code, rec.Body)
	}
	call, _ := fake.Last("ContainerCommit")
	if opts := call.Opts.(server.CommitOptions); opts.Repo != "snap" || opts.Tag != "latest" || opts.Pause || opts.Config != nil {
		t.Errorf("commit options %+v", opts)
	}
	// An empty config body ("{}" or "null") overrides nothing.
	for _, body := range []string{"{}", "null"} {
		do(t, h, "POST", "/commit?container=box", strings.NewReader(body))
		if call, _ := fake.Last("ContainerCommit"); call.Opts.(server.CommitOptions).Config != nil || !call.Opts.(server.CommitOptions).Pause {
			t.Errorf("commit with %s: %+v", body, call.Opts)
		}
	}
}

// brokenSource is a backend whose export and archive fail after some
// output, as a disk error would.
type brokenSource struct {
	*servertest.Fake
}

func (brokenSource) ContainerExport(ctx context.Context, name string, out io.Writer) error {
	_, _ = out.Write(make([]byte, 10<<10))
	return errors.New("disk on fire")
}

func (brokenSource) ContainerArchivePath(ctx context.Context, name, path string) (io.ReadCloser, container.PathStat, error) {
	return io.NopCloser(io.MultiReader(bytes.NewReader(make([]byte, 10<<10)), iotest.ErrReader(errors.New("disk on fire")))),
		container.PathStat{Name: "x"}, nil
}

// TestStreamsFailMidway: once a tar is under way, an error breaks the
// connection, so the client never takes a cut tar for a whole one.
func TestStreamsFailMidway(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(server.New(brokenSource{servertest.New()}, server.WithLogger(quietLogger(t))).Handler())
	defer srv.Close()
	for _, path := range []string{"/v1.50/containers/x/export", "/v1.50/containers/x/archive?path=/x"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || err == nil {
			t.Errorf("%s: status %d, read error %v: want 200 and a broken body", path, resp.StatusCode, err)
		}
	}
}
