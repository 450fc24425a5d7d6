package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/berth-project/berth/internal/testenv"
	"github.com/berth-project/berth/internal/testenv/daemontest"
)

// stressBinaryEnv names a berthd to stress instead of bin/berthd: one
// built with -race (with a race-built berth-shim, berth-runtime and
// berth-init beside it) turns the test into a data-race hunt. Race reports
// go to files under the test's root (GORACE log_path) and fail the test.
const stressBinaryEnv = "BERTH_STRESS_BERTHD"

// stressOpTimeout bounds one API call: a call that takes longer is a hang.
const stressOpTimeout = 20 * time.Second

// stressExecGrace is how long an exec's `echo hi` may take to end.
const stressExecGrace = 5 * time.Second

// TestStressConcurrentLifecycle drives one berthd with conflicting
// operations on the same containers from several goroutines at once
// (start, stop, kill, restart, pause, unpause, rename, update, exec,
// attach, logs -f, wait, inspect, ps, rm -f), beside run --rm bursts,
// restart-always containers that exit at once, a health check that flips,
// an OOM kill and an events stream, with a SIGKILL and restart of the
// daemon in the middle, and shims that hibernate after 30 ms of quiet. No call may hang or answer 5xx, and once
// everything is removed nothing may be left: no container processes or
// shims, mounts, cgroups, snapshots, records, or descriptors in the
// daemon.
func TestStressConcurrentLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("stress test: skipped with -short")
	}
	raceDir := t.TempDir()
	// Shims hibernate after 30 ms of quiet: every container's shim goes
	// to sleep and wakes again many times amid the conflicting calls.
	opts := []daemontest.Option{daemontest.WithArgs("--shim-hibernate-after", "30ms")}
	if bin := os.Getenv(stressBinaryEnv); bin != "" {
		opts = append(opts, daemontest.WithBinary(bin),
			daemontest.WithEnv("GORACE=log_path="+filepath.Join(raceDir, "race")))
	}
	d := daemontest.Start(t, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := newClient(t, d.Host())
	loadBusybox(ctx, t, c)
	s := &stress{t: t, d: d}
	s.setClient(c)

	baseline := s.snapshotState(ctx)

	// Containers every worker acts on at once.
	const shared = 4
	loop := "trap 'exit 3' TERM; while true; do echo tick; sleep 0.05; done"
	ids := make([]string, shared)
	for i := range ids {
		ids[i] = s.mustCreate(ctx, fmt.Sprintf("st-%d", i), &containertypes.Config{
			Image: "busybox", Cmd: []string{"sh", "-c", loop}, OpenStdin: true,
		}, nil)
		s.api(ctx, "start", func(ctx context.Context, c *client.Client) error {
			_, err := c.ContainerStart(ctx, ids[i], client.ContainerStartOptions{})
			return err
		})
	}
	// Containers that exit at once under restart=always.
	for i := range 2 {
		id := s.mustCreate(ctx, fmt.Sprintf("st-always-%d", i), &containertypes.Config{
			Image: "busybox", Cmd: []string{"true"},
		}, &containertypes.HostConfig{RestartPolicy: containertypes.RestartPolicy{Name: "always"}})
		s.api(ctx, "start", func(ctx context.Context, c *client.Client) error {
			_, err := c.ContainerStart(ctx, id, client.ContainerStartOptions{})
			return err
		})
	}
	// A health check that flips every second.
	flip := s.mustCreate(ctx, "st-health", &containertypes.Config{
		Image: "busybox", Cmd: []string{"sleep", "1000"},
		Healthcheck: &containertypes.HealthConfig{
			Test:     []string{"CMD-SHELL", "test $(( $(date +%s) % 2 )) = 0"},
			Interval: 100 * time.Millisecond, Timeout: time.Second, Retries: 1,
		},
	}, nil)
	s.api(ctx, "start", func(ctx context.Context, c *client.Client) error {
		_, err := c.ContainerStart(ctx, flip, client.ContainerStartOptions{})
		return err
	})
	// One killed by the OOM killer.
	oom := s.mustCreate(ctx, "st-oom", &containertypes.Config{
		Image: "busybox", Cmd: []string{"tail", "/dev/zero"},
	}, &containertypes.HostConfig{Resources: containertypes.Resources{Memory: 8 << 20, MemorySwap: 8 << 20}})
	s.api(ctx, "start", func(ctx context.Context, c *client.Client) error {
		_, err := c.ContainerStart(ctx, oom, client.ContainerStartOptions{})
		return err
	})

	evCtx, evCancel := context.WithCancel(ctx)
	var evWG sync.WaitGroup
	evWG.Add(1)
	go func() {
		defer evWG.Done()
		s.streamEvents(evCtx)
	}()

	const phase = 6 * time.Second
	work := func(until time.Time) {
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
				for time.Now().Before(until) && ctx.Err() == nil {
					s.randomOp(ctx, r, ids)
				}
			}()
		}
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(until) && ctx.Err() == nil {
					s.runRm(ctx)
				}
			}()
		}
		wg.Wait()
	}
	work(time.Now().Add(phase))

	// A crash in the middle of it all, then more of the same on the
	// restored daemon.
	crashDone := make(chan struct{})
	go func() {
		defer close(crashDone)
		work(time.Now().Add(2 * time.Second))
	}()
	time.Sleep(time.Second)
	s.down.Store(true)
	d.Kill(t)
	<-crashDone
	evCancel()
	evWG.Wait()
	d.Restart(t)
	c = newClient(t, d.Host())
	s.setClient(c)
	s.down.Store(false)
	evCtx, evCancel = context.WithCancel(ctx)
	evWG.Add(1)
	go func() {
		defer evWG.Done()
		s.streamEvents(evCtx)
	}()
	work(time.Now().Add(phase))
	evCancel()
	evWG.Wait()

	// The OOM kill is recorded as docker records it.
	in, err := c.ContainerInspect(ctx, oom, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatalf("inspect st-oom: %v", err)
	}
	if st := in.Container.State; st.Running || !st.OOMKilled || st.ExitCode != 137 {
		t.Errorf("st-oom: running=%v oomkilled=%v exit=%d, want an OOM kill (137)", st.Running, st.OOMKilled, st.ExitCode)
	}

	// What inspect says agrees with the host, for every container left.
	s.checkStates(ctx)
	// The restart-always containers went on restarting across the crash,
	// and the health check was run.
	for _, name := range []string{"st-always-0", "st-always-1"} {
		in, err := c.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatalf("inspect %s: %v", name, err)
		}
		if in.Container.RestartCount == 0 {
			t.Errorf("%s: never restarted (state %+v)", name, in.Container.State)
		}
	}
	if in, err := c.ContainerInspect(ctx, flip, client.ContainerInspectOptions{}); err != nil {
		t.Fatal(err)
	} else if h := in.Container.State.Health; h == nil || len(h.Log) == 0 {
		t.Errorf("st-health: no health check ran: %+v", h)
	}

	// Remove everything, then nothing may be left.
	list, err := c.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range list.Items {
		s.api(ctx, "rm -f", func(ctx context.Context, c *client.Client) error {
			_, err := c.ContainerRemove(ctx, ct.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
			if cerrdefs.IsNotFound(err) {
				return nil
			}
			return err
		})
	}
	list, err = c.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range list.Items {
		t.Errorf("left after rm -f of all: %s %s %s", ct.ID[:12], ct.Names, ct.State)
	}
	s.checkLeaks(ctx, baseline)
	s.report(raceDir)
}

// stress is the shared state of one stress run.
type stress struct {
	t    *testing.T
	d    *daemontest.Daemon
	mu   sync.Mutex
	c    *client.Client
	down atomic.Bool // the daemon is being killed: connection errors are expected

	failMu   sync.Mutex
	failures []string
	ops      atomic.Int64
	events   atomic.Int64
}

func (s *stress) setClient(c *client.Client) {
	s.mu.Lock()
	s.c = c
	s.mu.Unlock()
}

func (s *stress) client() *client.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c
}

func (s *stress) fail(format string, args ...any) {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	if len(s.failures) < 50 {
		s.failures = append(s.failures, fmt.Sprintf(format, args...))
	}
}

// api runs one call with a timeout and records hangs and server errors;
// client errors (404, 409, 400) are the expected answers to conflicts.
func (s *stress) api(ctx context.Context, what string, f func(context.Context, *client.Client) error) error {
	s.ops.Add(1)
	cctx, cancel := context.WithTimeout(ctx, stressOpTimeout)
	defer cancel()
	err := f(cctx, s.client())
	switch {
	case err == nil:
	case s.down.Load():
		// Anything may fail while the daemon is being killed; don't spin
		// on refused connections.
		time.Sleep(20 * time.Millisecond)
	case cctx.Err() != nil && ctx.Err() == nil:
		s.fail("%s: no answer within %v: %v", what, stressOpTimeout, err)
	case cerrdefs.IsInternal(err), cerrdefs.IsUnknown(err), client.IsErrConnectionFailed(err):
		s.fail("%s: %v", what, err)
	}
	return err
}

func (s *stress) mustCreate(ctx context.Context, name string, cfg *containertypes.Config, hc *containertypes.HostConfig) string {
	s.t.Helper()
	resp, err := s.client().ContainerCreate(ctx, client.ContainerCreateOptions{Name: name, Config: cfg, HostConfig: hc})
	if err != nil {
		s.t.Fatalf("create %s: %v", name, err)
	}
	return resp.ID
}

// randomOp does one operation on one of the shared containers.
func (s *stress) randomOp(ctx context.Context, r *rand.Rand, ids []string) {
	id := ids[r.IntN(len(ids))]
	one := 1
	op := r.IntN(18)
	if op >= 16 {
		op = 0 // starts twice as often: the others need it running
	}
	switch op {
	case 0:
		s.api(ctx, "start", func(ctx context.Context, c *client.Client) error {
			_, err := c.ContainerStart(ctx, id, client.ContainerStartOptions{})
			return err
		})
	case 1:
		s.api(ctx, "stop", func(ctx context.Context, c *client.Client) error {
			_, err := c.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &one})
			return err
		})
	case 2:
		s.api(ctx, "kill", func(ctx context.Context, c *client.Client) error {
			_, err := c.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "KILL"})
			return err
		})
	case 3:
		s.api(ctx, "restart", func(ctx context.Context, c *client.Client) error {
			_, err := c.ContainerRestart(ctx, id, client.ContainerRestartOptions{Timeout: &one})
			return err
		})
	case 4:
		s.api(ctx, "pause", func(ctx context.Context, c *client.Client) error {
			_, err := c.ContainerPause(ctx, id, client.ContainerPauseOptions{})
			return err
		})
	case 5:
		s.api(ctx, "unpause", func(ctx context.Context, c *client.Client) error {
			_, err := c.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{})
			return err
		})
	case 6:
		name := fmt.Sprintf("st-renamed-%d", r.IntN(6))
		s.api(ctx, "rename", func(ctx context.Context, c *client.Client) error {
			_, err := c.ContainerRename(ctx, id, client.ContainerRenameOptions{NewName: name})
			return err
		})
	case 7:
		s.api(ctx, "update", func(ctx context.Context, c *client.Client) error {
			_, err := c.ContainerUpdate(ctx, id, client.ContainerUpdateOptions{
				Resources: &containertypes.Resources{CPUShares: int64(2 + r.IntN(1000)), PidsLimit: ptr(int64(100 + r.IntN(100)))},
			})
			return err
		})
	case 8:
		s.api(ctx, "exec", func(ctx context.Context, c *client.Client) error {
			ex, err := c.ExecCreate(ctx, id, client.ExecCreateOptions{Cmd: []string{"echo", "hi"}, AttachStdout: true, AttachStderr: true})
			if err != nil {
				return err
			}
			att, err := c.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
			if err != nil {
				return err
			}
			defer att.Close()
			// A pause that lands between the exec's start and its end
			// freezes it, as dockerd's would be, until an unpause that
			// may never come: the output is given some time, then the
			// container must be paused for it not to have ended.
			_ = att.Conn.SetReadDeadline(time.Now().Add(stressExecGrace))
			if _, err := io.Copy(io.Discard, att.Reader); err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
				insp, ierr := c.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
				if ierr == nil && insp.Container.State != nil && !insp.Container.State.Paused {
					s.fail("exec: its output did not end within %v, and the container is not paused", stressExecGrace)
				}
				return nil
			}
			_, err = c.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
			return err
		})
	case 9:
		s.api(ctx, "attach", func(ctx context.Context, c *client.Client) error {
			att, err := c.ContainerAttach(ctx, id, client.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
			if err != nil {
				return err
			}
			defer att.Close()
			_ = att.Conn.SetReadDeadline(time.Now().Add(time.Duration(50+r.IntN(300)) * time.Millisecond))
			_, _ = io.Copy(io.Discard, att.Reader)
			return nil
		})
	case 10:
		s.api(ctx, "logs -f", func(ctx context.Context, c *client.Client) error {
			lctx, cancel := context.WithTimeout(ctx, time.Duration(50+r.IntN(300))*time.Millisecond)
			defer cancel()
			rc, err := c.ContainerLogs(lctx, id, client.ContainerLogsOptions{ShowStdout: true, Follow: true, Tail: "5"})
			if err != nil {
				if lctx.Err() != nil {
					return nil
				}
				return err
			}
			defer rc.Close()
			_, _ = io.Copy(io.Discard, rc)
			return nil
		})
	case 11:
		s.api(ctx, "wait", func(ctx context.Context, c *client.Client) error {
			wctx, cancel := context.WithTimeout(ctx, time.Duration(50+r.IntN(500))*time.Millisecond)
			defer cancel()
			w := c.ContainerWait(wctx, id, client.ContainerWaitOptions{Condition: containertypes.WaitConditionNotRunning})
			select {
			case <-w.Result:
			case err := <-w.Error:
				if wctx.Err() == nil {
					return err
				}
			}
			return nil
		})
	case 12:
		s.api(ctx, "inspect", func(ctx context.Context, c *client.Client) error {
			_, err := c.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
			return err
		})
	case 13:
		s.api(ctx, "ps", func(ctx context.Context, c *client.Client) error {
			_, err := c.ContainerList(ctx, client.ContainerListOptions{All: true})
			return err
		})
	case 14:
		s.api(ctx, "kill -s TERM", func(ctx context.Context, c *client.Client) error {
			_, err := c.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "TERM"})
			return err
		})
	case 15:
		// A throwaway container removed by force while it starts.
		s.api(ctx, "create+start+rm -f", func(ctx context.Context, c *client.Client) error {
			resp, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{
				Config: &containertypes.Config{Image: "busybox", Cmd: []string{"sleep", "100"}},
			})
			if err != nil {
				return err
			}
			done := make(chan error, 1)
			go func() {
				_, err := c.ContainerStart(ctx, resp.ID, client.ContainerStartOptions{})
				done <- err
			}()
			time.Sleep(time.Duration(r.IntN(20)) * time.Millisecond)
			_, rmErr := c.ContainerRemove(ctx, resp.ID, client.ContainerRemoveOptions{Force: true})
			startErr := <-done
			if startErr != nil && !cerrdefs.IsNotFound(startErr) && !cerrdefs.IsConflict(startErr) {
				return fmt.Errorf("start: %w", startErr)
			}
			return rmErr
		})
	}
}

// runRm is docker run --rm echo: create, attach, start, wait for removal.
func (s *stress) runRm(ctx context.Context) {
	s.api(ctx, "run --rm", func(ctx context.Context, c *client.Client) error {
		resp, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{
			Config:     &containertypes.Config{Image: "busybox", Cmd: []string{"echo", "hi"}, AttachStdout: true},
			HostConfig: &containertypes.HostConfig{AutoRemove: true},
		})
		if err != nil {
			return err
		}
		att, err := c.ContainerAttach(ctx, resp.ID, client.ContainerAttachOptions{Stream: true, Stdout: true})
		if err != nil {
			return err
		}
		defer att.Close()
		w := c.ContainerWait(ctx, resp.ID, client.ContainerWaitOptions{Condition: containertypes.WaitConditionRemoved})
		if _, err := c.ContainerStart(ctx, resp.ID, client.ContainerStartOptions{}); err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, att.Reader)
		select {
		case r := <-w.Result:
			if r.StatusCode != 0 {
				return fmt.Errorf("run --rm exited %d", r.StatusCode)
			}
		case err := <-w.Error:
			return err
		}
		return nil
	})
}

// streamEvents reads the events stream until ctx ends; it must not end
// before.
func (s *stress) streamEvents(ctx context.Context) {
	ev := s.client().Events(ctx, client.EventsListOptions{})
	for {
		select {
		case <-ev.Messages:
			s.events.Add(1)
		case err := <-ev.Err:
			if ctx.Err() == nil && !s.down.Load() {
				s.fail("events stream ended: %v", err)
			}
			return
		}
	}
}

// checkStates compares every container's inspect with the host: a
// running or paused container's init is alive (and a paused one's cgroup
// frozen), a stopped one has no process left in its cgroup.
func (s *stress) checkStates(ctx context.Context) {
	s.t.Helper()
	list, err := s.client().ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		s.t.Fatal(err)
	}
	for _, ct := range list.Items {
		in, err := s.client().ContainerInspect(ctx, ct.ID, client.ContainerInspectOptions{})
		if err != nil {
			s.t.Errorf("inspect %s: %v", ct.ID[:12], err)
			continue
		}
		st := in.Container.State
		procs := cgroupProcs(s.d.Prefix(), ct.ID)
		switch {
		case st.Restarting:
			// Between two runs: nothing to compare.
		case st.Running || st.Paused:
			if st.Pid <= 0 || syscall.Kill(st.Pid, 0) != nil {
				s.t.Errorf("%s %s: inspect says %s with pid %d, which is not alive", ct.ID[:12], ct.Names, st.Status, st.Pid)
			}
		default:
			if len(procs) > 0 {
				s.t.Errorf("%s %s: inspect says %s, but its cgroup holds %v", ct.ID[:12], ct.Names, st.Status, procs)
			}
		}
	}
}

// cgroupProcs lists the processes in a container's cgroup, in any
// hierarchy.
func cgroupProcs(prefix, id string) []string {
	var out []string
	paths, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", prefix, id, "cgroup.procs"))
	if p := filepath.Join("/sys/fs/cgroup", prefix, id, "cgroup.procs"); fileExists(p) {
		paths = append(paths, p)
	}
	for _, p := range paths {
		data, _ := os.ReadFile(p)
		out = append(out, strings.Fields(string(data))...)
	}
	return out
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// hostState is what a daemon holds on the host, counted for leaks.
type hostState struct {
	fds       int
	mounts    []string
	cgroups   []string
	procs     []string
	snapshots int
	records   int
}

func (s *stress) snapshotState(ctx context.Context) hostState {
	s.t.Helper()
	var h hostState
	if pid := s.d.Pid(); pid > 0 {
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		h.fds = len(fds)
	}
	// The /sys/fs/cgroup skeleton is the daemon's, made by the first
	// container and shared by all, kept until the daemon stops.
	skeletons := filepath.Join(s.d.ExecRoot(), "cgroupfs") + "/"
	for _, m := range testenv.MountsUnder(s.t, s.d.Root()) {
		if !strings.HasPrefix(m, skeletons) {
			h.mounts = append(h.mounts, m)
		}
	}
	mounts, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", s.d.Prefix(), "*"))
	mounts2, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", s.d.Prefix(), "*"))
	for _, p := range append(mounts, mounts2...) {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			h.cgroups = append(h.cgroups, p)
		}
	}
	h.procs = procsNaming(s.d.ExecRoot())
	// Spare snapshots (made ahead for the next create) are dropped by
	// system df: count only what containers hold.
	if _, err := s.client().DiskUsage(ctx, client.DiskUsageOptions{Containers: true, Images: true}); err != nil {
		s.t.Errorf("system df: %v", err)
	}
	snaps, _ := os.ReadDir(filepath.Join(s.d.DataRoot(), "snapshots", "snapshots"))
	h.snapshots = len(snaps)
	recs, _ := os.ReadDir(filepath.Join(s.d.DataRoot(), "containers"))
	h.records = len(recs)
	return h
}

// checkLeaks waits for the background releases to settle, then compares
// the host's state with the baseline taken before the run.
func (s *stress) checkLeaks(ctx context.Context, base hostState) {
	s.t.Helper()
	var now hostState
	deadline := time.Now().Add(15 * time.Second)
	for {
		now = s.snapshotState(ctx)
		settled := len(now.mounts) <= len(base.mounts) && len(now.cgroups) <= len(base.cgroups) &&
			len(now.procs) <= len(base.procs) && now.snapshots <= base.snapshots && now.records <= base.records &&
			now.fds <= base.fds+10
		if settled || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.t.Logf("daemon descriptors: %d before, %d after; mounts %d/%d, snapshots %d/%d",
		base.fds, now.fds, len(base.mounts), len(now.mounts), base.snapshots, now.snapshots)
	if len(now.mounts) > len(base.mounts) {
		s.t.Errorf("mounts left under the root: %d, before %d:\n%s", len(now.mounts), len(base.mounts), strings.Join(now.mounts, "\n"))
	}
	if len(now.cgroups) > len(base.cgroups) {
		s.t.Errorf("cgroups left under /%s: %s", s.d.Prefix(), strings.Join(now.cgroups, " "))
	}
	if len(now.procs) > len(base.procs) {
		s.t.Errorf("processes left naming the exec root: %d, before %d:\n%s", len(now.procs), len(base.procs), strings.Join(now.procs, "\n"))
	}
	if now.snapshots > base.snapshots {
		s.t.Errorf("snapshots left: %d, before %d", now.snapshots, base.snapshots)
	}
	if now.records > base.records {
		s.t.Errorf("container records left: %d, before %d", now.records, base.records)
	}
	if now.fds > base.fds+10 {
		s.t.Errorf("daemon descriptors: %d, before %d", now.fds, base.fds)
	}
}

// report fails the test with what went wrong: failed calls, race reports,
// panics in the daemon's log.
func (s *stress) report(raceDir string) {
	s.t.Helper()
	s.t.Logf("stress: %d calls, %d events", s.ops.Load(), s.events.Load())
	for _, f := range s.failures {
		s.t.Errorf("stress: %s", f)
	}
	races, _ := filepath.Glob(filepath.Join(raceDir, "race*"))
	for _, p := range races {
		data, _ := os.ReadFile(p)
		s.t.Errorf("race report %s:\n%s", filepath.Base(p), data)
	}
	if logData, err := os.ReadFile(s.d.LogPath()); err == nil {
		for _, line := range strings.Split(string(logData), "\n") {
			if strings.Contains(line, "status=5") || strings.Contains(line, "level=ERROR") {
				s.t.Errorf("daemon log: %s", line)
			}
		}
		for _, needle := range []string{"WARNING: DATA RACE", "panic", "fatal error:"} {
			if i := strings.Index(string(logData), needle); i >= 0 {
				end := min(len(logData), i+4000)
				s.t.Errorf("daemon log has %q:\n%s", needle, logData[i:end])
			}
		}
	}
}

// procsNaming lists live processes whose command line names dir: the
// shims and runtimes.
func procsNaming(dir string) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(cmdline) == 0 {
			continue
		}
		if strings.Contains(string(cmdline), dir+"/") {
			out = append(out, e.Name()+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }
