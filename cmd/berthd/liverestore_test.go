package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/api/pkg/stdcopy"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/berth-project/berth/internal/image/imagetest"
	"github.com/berth-project/berth/internal/testenv/nettest"
)

// liveRestoreContainers is how many containers run through the crash
// (issue 4 asks for 20).
const liveRestoreContainers = 20

// TestLiveRestoreSIGKILL runs bin/berthd, starts 20 containers that log a
// line every 100 ms, SIGKILLs the daemon, checks the containers run on
// and keep logging, starts the daemon again, and drives them through the
// official SDK: ps, logs -f, exec, stop, wait.
func TestLiveRestoreSIGKILL(t *testing.T) {
	// On its own default bridge subnet: the 20 containers get addresses,
	// which the restarted daemon keeps.
	d := nettest.StartDaemon(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := newClient(t, d.Host())
	loadBusybox(ctx, t, c)

	script := "trap 'echo bye; exit 9' TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done"
	ids := make([]string, liveRestoreContainers)
	pids := map[string]int{}
	for i := range ids {
		resp, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{
			Name:   fmt.Sprintf("lr-%02d", i),
			Config: &containertypes.Config{Image: "busybox", Cmd: []string{"sh", "-c", script}, Labels: map[string]string{"lr": "1"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ContainerStart(ctx, resp.ID, client.ContainerStartOptions{}); err != nil {
			t.Fatal(err)
		}
		ids[i] = resp.ID
	}
	for _, id := range ids {
		in, err := c.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pids[id] = in.Container.State.Pid
	}

	d.Kill(t)
	for _, id := range ids {
		if err := syscall.Kill(pids[id], 0); err != nil {
			t.Fatalf("container %s (pid %d) died with the daemon: %v", id[:12], pids[id], err)
		}
	}
	// Still logging with no daemon: the shims write the logs.
	logFile := filepath.Join(d.DataRoot(), "containers", ids[0], ids[0]+"-json.log")
	before := fileSize(t, logFile)
	time.Sleep(500 * time.Millisecond)
	if after := fileSize(t, logFile); after <= before {
		t.Fatalf("no logging while the daemon was dead (%d -> %d bytes)", before, after)
	}

	d.Restart(t)
	c = newClient(t, d.Host())
	list, err := c.ContainerList(ctx, client.ContainerListOptions{Filters: make(client.Filters).Add("label", "lr=1")})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != liveRestoreContainers {
		t.Fatalf("ps after restart: %d running, want %d", len(list.Items), liveRestoreContainers)
	}
	for _, s := range list.Items {
		in, err := c.ContainerInspect(ctx, s.ID, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if in.Container.State.Status != "running" || in.Container.State.Pid != pids[s.ID] {
			t.Fatalf("%s after restart: %+v (pid was %d)", s.Names[0], in.Container.State, pids[s.ID])
		}
	}

	// logs -f follows the restored container, then ends when it stops.
	logs, err := c.ContainerLogs(ctx, ids[0], client.ContainerLogsOptions{ShowStdout: true, Follow: true, Tail: "1"})
	if err != nil {
		t.Fatal(err)
	}
	followed := make(chan string, 1)
	go func() {
		var out bytes.Buffer
		_, _ = stdcopy.StdCopy(&out, io.Discard, logs)
		followed <- out.String()
	}()

	// exec in every restored container.
	for _, id := range ids {
		out, code := execIn(ctx, t, c, id, "sh", "-c", "echo alive $HOSTNAME")
		if code != 0 || out != "alive "+id[:12]+"\n" {
			t.Fatalf("exec in %s: %q (exit %d)", id[:12], out, code)
		}
	}

	// stop and wait: the restored containers end as they would have.
	for _, id := range ids {
		wait := c.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: containertypes.WaitConditionNotRunning})
		if _, err := c.ContainerStop(ctx, id, client.ContainerStopOptions{}); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-wait.Result:
			if r.StatusCode != 9 {
				t.Fatalf("%s exited %d, want 9", id[:12], r.StatusCode)
			}
		case err := <-wait.Error:
			t.Fatalf("wait %s: %v", id[:12], err)
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	select {
	case out := <-followed:
		if !strings.Contains(out, "tick") || !strings.HasSuffix(out, "bye\n") {
			t.Fatalf("logs -f after restore: %q", tail(out))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("logs -f did not end when the container stopped")
	}
	for _, id := range ids {
		if _, err := c.ContainerRemove(ctx, id, client.ContainerRemoveOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

func newClient(t *testing.T, host string) *client.Client {
	t.Helper()
	c, err := client.New(client.WithHost(host))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func loadBusybox(ctx context.Context, t *testing.T, c *client.Client) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "busybox.tar")
	imagetest.WriteDockerArchive(t, p, map[string]v1.Image{"busybox:latest": imagetest.BusyboxImage(t)}, imagetest.ArchiveOCI)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Quiet: the server answers only after it read the whole archive.
	res, err := c.ImageLoad(ctx, f, client.ImageLoadWithQuiet(true))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(res)
	_ = res.Close()
	if !bytes.Contains(out, []byte("Loaded image: busybox:latest")) {
		t.Fatalf("load: %s", out)
	}
}

func execIn(ctx context.Context, t *testing.T, c *client.Client, id string, cmd ...string) (string, int) {
	t.Helper()
	ex, err := c.ExecCreate(ctx, id, client.ExecCreateOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	att, err := c.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	_, _ = stdcopy.StdCopy(&out, io.Discard, att.Reader)
	att.Close()
	in, err := c.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), in.ExitCode
}

func fileSize(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func tail(s string) string {
	if len(s) > 200 {
		return "..." + s[len(s)-200:]
	}
	return s
}
