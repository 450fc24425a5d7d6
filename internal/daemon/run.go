package daemon

import (
	"context"
	"sync"
	"time"

	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/container"
)

// run is what the daemon knows about a container beyond its record: the
// live connection to its shim, who waits for it, what runs beside it.
// Nothing here is persisted; restore rebuilds it.
type run struct {
	c *container.Container
	// op serializes lifecycle operations on the container.
	op sync.Mutex

	// The fields below are guarded by c's lock.

	// task is the shim of the current start; nil when no process runs.
	task container.Task
	// gen counts starts, so a monitor knows whether the exit it saw is
	// still the current one.
	gen uint64
	// exited is closed once the exit of start number gen is handled (the
	// record says exited or restarting, the shim is deleted).
	exited chan struct{}
	// attaches wait for the container to start (attach before start, as
	// docker run does).
	attaches []*pendingAttach
	waiters  []*waiter
	// stopping: a user asked for the process to end (stop, kill, rm -f,
	// restart): its exit must not trigger the restart policy.
	stopping bool
	// restartCancel, when set, cancels a pending restart back-off.
	restartCancel chan struct{}
	health        *healthMonitor
	removed       bool
	// restartDelay is the restart policy's current back-off.
	restartDelay int64
	// keepOnExit: the exit belongs to a restart (docker restart), so an
	// auto-remove container stays.
	keepOnExit bool
	// restartPending: restore found the container in a restart back-off.
	restartPending bool
	// removing: a forced removal killed the process; its exit is not
	// saved on its own.
	removing bool
	// exitCleanup, when set, is an exit's cleanup (the shim's delete, the
	// bundle's unmount) left to the removal that follows: an auto-remove
	// container's removal is answered first (see handleExit).
	exitCleanup func(context.Context)
	// nextReq, for a container whose like may be prepared ahead, is the
	// create request it came from (next.go).
	nextReq *server.ContainerCreateRequest
	// prepareNextAtRemoval: the removal follows the process's own exit.
	prepareNextAtRemoval bool
	// prestarted, when set, delivers the result of an auto-remove
	// container's start begun in the background (prestart.go).
	prestarted chan prestarted
	// hurryPrestart, set with prestarted for a prestart made at
	// background priority, returns it to normal (idempotent).
	hurryPrestart func()
	// prestartTask is the prestart's task once made and until taken, for
	// attaches that come before the start (pendingAttach.connectEarly);
	// prestartMade is closed once the prestart has set it or failed to,
	// for attaches that came before that.
	prestartTask container.Task
	prestartMade chan struct{}
	// upper is what the container's upper directory held once its
	// create was done, when its snapshot may be recycled
	// (recycle_snapshot.go).
	upper *upperState

	// streams counts attach streams in flight (it has its own lock). The
	// exit handling waits for them before it drops the shim's
	// connections: the shim has written the last output into the
	// sockets, but closing our ends would discard what is not read yet.
	streams streamCount
}

// streamCount is a count of streams with a way to wait until none is left.
type streamCount struct {
	mu   sync.Mutex
	n    int
	idle chan struct{}
}

func (s *streamCount) add() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		s.idle = make(chan struct{})
	}
	s.n++
}

func (s *streamCount) done() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n--
	if s.n == 0 {
		close(s.idle)
	}
}

// wait returns once no stream is left, or after timeout.
func (s *streamCount) wait(timeout time.Duration) {
	s.mu.Lock()
	if s.n == 0 {
		s.mu.Unlock()
		return
	}
	idle := s.idle
	s.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
	}
}

type waiter struct {
	cond containertypes.WaitCondition
	ch   chan containertypes.WaitResponse
}

func newRun(c *container.Container) *run {
	ch := make(chan struct{})
	close(ch)
	return &run{c: c, exited: ch}
}

// closeTask drops the connection to the shim (daemon shutdown).
func (r *run) closeTask() {
	r.c.Lock()
	t := r.task
	r.c.Unlock()
	if t != nil {
		_ = t.Close()
	}
}

// notifyExit answers the waiters that an exit satisfies. The caller holds
// c's lock.
func (r *run) notifyExit(code int, errMsg string) {
	kept := r.waiters[:0]
	for _, w := range r.waiters {
		if w.cond == containertypes.WaitConditionRemoved {
			kept = append(kept, w)
			continue
		}
		w.ch <- waitResponse(code, errMsg)
		close(w.ch)
	}
	r.waiters = kept
}

// notifyRemoved answers every waiter left. The caller holds c's lock. A
// waiter for the removal gets no error: dockerd's answer there carries
// only a failed removal's, not the container's own (a start that failed),
// which `docker run --rm` already prints and would print again as "Error
// waiting for container".
func (r *run) notifyRemoved(code int, errMsg string) {
	for _, w := range r.waiters {
		msg := errMsg
		if w.cond == containertypes.WaitConditionRemoved {
			msg = ""
		}
		w.ch <- waitResponse(code, msg)
		close(w.ch)
	}
	r.waiters = nil
}

func waitResponse(code int, errMsg string) containertypes.WaitResponse {
	resp := containertypes.WaitResponse{StatusCode: int64(code)}
	if errMsg != "" {
		resp.Error = &containertypes.WaitExitError{Message: errMsg}
	}
	return resp
}

// get finds a container and its run.
func (d *Daemon) get(name string) (*container.Container, *run, error) {
	c, err := d.containers.Get(name)
	if err != nil {
		return nil, nil, err
	}
	d.mu.Lock()
	r := d.runs[c.ID]
	if r == nil {
		r = newRun(c)
		d.runs[c.ID] = r
	}
	d.mu.Unlock()
	return c, r, nil
}
