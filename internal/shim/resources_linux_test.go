package shim_test

import (
	"slices"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/shim"
)

func TestPauseStatsPidsUpdate(t *testing.T) {
	for _, r := range runtimes(t) {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			c := newContainer(t, r, "sleep", "100")
			limit := int64(64 << 20)
			c.spec.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
			cl := c.create()
			pid, err := cl.Start(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			if err := cl.Pause(ctx(t)); err != nil {
				t.Fatal(err)
			}
			if st, err := cl.State(ctx(t)); err != nil || st.Status != shim.StatusPaused {
				t.Fatalf("state after pause: %+v %v", st, err)
			}
			if err := cl.Resume(ctx(t)); err != nil {
				t.Fatal(err)
			}
			if st, err := cl.State(ctx(t)); err != nil || st.Status != shim.StatusRunning {
				t.Fatalf("state after resume: %+v %v", st, err)
			}
			pids, err := cl.Pids(ctx(t))
			if err != nil || !slices.Contains(pids, pid) {
				t.Fatalf("pids %v (init %d): %v", pids, pid, err)
			}
			s, err := cl.Stats(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			if s.Memory.Usage.Usage == 0 || s.Memory.Usage.Limit != uint64(limit) || s.Pids.Current != 1 {
				t.Fatalf("stats %+v", s)
			}
			newLimit := int64(32 << 20)
			if err := cl.Update(ctx(t), &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &newLimit}}); err != nil {
				t.Fatal(err)
			}
			if s, err := cl.Stats(ctx(t)); err != nil || s.Memory.Usage.Limit != uint64(newLimit) {
				t.Fatalf("limit after update: %+v %v", s.Memory.Usage, err)
			}
			// SIGKILL reaches a paused container: the shim thaws it.
			if err := cl.Pause(ctx(t)); err != nil {
				t.Fatal(err)
			}
			if err := cl.Kill(ctx(t), syscall.SIGKILL, true); err != nil {
				t.Fatal(err)
			}
			if exit, err := cl.Wait(ctx(t)); err != nil || exit.Code != 137 {
				t.Fatalf("wait: %+v %v", exit, err)
			}
		})
	}
}

// TestCallsAfterExitConflict: pause, resume and update that reach the
// shim after the container exited (the daemon's record still says running
// or paused), or a resume after the runtime thawed the container itself
// (kill --all does, for a SIGKILL), fail as conflicts, which the API
// answers with 409, not as the runtime's unclassified error (500).
func TestCallsAfterExitConflict(t *testing.T) {
	for _, r := range runtimes(t) {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			thawed := newContainer(t, r, "sleep", "100")
			tcl := thawed.create()
			if _, err := tcl.Start(ctx(t)); err != nil {
				t.Fatal(err)
			}
			if err := tcl.Pause(ctx(t)); err != nil {
				t.Fatal(err)
			}
			if out, err := commandOutput(r.bin, "--root", thawed.cfg.RuntimeRoot, "resume", thawed.cfg.ID); err != nil {
				t.Fatalf("resume behind the shim's back: %v: %s", err, out)
			}
			if err := tcl.Resume(ctx(t)); !errdefs.IsConflict(err) {
				t.Errorf("resume of a container thawed meanwhile: %v, want a conflict", err)
			}

			c := newContainer(t, r, "true")
			cl := c.create()
			if _, err := cl.Start(ctx(t)); err != nil {
				t.Fatal(err)
			}
			if _, err := cl.Wait(ctx(t)); err != nil {
				t.Fatal(err)
			}
			limit := int64(32 << 20)
			for name, call := range map[string]func() error{
				"pause":  func() error { return cl.Pause(ctx(t)) },
				"resume": func() error { return cl.Resume(ctx(t)) },
				"update": func() error {
					return cl.Update(ctx(t), &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}})
				},
			} {
				if err := call(); !errdefs.IsConflict(err) {
					t.Errorf("%s after the exit: %v, want a conflict", name, err)
				}
			}
		})
	}
}

func TestOOMKilled(t *testing.T) {
	for _, r := range runtimes(t) {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			// tail keeps a line of zeros that never ends in memory.
			c := newContainer(t, r, "tail", "/dev/zero")
			limit := int64(16 << 20)
			c.spec.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
			cl := c.create()
			if _, err := cl.Start(ctx(t)); err != nil {
				t.Fatal(err)
			}
			exit, err := cl.Wait(ctx(t))
			if err != nil || exit.Code != 137 || !exit.OOMKilled {
				t.Fatalf("wait: %+v %v", exit, err)
			}
			if rec, ok, err := shim.ReadExit(c.cfg.StateDir); err != nil || !ok || !rec.OOMKilled {
				t.Fatalf("exit.json: %+v %v %v", rec, ok, err)
			}
		})
	}
}

func TestCreateFailure(t *testing.T) {
	for _, r := range runtimes(t) {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			c := newContainer(t, r, "true")
			c.spec.Root.Path = "no-such-rootfs"
			c.spec.Process.Terminal = false
			c.writeSpec()
			_, err := shim.Start(ctx(t), c.cfg)
			if err == nil {
				t.Fatal("Start succeeded without a rootfs")
			}
			if !strings.Contains(err.Error(), "no-such-rootfs") {
				t.Errorf("error does not name the problem: %v", err)
			}
			// No shim is left behind.
			if _, err := shim.Connect(ctx(t), c.cfg.StateDir); err == nil {
				t.Fatal("a shim still serves")
			}
		})
	}
}

func TestBadConfig(t *testing.T) {
	testenvRoot(t)
	cases := []shim.Config{
		{},
		{ID: "a/b", Bundle: "/x", StateDir: "/y", Runtime: "runc", LogDriver: "none"},
		{ID: "a", Bundle: "rel", StateDir: "/y", Runtime: "runc", LogDriver: "none"},
		{ID: "a", Bundle: "/x", StateDir: "/y", Runtime: "runc", LogDriver: "json-file", LogPath: "/l", LogOpts: map[string]string{"max-size": "-3"}},
		{ID: "a", Bundle: "/x", StateDir: "/y", Runtime: "runc", LogDriver: "syslog", LogPath: "/l"},
	}
	for _, cfg := range cases {
		if _, err := shim.Start(ctx(t), cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}
