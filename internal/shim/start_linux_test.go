package shim_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// recordingRuntime wraps bin is a script that logs each command line to
// a file and execs bin; it returns the script and the log.
func recordingRuntime(t *testing.T, bin string) (script, log string) {
	t.Helper()
	dir := t.TempDir()
	script, log = filepath.Join(dir, "runtime"), filepath.Join(dir, "commands")
	body := "#!/bin/sh\nprintf '%s\\n' \"$*\" >> " + log + "\nexec " + bin + " \"$@\"\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, log
}

// ranCommand reports whether the runtime was run with command cmd.
func ranCommand(t *testing.T, log, cmd string) bool {
	t.Helper()
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if strings.Contains(line, " --log-format json "+cmd+" ") {
			return true
		}
	}
	return false
}

// TestDirectStart: the shim starts berth-runtime's containers itself when
// the runtime offers it, and runs `runtime start` when the start needs the
// runtime (a poststart hook) or for another runtime.
func TestDirectStart(t *testing.T) {
	rts := runtimes(t)
	berth, runc := rts[0], rts[1]
	t.Run("berth", func(t *testing.T) {
		t.Parallel()
		c := newContainer(t, berth, "sh", "-c", "echo hi")
		var log string
		c.cfg.Runtime, log = recordingRuntime(t, berth.bin)
		cl := c.create()
		if _, err := cl.Start(ctx(t)); err != nil {
			t.Fatal(err)
		}
		if exit, err := cl.Wait(ctx(t)); err != nil || exit.Code != 0 {
			t.Fatalf("wait: %+v %v", exit, err)
		}
		if msgs := readLog(t, c.cfg.LogPath); len(msgs) != 1 || string(msgs[0].Line) != "hi\n" {
			t.Fatalf("log: %+v", msgs)
		}
		if ranCommand(t, log, "start") || !ranCommand(t, log, "create") {
			t.Fatalf("commands run:\n%s", readFile(t, log))
		}
	})
	t.Run("berth-exec-fails", func(t *testing.T) {
		t.Parallel()
		c := newContainer(t, berth, "/no/such/binary")
		var log string
		c.cfg.Runtime, log = recordingRuntime(t, berth.bin)
		cl := c.create()
		_, err := cl.Start(ctx(t))
		if err == nil || !strings.Contains(err.Error(), "no such file") {
			t.Fatalf("start of a missing binary: %v", err)
		}
		if ranCommand(t, log, "start") {
			t.Fatalf("commands run:\n%s", readFile(t, log))
		}
	})
	t.Run("berth-poststart", func(t *testing.T) {
		t.Parallel()
		c := newContainer(t, berth, "true")
		marker := filepath.Join(t.TempDir(), "poststart-ran")
		c.spec.Hooks = &specs.Hooks{Poststart: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "touch " + marker}}}}
		var log string
		c.cfg.Runtime, log = recordingRuntime(t, berth.bin)
		cl := c.create()
		if _, err := cl.Start(ctx(t)); err != nil {
			t.Fatal(err)
		}
		if exit, err := cl.Wait(ctx(t)); err != nil || exit.Code != 0 {
			t.Fatalf("wait: %+v %v", exit, err)
		}
		if _, err := os.Stat(marker); err != nil {
			t.Fatalf("poststart hook: %v", err)
		}
		if !ranCommand(t, log, "start") {
			t.Fatalf("commands run:\n%s", readFile(t, log))
		}
	})
	t.Run("runc", func(t *testing.T) {
		t.Parallel()
		c := newContainer(t, runc, "true")
		var log string
		c.cfg.Runtime, log = recordingRuntime(t, runc.bin)
		cl := c.create()
		if _, err := cl.Start(ctx(t)); err != nil {
			t.Fatal(err)
		}
		if exit, err := cl.Wait(ctx(t)); err != nil || exit.Code != 0 {
			t.Fatalf("wait: %+v %v", exit, err)
		}
		if !ranCommand(t, log, "start") {
			t.Fatalf("commands run:\n%s", readFile(t, log))
		}
	})
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
