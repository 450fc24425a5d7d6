package shim_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestKillAll: SIGKILL to every process of a container with its own pid
// namespace is the shim's SIGKILL to the init (the kernel ends the rest);
// without one it is still the runtime's `kill --all`. Either way nothing
// of the container is left.
func TestKillAll(t *testing.T) {
	berth := runtimes(t)[0]
	for _, ownPidNS := range []bool{true, false} {
		name := "own-pidns"
		if !ownPidNS {
			name = "host-pidns"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newContainer(t, berth, "sh", "-c", "sleep 1000 & sleep 1000 & wait")
			if !ownPidNS {
				var ns []specs.LinuxNamespace
				for _, n := range c.spec.Linux.Namespaces {
					if n.Type != specs.PIDNamespace {
						ns = append(ns, n)
					}
				}
				c.spec.Linux.Namespaces = ns
			}
			var log string
			c.cfg.Runtime, log = recordingRuntime(t, berth.bin)
			cl := c.create()
			if _, err := cl.Start(ctx(t)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "three processes", func() bool {
				pids, err := cl.Pids(ctx(t))
				return err == nil && len(pids) == 3
			})
			cgroups := cgroupDirsOf(t, c.spec.Linux.CgroupsPath)
			if err := cl.Kill(ctx(t), syscall.SIGKILL, true); err != nil {
				t.Fatal(err)
			}
			exit, err := cl.Wait(ctx(t))
			if err != nil || exit.Code != 137 {
				t.Fatalf("wait: %+v %v", exit, err)
			}
			if ran := ranCommand(t, log, "kill"); ran == ownPidNS {
				t.Fatalf("runtime kill run: %v, want %v; commands:\n%s", ran, !ownPidNS, readFile(t, log))
			}
			if err := cl.Delete(ctx(t)); err != nil {
				t.Fatal(err)
			}
			c.client = nil
			deadline := time.Now().Add(5 * time.Second)
			for _, d := range cgroups {
				for {
					_, err := os.Stat(filepath.Join(d, "cgroup.procs"))
					if os.IsNotExist(err) {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("cgroup %s left (processes survived?)", d)
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
}
