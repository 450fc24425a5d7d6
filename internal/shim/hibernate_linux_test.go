package shim_test

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/shim"
)

// hibernateSoon is the idle time of the tests' shims.
const hibernateSoon = 150 * time.Millisecond

// shimPid reads the shim's pid file.
func shimPid(t *testing.T, c *container) int {
	t.Helper()
	b, err := readShimPid(c.cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// hibernating reports whether process pid runs the keeper.
func hibernating(pid int) bool {
	exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	return err == nil && filepath.Base(exe) == "berth-shim-keeper"
}

// statusKiB reads a field of /proc/PID/status, in KiB.
func statusKiB(t *testing.T, pid int, field string) int {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// TestHibernate: an idle shim hands over to the keeper (same pid, a few
// pages of memory) and comes back for everything: output (logged in
// order), a call, pause and resume, a signal; the client that waited
// across all of it gets the exit status.
func TestHibernate(t *testing.T) {
	for _, r := range runtimes(t) {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			c := newContainer(t, r, "sh", "-c", "trap 'echo three; exit 7' TERM; echo one; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo two; while true; do sleep 0.05; done")
			c.cfg.HibernateAfter = hibernateSoon
			cl := c.create()
			waited := make(chan shim.ExitStatus, 1)
			go func() {
				st, err := cl.Wait(ctx(t))
				if err != nil {
					t.Errorf("wait: %v", err)
				}
				waited <- st
			}()
			initPid, err := cl.Start(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			pid := shimPid(t, c)
			asleep := func(what string) {
				t.Helper()
				waitFor(t, what, func() bool { return hibernating(pid) })
			}
			asleep("hibernation after the start")
			rss := statusKiB(t, pid, "RssAnon")
			t.Logf("hibernated shim: RssAnon %d KiB, VmPTE %d KiB, threads: keeper", rss, statusKiB(t, pid, "VmPTE"))
			if rss > 64 {
				t.Errorf("the hibernated shim holds %d KiB of anonymous memory", rss)
			}
			// On x86-64 the keeper unmaps its stack and the vDSO: only
			// its binary's page tables are left.
			if pte := statusKiB(t, pid, "VmPTE"); goruntime.GOARCH == "amd64" && pte > 16 {
				t.Errorf("the hibernated shim's page tables take %d KiB", pte)
			}

			// Output wakes it; the log keeps the order.
			if err := os.WriteFile(filepath.Join(c.rootfs, "tmp/go"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the second line in the log", func() bool { return len(readLog(t, c.cfg.LogPath)) == 2 })
			asleep("hibernation after the output")

			// A call wakes it.
			st, err := cl.State(ctx(t))
			if err != nil || st.Status != shim.StatusRunning || st.Pid != initPid {
				t.Fatalf("state of a hibernated shim: %+v %v", st, err)
			}
			if shimPid(t, c) != pid {
				t.Fatal("the shim changed pid")
			}
			asleep("hibernation after a call")
			if err := cl.Pause(ctx(t)); err != nil {
				t.Fatal(err)
			}
			asleep("hibernation while paused")
			if st, err := cl.State(ctx(t)); err != nil || st.Status != shim.StatusPaused {
				t.Fatalf("paused, after hibernation: %+v %v", st, err)
			}
			if err := cl.Resume(ctx(t)); err != nil {
				t.Fatal(err)
			}
			asleep("hibernation after the resume")
			if err := cl.Kill(ctx(t), syscall.SIGTERM, false); err != nil {
				t.Fatal(err)
			}
			select {
			case st := <-waited:
				if st.Code != 7 {
					t.Fatalf("exit %+v, want 7", st)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("the waiting client got no exit status")
			}
			var lines []string
			for _, m := range readLog(t, c.cfg.LogPath) {
				lines = append(lines, string(m.Line))
			}
			if got := strings.Join(lines, ""); got != "one\ntwo\nthree\n" {
				t.Fatalf("log %q", got)
			}
		})
	}
}

// TestHibernatedExit: the container ends while its shim hibernates; the
// child's exit wakes it and the status is recorded and delivered.
func TestHibernatedExit(t *testing.T) {
	r := runtimes(t)[0]
	c := newContainer(t, r, "sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.05; done; exit 3")
	c.cfg.HibernateAfter = hibernateSoon
	cl := c.create()
	if _, err := cl.Start(ctx(t)); err != nil {
		t.Fatal(err)
	}
	pid := shimPid(t, c)
	waitFor(t, "hibernation", func() bool { return hibernating(pid) })
	// No client waits: the exit must be recorded all the same.
	cl.Close()
	if err := os.WriteFile(filepath.Join(c.rootfs, "tmp/go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the exit file", func() bool {
		st, ok, err := shim.ReadExit(c.cfg.StateDir)
		return err == nil && ok && st.Code == 3
	})
	cl2, err := shim.Connect(ctx(t), c.cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	c.client = cl2
	if st, err := cl2.Wait(ctx(t)); err != nil || st.Code != 3 {
		t.Fatalf("wait: %+v %v", st, err)
	}
}

// TestHibernateTerminal: a shell on a terminal, with stdin open, whose
// shim hibernated: a client attaches (waking it), types, reads the
// answer, detaches, and the shim hibernates again; the pipe variant keeps
// the stdin the shim handed over.
func TestHibernateTerminal(t *testing.T) {
	for _, terminal := range []bool{true, false} {
		t.Run(map[bool]string{true: "tty", false: "pipes"}[terminal], func(t *testing.T) {
			t.Parallel()
			r := runtimes(t)[0]
			c := newContainer(t, r, "sh")
			c.cfg.Terminal, c.cfg.OpenStdin = terminal, true
			c.cfg.HibernateAfter = hibernateSoon
			cl := c.create()
			if _, err := cl.Start(ctx(t)); err != nil {
				t.Fatal(err)
			}
			pid := shimPid(t, c)
			waitFor(t, "hibernation", func() bool { return hibernating(pid) })
			for i, word := range []string{"hey", "again"} {
				inR, inW := io.Pipe()
				var out syncBuffer
				res := attach(t, cl, shim.AttachOptions{Stdin: inR, Stdout: &out})
				if _, err := io.WriteString(inW, "echo "+word+"$((1+"+strconv.Itoa(i)+"))\n"); err != nil {
					t.Fatal(err)
				}
				want := word + strconv.Itoa(1+i)
				waitFor(t, "the answer "+want, func() bool { return strings.Contains(out.String(), want) })
				inW.Close()
				if terminal {
					// The end of a terminal's input ends this attach.
					<-res
				} else {
					cl.Close()
					<-res
					cl2, err := shim.Connect(ctx(t), c.cfg.StateDir)
					if err != nil {
						t.Fatal(err)
					}
					c.client, cl = cl2, cl2
				}
				waitFor(t, "hibernation after the attach", func() bool { return hibernating(pid) })
			}
		})
	}
}

// TestHibernateClosedStdout: a container that closed its stdout (the
// stream ended) but writes to stderr: the shim hibernates and wakes
// again and again with one stream.
func TestHibernateClosedStdout(t *testing.T) {
	r := runtimes(t)[0]
	c := newContainer(t, r, "sh", "-c", "exec 1>&-; trap 'echo bye >&2; exit 4' TERM; while true; do sleep 0.05; done")
	c.cfg.HibernateAfter = hibernateSoon
	cl := c.create()
	if _, err := cl.Start(ctx(t)); err != nil {
		t.Fatal(err)
	}
	pid := shimPid(t, c)
	for range 3 {
		waitFor(t, "hibernation", func() bool { return hibernating(pid) })
		if st, err := cl.State(ctx(t)); err != nil || st.Status != shim.StatusRunning {
			t.Fatalf("state: %+v %v", st, err)
		}
	}
	waitFor(t, "hibernation", func() bool { return hibernating(pid) })
	if err := cl.Kill(ctx(t), syscall.SIGTERM, false); err != nil {
		t.Fatal(err)
	}
	if st, err := cl.Wait(ctx(t)); err != nil || st.Code != 4 {
		t.Fatalf("wait: %+v %v", st, err)
	}
	if msgs := readLog(t, c.cfg.LogPath); len(msgs) != 1 || string(msgs[0].Line) != "bye\n" || msgs[0].Stream != "stderr" {
		t.Fatalf("log %+v", msgs)
	}
}
