package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/logs"
	"github.com/berth-project/berth/internal/testenv"
	"github.com/berth-project/berth/internal/testenv/daemontest"
)

// TestLocalLogDriver drives docker's local log driver with the docker
// CLI: 2000 lines rotated at 10 kB into at most 3 files, the rotated ones
// gzip'ed, and `logs --tail` across them. The files are then read with
// internal/logs directly: against dockerd (BERTH_TEST_TARGET=dockerd)
// that reads docker's own files, the proof that the formats are one.
func TestLocalLogDriver(t *testing.T) {
	t.Parallel()
	e := startEngine(t)
	c := clients()[0].resolve(t)
	name := testenv.UniqueName(t, "loglocal")
	t.Cleanup(func() { e.run(t, c, nil, "rm", "-f", name) })

	e.must(t, c, "run", "--name", name, "--log-driver", "local", "--log-opt", "max-size=10k", "--log-opt", "max-file=3",
		"busybox", "sh", "-c", "for i in $(seq 1 2000); do echo line $i; done")
	want := strings.TrimSuffix(numberedLines(1996, 2000), "\n")
	if got := e.must(t, c, "logs", "--tail", "5", name); got != want {
		t.Fatalf("logs --tail 5:\n%s\nwant\n%s", got, want)
	}
	// docker keeps the local driver's files out of the API.
	if got := e.must(t, c, "inspect", "-f", "{{.HostConfig.LogConfig.Type}} [{{.LogPath}}]", name); got != "local []" {
		t.Fatalf("inspect: %q", got)
	}

	id := e.must(t, c, "inspect", "-f", "{{.Id}}", name)
	dir := filepath.Join(e.d.DataRoot(), "containers", id, "local-logs")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ent := range ents {
		names = append(names, ent.Name())
	}
	if len(names) > 3 || !slices.Contains(names, "container.log") || !slices.Contains(names, "container.log.1.gz") {
		t.Fatalf("%s holds %v: want container.log and at most two rotated .gz files", dir, names)
	}
	msgs, errs := logs.Read(context.Background(), logs.Local, filepath.Join(dir, "container.log"), logs.ReadOptions{Tail: -1})
	var b strings.Builder
	for m := range msgs {
		if m.Stream != "stdout" {
			t.Fatalf("entry %+v", m)
		}
		b.Write(m.Line)
	}
	for err := range errs {
		t.Fatal(err)
	}
	all := b.String()
	first, err := strconv.Atoi(strings.TrimPrefix(strings.SplitN(all, "\n", 2)[0], "line "))
	if err != nil || first <= 1 || all != numberedLines(first, 2000) {
		t.Fatalf("read %d bytes of %s from line %d (%v); want consecutive lines to 2000", len(all), dir, first, err)
	}

	// The other way round: files written by internal/logs (rotated,
	// compressed, with a line split in chunks) read by the daemon. Against
	// dockerd, docker's own reader reads them.
	for _, ent := range ents {
		if err := os.Remove(filepath.Join(dir, ent.Name())); err != nil {
			t.Fatal(err)
		}
	}
	w, err := logs.NewLocalWriter(filepath.Join(dir, "container.log"), map[string]string{"max-size": "1k", "max-file": "3"})
	if err != nil {
		t.Fatal(err)
	}
	var wantOut, wantErr strings.Builder
	for i := range 100 {
		m := logs.Message{Stream: "stdout", Line: []byte("berth " + strconv.Itoa(i) + "\n")}
		if i%4 == 0 {
			m.Stream = "stderr"
		}
		if i == 50 {
			// A long line the shim split: chunks, then the rest.
			for _, chunk := range []string{"chunk-a ", "chunk-b "} {
				if err := w.WriteMessage(logs.Message{Stream: "stdout", Line: []byte(chunk), Partial: true}); err != nil {
					t.Fatal(err)
				}
			}
			m.Line = []byte("end of the long line\n")
			m.Stream = "stdout"
		}
		if err := w.WriteMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if gz, _ := filepath.Glob(filepath.Join(dir, "container.log.*.gz")); len(gz) != 2 {
		t.Fatalf("the writer left %v", gz)
	}
	msgs, errs = logs.Read(context.Background(), logs.Local, filepath.Join(dir, "container.log"), logs.ReadOptions{Tail: -1})
	for m := range msgs {
		if m.Stream == "stderr" {
			wantErr.Write(m.Line)
		} else {
			wantOut.Write(m.Line)
		}
	}
	for err := range errs {
		t.Fatal(err)
	}
	if !strings.Contains(wantOut.String(), "chunk-a chunk-b end of the long line\n") {
		t.Fatalf("the long line did not come back whole:\n%s", wantOut.String())
	}
	if e.d.Target() == daemontest.Docker {
		// Debian's dockerd 20.10 predates moby's fix that ends the last
		// chunk of a split line with its newline; current docker's reader
		// adds it, as ours does.
		s := strings.Replace(wantOut.String(), "long line\n", "long line", 1)
		wantOut.Reset()
		wantOut.WriteString(s)
	}
	r := e.run(t, c, nil, "logs", name)
	if r.exit != 0 || r.stdout != wantOut.String() || r.stderr != wantErr.String() {
		t.Fatalf("the daemon reads internal/logs' files differently:\n%s\nwant stdout:\n%s\nwant stderr:\n%s", r, wantOut.String(), wantErr.String())
	}
	if got := e.must(t, c, "logs", "--tail", "2", name); got != "berth 98\nberth 99" {
		t.Fatalf("logs --tail 2 of internal/logs' files: %q", got)
	}

	// docker's options for every driver are the local driver's too.
	if got := e.must(t, c, "run", "--rm", "--log-driver", "local", "--log-opt", "mode=non-blocking", "--log-opt", "max-buffer-size=1m", "busybox", "echo", "ok"); got != "ok" {
		t.Fatalf("mode=non-blocking: %q", got)
	}
	// compress (on by default) needs rotated files to compress.
	r = e.run(t, c, nil, "run", "--rm", "--log-driver", "local", "--log-opt", "max-file=1", "busybox", "true")
	if r.exit != 125 || !strings.Contains(r.stderr, "compression cannot be enabled when max file count is 1") {
		t.Fatalf("max-file=1 with compression:\n%s", r)
	}
}

// numberedLines is "line from\n" ... "line to\n".
func numberedLines(from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		b.WriteString("line " + strconv.Itoa(i) + "\n")
	}
	return b.String()
}
