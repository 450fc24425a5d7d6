package daemon

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/api/server"
)

// TestRealLocalLogDriver runs docker's local log driver end to end: the
// real shim writes a container's 2000 lines in docker's local format,
// rotating at 10 kB into at most 3 files and gzip'ing the rotated ones,
// and the daemon reads the tail back across them.
func TestRealLocalLogDriver(t *testing.T) {
	t.Parallel()
	d := newRealDaemon(t, testRoots(t))
	ctx := context.Background()
	local := func(opts map[string]string) func(*containertypes.Config, *containertypes.HostConfig) {
		return func(_ *containertypes.Config, h *containertypes.HostConfig) {
			h.LogConfig = containertypes.LogConfig{Type: "local", Config: opts}
		}
	}
	id := create(t, d, "", []string{"sh", "-c", "for i in $(seq 1 2000); do echo line $i; done"},
		local(map[string]string{"max-size": "10k", "max-file": "3"}))
	exit := waitFor(t, d, id, containertypes.WaitConditionNextExit)
	if err := d.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	if r := result(t, exit); r.StatusCode != 0 {
		t.Fatalf("exit %+v", r)
	}

	if got := readLogs(t, d, id, server.LogsOptions{Stdout: true, Stderr: true, Tail: 5}); got != numbered(1996, 2000) {
		t.Fatalf("logs --tail 5: %q", got)
	}
	// All that is kept: the newest lines, in order, with the oldest
	// rotated out.
	all := readLogs(t, d, id, server.LogsOptions{Stdout: true, Stderr: true, Tail: -1, Follow: true})
	first, err := strconv.Atoi(strings.TrimPrefix(strings.SplitN(all, "\n", 2)[0], "line "))
	if err != nil || first <= 1 || all != numbered(first, 2000) {
		t.Fatalf("logs: %d bytes from line %d (%v); want consecutive lines to 2000, the first ones rotated out", len(all), first, err)
	}

	dir := filepath.Join(d.containers.Dir(id), "local-logs")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if len(names) > 3 || !slices.Contains(names, "container.log") || !slices.Contains(names, "container.log.1.gz") {
		t.Fatalf("%s holds %v: want container.log and at most two rotated .gz files", dir, names)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("%s: %v %v, docker makes it 0700", dir, fi, err)
	}
	// docker does not show where the local driver keeps its files.
	if in := inspect(t, d, id); in.LogPath != "" || in.HostConfig.LogConfig.Type != "local" {
		t.Fatalf("inspect: LogPath %q, log config %+v", in.LogPath, in.HostConfig.LogConfig)
	}

	// A second run appends to the same files.
	exit = waitFor(t, d, id, containertypes.WaitConditionNextExit)
	if err := d.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	result(t, exit)
	if got := readLogs(t, d, id, server.LogsOptions{Stdout: true, Tail: 2}); got != numbered(1999, 2000) {
		t.Fatalf("logs --tail 2 after a restart: %q", got)
	}
}

// numbered is "line from\n" ... "line to\n".
func numbered(from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		b.WriteString("line " + strconv.Itoa(i) + "\n")
	}
	return b.String()
}

func readLogs(t *testing.T, d *Daemon, id string, opts server.LogsOptions) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	msgs, _, err := d.ContainerLogs(ctx, id, opts)
	if err != nil {
		t.Fatalf("logs: %v", err)
	}
	var b strings.Builder
	for m := range msgs {
		if m.Err != nil {
			t.Fatalf("logs: %v", m.Err)
		}
		b.Write(m.Line)
	}
	if ctx.Err() != nil {
		t.Fatal("logs did not end")
	}
	return b.String()
}
