package runtime_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestCreateRejects: create refuses bad bundles and failing hooks with a
// non-zero exit and a message naming the problem, and leaves no state
// directory, cgroup or mount behind.
func TestCreateRejects(t *testing.T) {
	t.Parallel()
	failingHook := func(kind string) func(*testing.T, *bundle) {
		return func(t *testing.T, b *bundle) {
			h := []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo " + kind + "-hook-failed >&2; exit 1"}}}
			switch kind {
			case "createRuntime":
				b.spec.Hooks = &specs.Hooks{CreateRuntime: h}
			case "createContainer":
				b.spec.Hooks = &specs.Hooks{CreateContainer: h}
			}
		}
	}
	for _, tc := range []struct {
		name   string
		mutate func(*testing.T, *bundle)
		want   []string // all must be in stderr
	}{
		{"malformed-json", func(t *testing.T, b *bundle) {
			writeConfig(t, b, `{"ociVersion": "1.2.0", "process": {`)
		}, []string{"config.json", "invalid JSON"}},
		{"oci-version-2", func(t *testing.T, b *bundle) {
			b.spec.Version = "2.0.0"
		}, []string{"ociVersion", "2.0.0"}},
		{"oci-version-garbage", func(t *testing.T, b *bundle) {
			b.spec.Version = "latest"
		}, []string{"ociVersion"}},
		{"empty-args", func(t *testing.T, b *bundle) {
			b.spec.Process.Args = nil
		}, []string{"process.args"}},
		{"relative-cwd", func(t *testing.T, b *bundle) {
			b.spec.Process.Cwd = "tmp"
		}, []string{"process.cwd"}},
		{"unknown-namespace", func(t *testing.T, b *bundle) {
			b.spec.Linux.Namespaces = append(b.spec.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
		}, []string{"namespace", "bogus"}},
		{"namespace-path-missing", func(t *testing.T, b *bundle) {
			b.spec.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.NetworkNamespace, Path: "/proc/nonexistent/ns/net"}}
		}, []string{"/proc/nonexistent/ns/net"}},
		{"missing-rootfs", func(t *testing.T, b *bundle) {
			b.spec.Root.Path = "no-such-rootfs"
		}, []string{"rootfs", "no-such-rootfs", "does not exist"}},
		{"missing-config", func(t *testing.T, b *bundle) {
			writeConfig(t, b, "")
		}, []string{"config.json"}},
		{"unknown-capability", func(t *testing.T, b *bundle) {
			b.spec.Process.Capabilities.Bounding = append(b.spec.Process.Capabilities.Bounding, "CAP_BOGUS")
		}, []string{"CAP_BOGUS"}},
		{"bind-source-missing", func(t *testing.T, b *bundle) {
			b.spec.Mounts = append(b.spec.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/nonexistent-berth-source", Options: []string{"rbind"}})
		}, []string{"/nonexistent-berth-source"}},
		{"cgroups-path-escapes", func(t *testing.T, b *bundle) {
			b.spec.Linux.CgroupsPath = "/../escape"
		}, []string{"cgroup", "/../escape"}},
		{"createRuntime-hook-fails", failingHook("createRuntime"), []string{"createRuntime", "createRuntime-hook-failed"}},
		{"createContainer-hook-fails", failingHook("createContainer"), []string{"createContainer", "createContainer-hook-failed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			b := newBundle(t, "true")
			tc.mutate(t, b)
			c := e.newContainer(b)
			if !bundleHasRawConfig(b) {
				b.write(t)
			}
			r := e.rtio(stdio{}, "create", "--bundle", b.dir, c.id)
			if r.code == 0 {
				t.Fatalf("create succeeded: %v", r)
			}
			for _, want := range tc.want {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("create's error does not mention %q:\n%s", want, r.stderr)
				}
			}
			assertNoTraces(t, e, c.id, b)
			if r := e.rt("state", c.id); r.code == 0 {
				t.Errorf("state after a failed create: %v", r)
			}
		})
	}
}

// writeConfig replaces the bundle's config.json with raw content, or
// removes it when content is empty; the bundle then keeps it as it is.
func writeConfig(t *testing.T, b *bundle, content string) {
	t.Helper()
	path := filepath.Join(b.dir, "config.json")
	b.spec = nil
	if content == "" {
		os.Remove(path)
		return
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func bundleHasRawConfig(b *bundle) bool { return b.spec == nil }

// TestInvalidID: ids that are not plain names are refused before anything
// is made, and none escapes the state root.
func TestInvalidID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBundle(t, "true")
	b.write(t)
	for _, id := range []string{"../escape", "a/b", ".hidden", ""} {
		r := e.rtio(stdio{}, "create", "--bundle", b.dir, id)
		if r.code == 0 || !strings.Contains(r.stderr, "container id") {
			t.Errorf("create %q: %v", id, r)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(e.root), "escape")); err == nil {
		t.Error("create ../escape made a directory beside the state root")
	}
	entries, _ := os.ReadDir(e.root)
	for _, en := range entries {
		if !strings.HasPrefix(en.Name(), ".") {
			t.Errorf("the state root holds %s after only invalid creates", en.Name())
		}
	}
}

// TestDuplicateID: a second create with a live id fails and leaves the
// first container as it was.
func TestDuplicateID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBundle(t, "sleep", "1000")
	c := e.newContainer(b)
	c.create()
	r := e.rtio(stdio{}, "create", "--bundle", b.dir, c.id)
	if r.code == 0 || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("second create of %s: %v", c.id, r)
	}
	if st := c.state(); st.Status != "created" || st.Pid != c.pid {
		t.Errorf("the first container changed: %+v", st)
	}
	c.start()
	if st := c.state(); st.Status != "running" {
		t.Errorf("the first container does not start after the duplicate: %+v", st)
	}
}

// TestStartRejects: start of a container that is not created fails, and a
// process that cannot run makes start fail, not hang.
func TestStartRejects(t *testing.T) {
	t.Parallel()
	t.Run("nonexistent", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		if r := e.rt("start", "no-such-container"); r.code == 0 || !strings.Contains(r.stderr, "does not exist") {
			t.Errorf("start of a nonexistent container: %v", r)
		}
	})
	t.Run("running-then-stopped", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		b := newBundle(t, "sh", "-c", "read x")
		stdinR, stdinW, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer stdinR.Close()
		c := e.newContainer(b)
		if r := c.createWith(stdio{stdin: stdinR}); r.code != 0 {
			t.Fatalf("%v", r)
		}
		c.start()
		if r := e.rt("start", c.id); r.code == 0 || !strings.Contains(r.stderr, "running") {
			t.Errorf("start of a running container: %v", r)
		}
		stdinW.Close() // read gets EOF: the process exits
		c.wait()
		c.waitStatus("stopped")
		if r := e.rt("start", c.id); r.code == 0 || !strings.Contains(r.stderr, "stopped") {
			t.Errorf("start of a stopped container: %v", r)
		}
		if r := e.rt("kill", c.id, "KILL"); r.code == 0 || !strings.Contains(r.stderr, "stopped") {
			t.Errorf("kill of a stopped container: %v", r)
		}
		if r := c.exec(stdio{}, nil, "true"); r.code == 0 || !strings.Contains(r.stderr, "stopped") {
			t.Errorf("exec into a stopped container: %v", r)
		}
		if r := e.rt("pause", c.id); r.code == 0 {
			t.Errorf("pause of a stopped container: %v", r)
		}
		e.mustRT("delete", c.id)
		assertNoTraces(t, e, c.id, b)
	})
	t.Run("missing-executable", func(t *testing.T) {
		// As runc's: the executable is looked for at create.
		t.Parallel()
		e := newEnv(t)
		b := newBundle(t, "/no/such/program")
		c := e.newContainer(b)
		if r := c.createWith(stdio{}); r.code == 0 || !strings.Contains(r.stderr, "/no/such/program") {
			t.Errorf("create with a missing executable: %v", r)
		}
		assertNoTraces(t, e, c.id, b)
	})
	t.Run("executable-from-startContainer-hook", func(t *testing.T) {
		// A startContainer hook runs in the container before its process
		// is looked for: what it makes is found.
		t.Parallel()
		e := newEnv(t)
		b := newBundle(t, "/made-by-hook")
		b.spec.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "printf '#!/bin/sh\\necho made\\n' > /made-by-hook && chmod +x /made-by-hook"}}}}
		b.spec.Root.Readonly = false
		c := e.newContainer(b)
		c.create()
		if r := e.rt("start", c.id); r.code != 0 {
			t.Fatalf("start with the executable made by a startContainer hook: %v", r)
		}
		c.wait()
		e.mustRT("delete", c.id)
	})
	t.Run("startContainer-hook-fails", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		b := newBundle(t, "sleep", "1000")
		b.spec.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo no-start >&2; exit 1"}}}}
		c := e.newContainer(b)
		c.create()
		r := e.rt("start", c.id)
		if r.code == 0 || !strings.Contains(r.stderr, "startContainer") || !strings.Contains(r.stderr, "no-start") {
			t.Errorf("start with a failing startContainer hook: %v", r)
		}
		c.waitStatus("stopped")
		e.mustRT("delete", c.id)
		assertNoTraces(t, e, c.id, b)
	})
}

// TestCommandRejects: commands on containers that do not exist, and bad
// arguments, fail with a message.
func TestCommandRejects(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.newContainer(newBundle(t, "sleep", "1000"))
	c.run()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"state", "nope"}, "does not exist"},
		{[]string{"kill", "nope"}, "does not exist"},
		{[]string{"delete", "nope"}, "does not exist"},
		{[]string{"pause", "nope"}, "does not exist"},
		{[]string{"exec", "nope", "true"}, "does not exist"},
		{[]string{"kill", c.id, "SIGBOGUS"}, "unknown signal"},
		{[]string{"delete", c.id}, "running"},
		{[]string{"resume", c.id}, "not paused"},
		{[]string{"exec", c.id, "/no/such/program"}, "/no/such/program"},
		{[]string{"exec", "--cwd", "/no/such/dir", c.id, "true"}, "/no/such/dir"},
		{[]string{"create"}, "requires exactly 1"},
	} {
		r := e.rtio(stdio{}, tc.args...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("want a failure mentioning %q: %v", tc.want, r)
		}
	}
	if st := c.state(); st.Status != "running" {
		t.Errorf("after the failed commands the container is %s", st.Status)
	}
}

// TestLogFile: --log with --log-format json sends the runtime's errors to
// the file as JSON records, and the message still reaches stderr.
func TestLogFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	logPath := filepath.Join(t.TempDir(), "runtime.log")
	r := e.rt("--log", logPath, "--log-format", "json", "state", "no-such-container")
	if r.code == 0 || !strings.Contains(r.stderr, "does not exist") {
		t.Fatalf("state of a nonexistent container: %v", r)
	}
	var rec struct {
		Level string `json:"level"`
		Msg   string `json:"msg"`
	}
	line, _, _ := strings.Cut(readFile(t, logPath), "\n")
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatalf("log line %q is not JSON: %v", line, err)
	}
	if rec.Level != "error" || !strings.Contains(rec.Msg, "does not exist") {
		t.Errorf("log record %+v, want the error", rec)
	}
	if r := e.rt("--log-format", "xml", "list"); r.code == 0 || !strings.Contains(r.stderr, "log-format") {
		t.Errorf("--log-format xml: %v", r)
	}
}
