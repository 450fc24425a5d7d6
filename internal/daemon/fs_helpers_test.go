package daemon

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/internal/api/server"
)

// Helpers of the container filesystem tests (cp, diff, export, commit).

// noNet runs a test container without networking (a bridge per test
// daemon costs time and host state these tests do not need).
func noNet(_ *containertypes.Config, h *containertypes.HostConfig) {
	h.NetworkMode = network.NetworkNone
}

// startSleeper creates and starts a container that sleeps, and returns
// its ID.
func startSleeper(t *testing.T, d *Daemon, mods ...func(*containertypes.Config, *containertypes.HostConfig)) string {
	t.Helper()
	id := create(t, d, "", []string{"sleep", "1000"}, append([]func(*containertypes.Config, *containertypes.HostConfig){noNet}, mods...)...)
	if err := d.ContainerStart(context.Background(), id); err != nil {
		t.Fatalf("start: %v", err)
	}
	return id
}

// runOutput runs cmd (nil: the image's) in a new container of image to
// its end and returns what it wrote (stdout and stderr).
func runOutput(t *testing.T, d *Daemon, image string, cmd []string, mods ...func(*containertypes.Config, *containertypes.HostConfig)) string {
	t.Helper()
	mods = append([]func(*containertypes.Config, *containertypes.HostConfig){noNet, func(c *containertypes.Config, _ *containertypes.HostConfig) {
		c.Image = image
	}}, mods...)
	id := create(t, d, "", cmd, mods...)
	exit := waitFor(t, d, id, containertypes.WaitConditionNextExit)
	if err := d.ContainerStart(context.Background(), id); err != nil {
		t.Fatalf("start %v: %v", cmd, err)
	}
	if r := result(t, exit); r.StatusCode != 0 {
		t.Fatalf("%v exited %d: %s", cmd, r.StatusCode, logsOf(t, d, id, false))
	}
	out := logsOf(t, d, id, false)
	if err := d.ContainerRemove(context.Background(), id, server.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	return out
}

// tarEntry is one entry of a test archive: a regular file unless typ
// says otherwise.
type tarEntry struct {
	name, body, link string
	typ              byte
	mode             int64
}

func tarOf(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, ModTime: time.Unix(1700000000, 0)}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// readTar reads an archive into name -> header and name -> content.
func readTar(t *testing.T, r io.Reader) (map[string]*tar.Header, map[string]string) {
	t.Helper()
	hdrs, bodies := map[string]*tar.Header{}, map[string]string{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return hdrs, bodies
		}
		if err != nil {
			t.Fatalf("reading the archive: %v", err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		hdrs[h.Name], bodies[h.Name] = h, string(b)
	}
}

// cpOut is GET archive read to its end.
func cpOut(t *testing.T, d *Daemon, id, p string) (map[string]*tar.Header, map[string]string, error) {
	t.Helper()
	rc, _, err := d.ContainerArchivePath(context.Background(), id, p)
	if err != nil {
		return nil, nil, err
	}
	defer rc.Close()
	h, b := readTar(t, rc)
	return h, b, nil
}

// cpIn is PUT archive with docker cp's defaults.
func cpIn(d *Daemon, id, dst string, archive []byte) error {
	return d.ContainerExtractToDir(context.Background(), id, dst, server.ExtractOptions{NoOverwriteDirNonDir: true}, bytes.NewReader(archive))
}
