package cpath

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// TestPathStatHeaderDockerClient serves Berth's header to the official
// SDK, which decodes it as the docker CLI does, for HEAD and GET.
func TestPathStatHeaderDockerClient(t *testing.T) {
	t.Parallel()
	want := PathStat{
		Name:       "shadow",
		Size:       11,
		Mode:       fs.ModeSymlink | fs.ModeSetuid | 0o777,
		Mtime:      time.Date(2021, 2, 3, 4, 5, 6, 789, time.FixedZone("X", 3600)),
		LinkTarget: "/etc/shadow",
	}
	v, err := EncodePathStat(want)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(PathStatHeader, v)
		w.Header().Set("Content-Type", "application/x-tar")
		if r.Method == http.MethodGet {
			_, _ = w.Write(make([]byte, 1024)) // an empty tar
		}
	}))
	defer srv.Close()
	c, err := client.New(client.WithHost("tcp://"+srv.Listener.Addr().String()), client.WithAPIVersion("1.47"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.ContainerStatPath(t.Context(), "c1", client.ContainerStatPathOptions{Path: "/x"})
	if err != nil {
		t.Fatal(err)
	}
	check := func(got PathStat) {
		t.Helper()
		if got.Name != want.Name || got.Size != want.Size || got.Mode != want.Mode || !got.Mtime.Equal(want.Mtime) || got.LinkTarget != want.LinkTarget {
			t.Errorf("the SDK decoded %+v, want %+v", got, want)
		}
	}
	check(res.Stat)
	cp, err := c.CopyFromContainer(t.Context(), "c1", client.CopyFromContainerOptions{SourcePath: "/x"})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, cp.Content)
	cp.Content.Close()
	check(cp.Stat)

	got, err := DecodePathStat(v)
	if err != nil {
		t.Fatal(err)
	}
	check(got)
}

// TestEncodePathStatBytes pins the encoding: dockerd's json.Marshal of
// the API type (mode as Go's FileMode number, RFC 3339 mtime), standard
// base64 with padding.
func TestEncodePathStatBytes(t *testing.T) {
	t.Parallel()
	st := PathStat{Name: "d", Size: 4096, Mode: fs.ModeDir | 0o755, Mtime: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
	v, err := EncodePathStat(st)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"name":"d","size":4096,"mode":2147484141,"mtime":"2024-01-02T03:04:05Z","linkTarget":""}`
	if string(raw) != want {
		t.Errorf("header JSON %s, want %s", raw, want)
	}
	var m map[string]any
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&m); err != nil || len(m) != 5 {
		t.Errorf("fields %v (%v)", m, err)
	}
	if _, err := DecodePathStat("%%%"); err == nil {
		t.Error("a bad header decoded")
	}
}
