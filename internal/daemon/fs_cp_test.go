package daemon

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
)

// TestFSCopy is docker cp in and out of a running and of a stopped (here
// created, never started) container: files land where the container sees
// them, binds are seen at their destinations, read-only ones and a
// --read-only rootfs refuse copies with docker's words, -a gives the
// container user's ownership, and the tricky paths (a link to /etc/shadow,
// "../", a link to a host directory) stay inside the container.
func TestFSCopy(t *testing.T) {
	t.Parallel()
	d := newRealDaemon(t, testRoots(t))
	ctx := context.Background()

	// Host directories: what binds show, and canaries nothing may touch.
	host := t.TempDir()
	rw, ro, canary := filepath.Join(host, "rw"), filepath.Join(host, "ro"), filepath.Join(host, "canary")
	for _, dir := range []string{rw, ro, canary} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(ro, "data"), []byte("ro data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(canary, "secret"), []byte("host secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ev := recordEvents(t, d)
	binds := func(_ *containertypes.Config, h *containertypes.HostConfig) {
		h.Binds = []string{rw + ":/mnt/rw", ro + ":/mnt/ro:ro", "fsvol:/mnt/vol", "fsvolro:/mnt/volro:ro"}
	}
	user := func(c *containertypes.Config, _ *containertypes.HostConfig) { c.User = "1234:5678" }
	running := startSleeper(t, d, binds, user)
	stopped := create(t, d, "", []string{"cat", "/cp-stopped/a.txt"}, noNet, binds, user)

	for _, tc := range []struct{ name, id string }{{"running", running}, {"stopped", stopped}} {
		t.Run(tc.name, func(t *testing.T) {
			id := tc.id
			dir := "/cp-" + tc.name
			// In: a tree into a new directory's parent, then out again.
			if err := cpIn(d, id, "/", tarOf(t, tarEntry{name: dir[1:] + "/", typ: '5'}, tarEntry{name: dir[1:] + "/a.txt", body: "hello " + tc.name})); err != nil {
				t.Fatalf("cp in: %v", err)
			}
			st, err := d.ContainerStatPath(ctx, id, dir+"/a.txt")
			if err != nil || st.Name != "a.txt" || st.Size != int64(len("hello "+tc.name)) {
				t.Fatalf("stat after cp in: %+v %v", st, err)
			}
			hdrs, bodies, err := cpOut(t, d, id, dir)
			if err != nil {
				t.Fatalf("cp out: %v", err)
			}
			if bodies[strings.TrimPrefix(dir, "/")+"/a.txt"] != "hello "+tc.name {
				t.Fatalf("cp out of %s: %v", dir, bodies)
			}
			if _, ok := hdrs[strings.TrimPrefix(dir, "/")+"/"]; !ok {
				t.Fatalf("cp out: no directory entry: %v", slices.Collect(maps.Keys(hdrs)))
			}

			// The network files are the container's, as it sees them.
			if _, bodies, err := cpOut(t, d, id, "/etc/hostname"); err != nil || bodies["hostname"] != id[:12]+"\n" {
				t.Fatalf("cp out of /etc/hostname: %q %v", bodies["hostname"], err)
			}
			// Binds are seen at their destinations.
			if _, bodies, err := cpOut(t, d, id, "/mnt/ro/data"); err != nil || bodies["data"] != "ro data\n" {
				t.Fatalf("cp out of the read-only bind: %v %v", bodies, err)
			}
			name := tc.name + ".txt"
			if err := cpIn(d, id, "/mnt/rw", tarOf(t, tarEntry{name: name, body: "into the bind"})); err != nil {
				t.Fatalf("cp into the bind: %v", err)
			}
			if b, err := os.ReadFile(filepath.Join(rw, name)); err != nil || string(b) != "into the bind" {
				t.Fatalf("the bind's host directory: %q %v", b, err)
			}
			// So are volumes, a read-only one read-only.
			if err := cpIn(d, id, "/mnt/vol", tarOf(t, tarEntry{name: name, body: "into the volume"})); err != nil {
				t.Fatalf("cp into the volume: %v", err)
			}
			err = cpIn(d, id, "/mnt/volro", tarOf(t, tarEntry{name: "x", body: "x"}))
			if !errdefs.IsInvalidParameter(err) || !strings.Contains(err.Error(), "mounted volume is marked read-only") {
				t.Fatalf("cp into the read-only volume: %v", err)
			}
			// A read-only bind refuses, in docker's words.
			err = cpIn(d, id, "/mnt/ro", tarOf(t, tarEntry{name: "x", body: "x"}))
			if !errdefs.IsInvalidParameter(err) || !strings.Contains(err.Error(), "mounted volume is marked read-only") {
				t.Fatalf("cp into the read-only bind: %v", err)
			}
			if _, err := os.Stat(filepath.Join(ro, "x")); !os.IsNotExist(err) {
				t.Fatalf("the read-only bind was written: %v", err)
			}

			// Missing paths, in docker's words.
			_, err = d.ContainerStatPath(ctx, id, "/no/such")
			if !errdefs.IsNotFound(err) || err.Error() != "Could not find the file /no/such in container "+id {
				t.Fatalf("stat of a missing path: %v", err)
			}
			if _, _, err := cpOut(t, d, id, "/no/such"); !errdefs.IsNotFound(err) {
				t.Fatalf("cp out of a missing path: %v", err)
			}
			if err := cpIn(d, id, "/no/such", tarOf(t, tarEntry{name: "x"})); !errdefs.IsNotFound(err) {
				t.Fatalf("cp into a missing directory: %v", err)
			}

			// -a: the container's user owns what is copied in.
			err = d.ContainerExtractToDir(ctx, id, dir, server.ExtractOptions{CopyUIDGID: true}, strings.NewReader(string(tarOf(t, tarEntry{name: "owned", body: "o"}))))
			if err != nil {
				t.Fatalf("cp -a: %v", err)
			}
			if hdrs, _, err := cpOut(t, d, id, dir+"/owned"); err != nil || hdrs["owned"].Uid != 1234 || hdrs["owned"].Gid != 5678 {
				t.Fatalf("cp -a: owner %+v %v", hdrs["owned"], err)
			}

			// The tricky paths. A link to /etc/shadow is the container's
			// /etc/shadow, missing here, then the container's own.
			shadowLink := dir + "/shadow"
			if err := cpIn(d, id, dir, tarOf(t, tarEntry{name: "shadow", typ: '2', link: "/etc/shadow"})); err != nil {
				t.Fatal(err)
			}
			st, err = d.ContainerStatPath(ctx, id, shadowLink)
			if err != nil || st.LinkTarget != "/etc/shadow" {
				t.Fatalf("stat of the link to /etc/shadow: %+v %v", st, err)
			}
			if _, _, err := cpOut(t, d, id, st.LinkTarget); !errdefs.IsNotFound(err) {
				t.Fatalf("cp -L of a link to /etc/shadow, which the container lacks: %v", err)
			}
			if _, _, err := cpOut(t, d, id, shadowLink+"/"); err == nil {
				t.Fatal("cp out of link/ went through the link")
			}
			if err := cpIn(d, id, "/etc", tarOf(t, tarEntry{name: "shadow", body: "container shadow", mode: 0o600})); err != nil {
				t.Fatal(err)
			}
			if _, bodies, err := cpOut(t, d, id, st.LinkTarget); err != nil || bodies["shadow"] != "container shadow" {
				t.Fatalf("cp -L through the link: %v %v", bodies, err)
			}
			// "../" climbs no higher than the container's root.
			if _, bodies, err := cpOut(t, d, id, "/../../../.."+dir+"/a.txt"); err != nil || bodies["a.txt"] != "hello "+tc.name {
				t.Fatalf("cp out with ../: %v %v", bodies, err)
			}
			if err := cpIn(d, id, "/../../.."+canary, tarOf(t, tarEntry{name: "x"})); !errdefs.IsNotFound(err) {
				t.Fatalf("cp into ../../..%s: %v (must be the container's, missing)", canary, err)
			}
			// A link to a host directory leads into the container's tree
			// of the same name.
			if err := cpIn(d, id, dir, tarOf(t, tarEntry{name: "hostdir", typ: '2', link: canary})); err != nil {
				t.Fatal(err)
			}
			if _, _, err := cpOut(t, d, id, dir+"/hostdir/secret"); !errdefs.IsNotFound(err) {
				t.Fatalf("cp out through a link to a host directory: %v", err)
			}
			if err := cpIn(d, id, dir+"/hostdir", tarOf(t, tarEntry{name: "planted"})); !errdefs.IsNotFound(err) {
				t.Fatalf("cp into a link to a host directory: %v", err)
			}
			// An archive that climbs out is refused.
			err = cpIn(d, id, dir, tarOf(t, tarEntry{name: "../../../../../../" + canary[1:] + "/planted"}))
			if !errdefs.IsInvalidParameter(err) {
				t.Fatalf("cp in of ../ entries: %v", err)
			}
		})
	}
	checkCanary(t, canary)
	if ev.find(running, "archive-path") == nil || ev.find(stopped, "extract-to-dir") == nil {
		t.Errorf("no archive-path/extract-to-dir events: %v / %v", ev.actions(running), ev.actions(stopped))
	}

	// What was copied into the volume is in it, for any container.
	vols := runOutput(t, d, "busybox", []string{"sh", "-c", "cat /v/running.txt; echo; cat /v/stopped.txt"}, func(_ *containertypes.Config, h *containertypes.HostConfig) {
		h.Binds = []string{"fsvol:/v"}
	})
	if vols != "into the volume\ninto the volume" {
		t.Errorf("the volume holds %q", vols)
	}

	// The stopped container's view was private and is gone: its copies
	// are in its layer, and it starts and sees them.
	if out := runOutputOf(t, d, stopped); !strings.Contains(out, "hello stopped") {
		t.Fatalf("the stopped container does not see what was copied in: %q", out)
	}

	// A --read-only rootfs refuses copies outside its volumes.
	rofs := create(t, d, "", []string{"true"}, noNet, binds, func(_ *containertypes.Config, h *containertypes.HostConfig) { h.ReadonlyRootfs = true })
	err := cpIn(d, rofs, "/tmp", tarOf(t, tarEntry{name: "x"}))
	if !errdefs.IsInvalidParameter(err) || !strings.Contains(err.Error(), "container rootfs is marked read-only") {
		t.Fatalf("cp into a --read-only rootfs: %v", err)
	}
	if err := cpIn(d, rofs, "/mnt/rw", tarOf(t, tarEntry{name: "rofs"})); err != nil {
		t.Fatalf("cp into a bind of a --read-only container: %v", err)
	}
}

// checkCanary fails t if anything in the host directory dir changed.
func checkCanary(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "secret" {
		t.Errorf("the host canary %s holds %v", dir, entries)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "secret")); err != nil || string(b) != "host secret\n" {
		t.Errorf("the host canary's file: %q %v", b, err)
	}
}

// runOutputOf starts the created container id (its command prints what
// it finds) and returns its output.
func runOutputOf(t *testing.T, d *Daemon, id string) string {
	t.Helper()
	exit := waitFor(t, d, id, containertypes.WaitConditionNextExit)
	if err := d.ContainerStart(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	result(t, exit)
	return logsOf(t, d, id, false)
}

// TestFSCopyRace copies in and out of a running container while it swaps
// a directory for a link to a host directory and back (the docker cp
// symlink-race CVE): the host directory is never read nor written.
func TestFSCopyRace(t *testing.T) {
	t.Parallel()
	d := newRealDaemon(t, testRoots(t))
	canary := filepath.Join(t.TempDir(), "canary")
	if err := os.Mkdir(canary, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(canary, "secret"), []byte("host secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	swap := "mkdir -p /race/real && echo inside > /race/real/secret && ln -s " + canary + " /race/link && " +
		"while true; do mv -T /race/link /race/d 2>/dev/null; mv -T /race/d /race/link; mv -T /race/real /race/d; mv -T /race/d /race/real; done"
	id := create(t, d, "", []string{"sh", "-c", swap}, noNet)
	if err := d.ContainerStart(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	var ins, outs, leaked atomic.Int64
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for time.Now().Before(deadline) {
			if cpIn(d, id, "/race/d", tarOf(t, tarEntry{name: "planted", body: "x"})) == nil {
				ins.Add(1)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for time.Now().Before(deadline) {
			_, bodies, err := cpOut(t, d, id, "/race/d/secret")
			if err == nil {
				outs.Add(1)
				if bodies["secret"] == "host secret\n" {
					leaked.Add(1)
				}
			}
		}
	}()
	wg.Wait()
	if leaked.Load() > 0 {
		t.Errorf("the host's file was read through the swapped link %d times", leaked.Load())
	}
	checkCanary(t, canary)
	t.Logf("%d copies in and %d out succeeded while the directory was swapped", ins.Load(), outs.Load())
}
