package shim_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/shim"
)

// TestPool: containers started through a pool run as through Start; the
// pooled shim's warm runtime runs create (no `create` command line is ever
// exec'd); a config the warm runtime cannot serve (another runtime) still
// works; a failed create reports the runtime's error; Close leaves no
// pooled shim or warm runtime behind.
func TestPool(t *testing.T) {
	rts := runtimes(t)
	berth, runc := rts[0], rts[1]
	script, log := recordingRuntime(t, berth.bin)
	root := t.TempDir()
	p, err := shim.NewPool(shim.PoolConfig{ShimBinary: shimBinary(t), Runtime: script, RuntimeRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			p.Close()
		}
	}()
	run := func(t *testing.T, r rt, runtimePath, runtimeRoot, want string) {
		c := newContainer(t, r, "sh", "-c", "echo "+want)
		c.cfg.Runtime, c.cfg.RuntimeRoot = runtimePath, runtimeRoot
		c.writeSpec()
		cl, err := p.Start(ctx(t), c.cfg)
		if err != nil {
			t.Fatalf("pool start: %v", err)
		}
		c.client = cl
		if _, err := cl.Start(ctx(t)); err != nil {
			t.Fatal(err)
		}
		p.Refill()
		if exit, err := cl.Wait(ctx(t)); err != nil || exit.Code != 0 {
			t.Fatalf("wait: %+v %v", exit, err)
		}
		if msgs := readLog(t, c.cfg.LogPath); len(msgs) != 1 || string(msgs[0].Line) != want+"\n" {
			t.Fatalf("log: %+v", msgs)
		}
	}
	for i := range 3 {
		// Give the refill its moment so that each start finds a pooled shim.
		waitForPooled(t, root, 1)
		run(t, berth, script, root, "pooled"+string(rune('a'+i)))
	}
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if ranCommand(t, log, "create") || !strings.Contains(string(data), "warm "+root) {
		t.Errorf("the warm runtime did not run create; commands:\n%s", data)
	}

	t.Run("other runtime", func(t *testing.T) {
		waitForPooled(t, root, 1)
		run(t, runc, runc.bin, t.TempDir(), "runc")
	})

	t.Run("failed create", func(t *testing.T) {
		waitForPooled(t, root, 1)
		c := newContainer(t, berth, "true")
		c.cfg.Runtime, c.cfg.RuntimeRoot = script, root
		c.spec.Root.Path = "no-such-rootfs"
		c.writeSpec()
		if _, err := p.Start(ctx(t), c.cfg); err == nil || !strings.Contains(err.Error(), "rootfs") {
			t.Fatalf("pool start with a missing rootfs: %v", err)
		}
		p.Refill()
	})

	waitForPooled(t, root, 1)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	waitForPooled(t, root, 0)
}

// waitForPooled waits until n pooled shims wait for a container, counted
// by their warm runtimes for root (an assigned shim has none any more).
func waitForPooled(t *testing.T, root string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := 0
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, f := range procs {
			data, _ := os.ReadFile(f)
			args := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
			if len(args) == 3 && args[1] == "warm" && args[2] == root {
				got++
			}
		}
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pooled shims for %s, want %d", got, root, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
