package daemon

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/api/server"
)

// TestFSExport is docker export of a running and of a stopped container:
// the image's tree with the container's changes (a deleted file is gone),
// without its binds; the tar imports (docker import) as an image whose
// containers see the same files.
func TestFSExport(t *testing.T) {
	t.Parallel()
	d := newRealDaemon(t, testRoots(t))
	ctx := context.Background()
	bind := t.TempDir()
	if err := os.WriteFile(filepath.Join(bind, "in-bind"), []byte("bind"), 0o644); err != nil {
		t.Fatal(err)
	}
	ev := recordEvents(t, d)
	script := "echo exported > /added.txt && rm /etc/group && touch /ready && exec sleep 1000"
	id := create(t, d, "", []string{"sh", "-c", script}, noNet, func(_ *containertypes.Config, h *containertypes.HostConfig) {
		h.Binds = []string{bind + ":/mnt/bind"}
	})
	if err := d.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the changes", func() bool {
		_, err := d.ContainerStatPath(ctx, id, "/ready")
		return err == nil
	})
	check := func(what string, b []byte) {
		t.Helper()
		hdrs, bodies := readTar(t, bytes.NewReader(b))
		if bodies["added.txt"] != "exported\n" {
			t.Errorf("%s: /added.txt is %q", what, bodies["added.txt"])
		}
		if _, ok := hdrs["etc/group"]; ok {
			t.Errorf("%s: the deleted /etc/group is in the export", what)
		}
		if _, ok := hdrs["etc/passwd"]; !ok {
			t.Errorf("%s: the image's /etc/passwd is not in the export", what)
		}
		if _, ok := hdrs["mnt/bind/in-bind"]; ok {
			t.Errorf("%s: the bind's content is in the export", what)
		}
		for name := range hdrs {
			if strings.Contains(name, ".wh.") {
				t.Errorf("%s: a whiteout in the export: %s", what, name)
			}
		}
	}
	var running bytes.Buffer
	if err := d.ContainerExport(ctx, id, &running); err != nil {
		t.Fatalf("export of the running container: %v", err)
	}
	check("running", running.Bytes())
	timeout := 1
	if err := d.ContainerStop(ctx, id, server.StopOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	var stopped bytes.Buffer
	if err := d.ContainerExport(ctx, id, &stopped); err != nil {
		t.Fatalf("export of the stopped container: %v", err)
	}
	check("stopped", stopped.Bytes())
	if ev.find(id, "export") == nil {
		t.Errorf("no export event: %v", ev.actions(id))
	}

	// The round trip: import the export, run it.
	if err := d.ImageImport(ctx, &stopped, server.ImageImportOptions{Repo: "exported", Tag: "v1", Changes: []string{`CMD ["cat", "/added.txt"]`}}, io.Discard); err != nil {
		t.Fatalf("import of the export: %v", err)
	}
	if out := runOutput(t, d, "exported:v1", nil); out != "exported\n" {
		t.Errorf("a container of the imported export says %q", out)
	}
	if out := runOutput(t, d, "exported:v1", []string{"sh", "-c", "ls /etc/group 2>&1; true"}); !strings.Contains(out, "No such file") {
		t.Errorf("the imported export has /etc/group: %q", out)
	}
}
