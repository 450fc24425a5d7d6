package shim_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
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
	// No fork while the script is open for writing (see golang/go#22315:
	// running it could fail with "text file busy").
	syscall.ForkLock.RLock()
	err := os.WriteFile(script, []byte(body), 0o755)
	syscall.ForkLock.RUnlock()
	if err != nil {
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
		// Found at create, but its interpreter is missing: the exec
		// itself fails, at the start.
		c := newContainer(t, berth, "/bad-interpreter")
		if err := os.WriteFile(filepath.Join(c.rootfs, "bad-interpreter"), []byte("#!/no/such/interpreter\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		var log string
		c.cfg.Runtime, log = recordingRuntime(t, berth.bin)
		cl := c.create()
		_, err := cl.Start(ctx(t))
		if err == nil || !strings.Contains(err.Error(), "no such file") {
			t.Fatalf("start of a binary whose interpreter is missing: %v", err)
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

// TestDirectDelete: the shim removes a stopped berth-runtime container's
// cgroups and state itself when the runtime offers it, and leaves it to
// `runtime delete` when the container has poststop hooks.
func TestDirectDelete(t *testing.T) {
	berth := runtimes(t)[0]
	for _, hook := range []bool{false, true} {
		name := "plain"
		if hook {
			name = "poststop"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newContainer(t, berth, "true")
			marker := filepath.Join(t.TempDir(), "poststop-ran")
			if hook {
				c.spec.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "touch " + marker}}}}
			}
			var log string
			c.cfg.Runtime, log = recordingRuntime(t, berth.bin)
			cl := c.create()
			cgroups := cgroupDirsOf(t, c.spec.Linux.CgroupsPath)
			if len(cgroups) == 0 {
				t.Fatalf("no cgroup directory for %s", c.spec.Linux.CgroupsPath)
			}
			if _, err := cl.Start(ctx(t)); err != nil {
				t.Fatal(err)
			}
			if exit, err := cl.Wait(ctx(t)); err != nil || exit.Code != 0 {
				t.Fatalf("wait: %+v %v", exit, err)
			}
			if err := cl.Delete(ctx(t)); err != nil {
				t.Fatal(err)
			}
			c.client = nil
			if _, err := os.Stat(filepath.Join(c.cfg.RuntimeRoot, c.cfg.ID)); !os.IsNotExist(err) {
				t.Fatalf("runtime state left: %v", err)
			}
			for _, d := range cgroups {
				if _, err := os.Stat(d); !os.IsNotExist(err) {
					t.Errorf("cgroup %s left: %v", d, err)
				}
			}
			if ran := ranCommand(t, log, "delete"); ran != hook {
				t.Fatalf("runtime delete run: %v, want %v; commands:\n%s", ran, hook, readFile(t, log))
			}
			if _, err := os.Stat(marker); hook && err != nil {
				t.Fatalf("poststop hook: %v", err)
			}
		})
	}
}

// cgroupDirsOf lists the directories of cgroup path in every mounted
// hierarchy.
func cgroupDirsOf(t *testing.T, path string) []string {
	t.Helper()
	mounts, err := filepath.Glob("/sys/fs/cgroup/*")
	if err != nil {
		t.Fatal(err)
	}
	mounts = append(mounts, "/sys/fs/cgroup")
	var out []string
	for _, m := range mounts {
		d := filepath.Join(m, path)
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			out = append(out, d)
		}
	}
	return out
}
