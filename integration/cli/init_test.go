package cli_test

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testenv"
)

// initThreads is the most threads `run --init`'s init may have while it
// supervises (berth-init's floor, internal/initproc; docker-init has 1):
// every one counts against --pids-limit.
const initThreads = 5

// TestInit runs `docker run --init` containers and looks at the init from
// the host: its thread count, and a --pids-limit that tini fits in.
func TestInit(t *testing.T) {
	t.Parallel()
	e := startEngine(t)
	c := clients()[0].resolve(t)

	t.Run("threads", func(t *testing.T) {
		t.Parallel()
		name := testenv.UniqueName(t, "initthreads")
		t.Cleanup(func() { e.run(t, c, nil, "rm", "-f", name) })
		e.must(t, c, "run", "-d", "--init", "--name", name, "busybox", "sh", "-c", "trap 'echo usr1' USR1; while :; do sleep 1; done")
		pid := e.must(t, c, "inspect", "-f", "{{.State.Pid}}", name)
		// The init ends its spare threads just after it has started the
		// command.
		var threads string
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			b, err := os.ReadFile("/proc/" + pid + "/status")
			if err != nil {
				t.Fatal(err)
			}
			_, rest, _ := strings.Cut(string(b), "\nThreads:")
			threads, _, _ = strings.Cut(strings.TrimSpace(rest), "\n")
			if n, err := strconv.Atoi(threads); err == nil && n <= initThreads {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the init (pid %s) has %s threads, want at most %d", pid, threads, initThreads)
			}
		}
		// Nor does it start more when it has work: signals, a reaped child.
		// (The first count may be taken just after the exec, before the
		// Go runtime's own threads: compare with the bound, not with it.)
		e.must(t, c, "kill", "-s", "USR1", name)
		e.must(t, c, "exec", name, "true")
		time.Sleep(200 * time.Millisecond)
		b, err := os.ReadFile("/proc/" + pid + "/status")
		if err != nil {
			t.Fatal(err)
		}
		_, rest, _ := strings.Cut(string(b), "\nThreads:")
		after, _, _ := strings.Cut(strings.TrimSpace(rest), "\n")
		if n, err := strconv.Atoi(after); err != nil || n > initThreads {
			t.Errorf("the init's threads went from %s to more than %d:\n%s", threads, initThreads, b)
		}
	})

	// Docker's tini, the shell and its two sleeps fit in 4 pids. The init's
	// threads do not: berth-init says so and runs the command without
	// itself rather than crash.
	t.Run("pids-limit", func(t *testing.T) {
		t.Parallel()
		for _, limit := range []string{"4", "8"} {
			r := e.run(t, c, nil, "run", "--rm", "--init", "--pids-limit", limit, "busybox",
				"sh", "-c", "sleep 0.1 & sleep 0.1 & wait; echo done")
			if r.exit != 0 || r.stdout != "done\n" || strings.Contains(r.stderr, "runtime:") {
				t.Errorf("--pids-limit %s: want done, exit 0:\n%s", limit, r)
			}
		}
	})
}
