package shim_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/shim"
	"github.com/berth-project/berth/internal/testenv"
	"golang.org/x/sys/unix"
)

// The daemon goes away and comes back: the container keeps running and
// logging meanwhile, and a new client waits for it.
func TestReconnect(t *testing.T) {
	for _, r := range runtimes(t) {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			c := newContainer(t, r, "sh", "-c", "echo one; while [ ! -e /tmp/go ]; do sleep 0.02; done; echo two; exit 5")
			cl := c.create()
			var out syncBuffer
			res := attach(t, cl, shim.AttachOptions{Stdout: &out})
			if _, err := cl.Start(ctx(t)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "first line", func() bool { return out.String() == "one\n" })
			cl.Close()
			if err := <-res; err == nil || !errdefs.IsUnavailable(err) {
				t.Fatalf("attach after Close: %v", err)
			}
			// Output while nobody is connected still reaches the log.
			if err := os.WriteFile(filepath.Join(c.rootfs, "tmp/go"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			cl2, err := shim.Connect(ctx(t), c.cfg.StateDir)
			if err != nil {
				t.Fatal(err)
			}
			c.client = cl2
			exit, err := cl2.Wait(ctx(t))
			if err != nil || exit.Code != 5 {
				t.Fatalf("wait after reconnect: %+v %v", exit, err)
			}
			var lines []string
			for _, m := range readLog(t, c.cfg.LogPath) {
				lines = append(lines, string(m.Line))
			}
			if strings.Join(lines, "") != "one\ntwo\n" {
				t.Fatalf("log %q", lines)
			}
			// Connect after the container exited still works until Delete.
			cl3, err := shim.Connect(ctx(t), c.cfg.StateDir)
			if err != nil {
				t.Fatal(err)
			}
			if exit, err := cl3.Wait(ctx(t)); err != nil || exit.Code != 5 {
				t.Fatalf("wait on a third client: %+v %v", exit, err)
			}
			cl3.Close()
		})
	}
}

// The shim is SIGKILLed under a running container: Connect says the shim
// is gone, and the container is killed, deleted and reported as such.
func TestShimKilled(t *testing.T) {
	for _, r := range runtimes(t) {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			c := newContainer(t, r, "sleep", "100")
			cl := c.create()
			initPid, err := cl.Start(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			pidfd, err := unix.PidfdOpen(initPid, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(pidfd)
			data, err := readShimPid(c.cfg.StateDir)
			if err != nil {
				t.Fatal(err)
			}
			shimPid, _ := strconv.Atoi(string(data))
			if err := syscall.Kill(shimPid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			// As soon as it is a zombie: its last threads may still be
			// exiting and holding its files.
			waitFor(t, "the shim to die", func() bool { return syscall.Kill(shimPid, 0) != nil || testenv.IsZombie(shimPid) })
			cl.Close()
			c.client = nil
			if _, err := shim.Connect(ctx(t), c.cfg.StateDir); !errdefs.IsNotFound(err) {
				t.Fatalf("connect to a dead shim: %v", err)
			}
			exit, ok, err := shim.ReadExit(c.cfg.StateDir)
			if err != nil || !ok || exit.Code != 137 || !exit.Lost || exit.Signal != "SIGKILL" {
				t.Fatalf("ReadExit: %+v %v %v", exit, ok, err)
			}
			// The container's init is dead and the runtime forgot it.
			pfd := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
			if n, err := unix.Poll(pfd, 5000); n != 1 || err != nil {
				t.Fatalf("container init %d still running", initPid)
			}
			if out, err := runtimeState(r, c); err == nil {
				t.Fatalf("runtime still knows the container: %s", out)
			}
		})
	}
}

func runtimeState(r rt, c *container) ([]byte, error) {
	return commandOutput(r.bin, "--root", c.cfg.RuntimeRoot, "state", c.cfg.ID)
}

// A shim killed after the container exited: the recorded exit stands.
func TestShimKilledAfterExit(t *testing.T) {
	r := runtimes(t)[0]
	c := newContainer(t, r, "sh", "-c", "exit 9")
	cl := c.create()
	if _, err := cl.Start(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Wait(ctx(t)); err != nil {
		t.Fatal(err)
	}
	data, _ := readShimPid(c.cfg.StateDir)
	shimPid, _ := strconv.Atoi(string(data))
	syscall.Kill(shimPid, syscall.SIGKILL)
	waitFor(t, "the shim to die", func() bool { return syscall.Kill(shimPid, 0) != nil || testenv.IsZombie(shimPid) })
	cl.Close()
	c.client = nil
	if _, err := shim.Connect(ctx(t), c.cfg.StateDir); !errdefs.IsNotFound(err) {
		t.Fatalf("connect: %v", err)
	}
	exit, ok, err := shim.ReadExit(c.cfg.StateDir)
	if err != nil || !ok || exit.Code != 9 || exit.Lost {
		t.Fatalf("ReadExit: %+v %v %v", exit, ok, err)
	}
}

// Delete of a running container: a pending Wait hears of the exit before
// the shim goes.
func TestDeleteRunning(t *testing.T) {
	for _, r := range runtimes(t) {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			c := newContainer(t, r, "sleep", "100")
			cl := c.create()
			if _, err := cl.Start(ctx(t)); err != nil {
				t.Fatal(err)
			}
			type result struct {
				exit shim.ExitStatus
				err  error
			}
			waits := make(chan result, 3)
			for range 3 {
				go func() {
					e, err := cl.Wait(ctx(t))
					waits <- result{e, err}
				}()
			}
			waitFor(t, "the waits to be pending", func() bool {
				st, _ := cl.State(ctx(t))
				return st.Status == shim.StatusRunning
			})
			if err := cl.Delete(ctx(t)); err != nil {
				t.Fatal(err)
			}
			c.client = nil
			for range 3 {
				if w := <-waits; w.err != nil || w.exit.Code != 137 {
					t.Fatalf("wait: %+v %v", w.exit, w.err)
				}
			}
			// A container deleted before it started.
			c2 := newContainer(t, r, "true")
			cl2 := c2.create()
			if err := cl2.Delete(ctx(t)); err != nil {
				t.Fatal(err)
			}
			c2.client = nil
			if out, err := runtimeState(r, c2); err == nil {
				t.Fatalf("runtime still knows the container: %s", out)
			}
		})
	}
}

// A restart: a new shim in the same state directory, appending to the same
// log; the old exit record is gone while the new container runs.
func TestRestartInSameStateDir(t *testing.T) {
	r := runtimes(t)[0]
	c := newContainer(t, r, "sh", "-c", "echo run; exit 2")
	for round := range 2 {
		cl := c.create()
		if _, ok, err := shim.ReadExit(c.cfg.StateDir); ok || err != nil {
			t.Fatalf("round %d: an exit is recorded before the start (%v)", round, err)
		}
		if _, err := cl.Start(ctx(t)); err != nil {
			t.Fatal(err)
		}
		if exit, err := cl.Wait(ctx(t)); err != nil || exit.Code != 2 {
			t.Fatalf("round %d: %+v %v", round, exit, err)
		}
		if err := cl.Delete(ctx(t)); err != nil {
			t.Fatal(err)
		}
		c.client = nil
	}
	if n := len(readLog(t, c.cfg.LogPath)); n != 2 {
		t.Fatalf("log has %d entries after two runs", n)
	}
	// A second shim on a live state directory is refused.
	cl := c.create()
	if _, err := shim.Start(ctx(t), c.cfg); !errdefs.IsConflict(err) {
		t.Fatalf("second shim on a live state dir: %v", err)
	}
	if st, err := cl.State(ctx(t)); err != nil || st.Status != shim.StatusCreated {
		t.Fatalf("first shim after the refused second: %+v %v", st, err)
	}
}
