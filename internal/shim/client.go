package shim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Client talks to one container's shim. It is safe for concurrent use;
// every call is its own connection, so a blocked Wait never holds up a
// Kill.
type Client struct {
	stateDir string
	addr     *sockAddr

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
	// attaching counts Attach calls that have not registered with the
	// shim yet; Start and StartExec wait for them, so an Attach issued
	// before a start sees the output from its first byte.
	attaching int
	attached  chan struct{} // closed and replaced when attaching drops to 0
	// execWaits holds, per exec, a WaitExec request sent before the exec
	// started. The init can end the container, and the daemon then end
	// the shim, before a WaitExec sent after StartExec would arrive: a
	// short exec's status would be lost with the shim.
	execWaits map[string]*net.UnixConn
}

func newClient(stateDir string) (*Client, error) {
	addr, err := newSockAddr(stateDir, socketFile)
	if err != nil {
		return nil, err
	}
	return &Client{stateDir: stateDir, addr: addr, conns: map[net.Conn]struct{}{}, execWaits: map[string]*net.UnixConn{}}, nil
}

// Connect reattaches to the shim running in stateDir (live restore). If
// the shim is gone it returns a NotFound error, after settling the
// container's fate: ReadExit then tells how the container ended (see
// ReadExit).
func Connect(ctx context.Context, stateDir string) (*Client, error) {
	alive, err := shimAlive(stateDir)
	if err != nil {
		return nil, err
	}
	if !alive {
		if _, _, err := ReadExit(stateDir); err != nil {
			return nil, err
		}
		return nil, errdefs.Errorf(errdefs.ErrNotFound, "shim in %s is not running", stateDir)
	}
	c, err := newClient(stateDir)
	if err != nil {
		return nil, err
	}
	if _, err := c.call(ctx, request{Op: opPing}); err != nil {
		c.Close()
		if !errdefs.IsNotFound(err) {
			return nil, err
		}
		// The lock was held but nobody answers: the shim is dying (its
		// last threads still hold the lock). Settle once it let go.
		if err := awaitUnlock(ctx, stateDir); err != nil {
			return nil, err
		}
		if _, _, err := ReadExit(stateDir); err != nil {
			return nil, err
		}
		return nil, errdefs.Errorf(errdefs.ErrNotFound, "shim in %s is not running", stateDir)
	}
	return c, nil
}

// awaitUnlock waits for a dying shim to release its lock. Rare, and
// short (a process's last threads exiting): a poll is simplest.
func awaitUnlock(ctx context.Context, stateDir string) error {
	for i := 0; ; i++ {
		alive, err := shimAlive(stateDir)
		if err != nil || !alive {
			return err
		}
		if i == 200 {
			return errdefs.Errorf(errdefs.ErrUnavailable, "shim in %s holds its lock but does not answer", stateDir)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// StateDir is the shim's directory.
func (c *Client) StateDir() string { return c.stateDir }

// Close drops the client's connections; the shim and its container go on.
// Calls in progress return an Unavailable error.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	for conn := range c.conns {
		conn.Close()
	}
	c.addr.close()
	return nil
}

// dial opens a connection to the shim, tracked so Close can drop it.
func (c *Client) dial(ctx context.Context) (*net.UnixConn, error) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, errdefs.Errorf(errdefs.ErrUnavailable, "shim client for %s is closed", c.stateDir)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.addr.path)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return nil, errdefs.Errorf(errdefs.ErrNotFound, "shim in %s is not running", c.stateDir)
		}
		return nil, fmt.Errorf("shim in %s: %w", c.stateDir, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		conn.Close()
		return nil, errdefs.Errorf(errdefs.ErrUnavailable, "shim client for %s is closed", c.stateDir)
	}
	c.conns[conn] = struct{}{}
	return conn.(*net.UnixConn), nil
}

func (c *Client) forget(conn net.Conn) {
	c.mu.Lock()
	delete(c.conns, conn)
	c.mu.Unlock()
	conn.Close()
}

// interrupt makes blocked I/O on conn return once ctx ends; the returned
// function stops that.
func interrupt(ctx context.Context, conn net.Conn) func() bool {
	return context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
}

// call runs one request.
func (c *Client) call(ctx context.Context, req request) (*response, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	stop := interrupt(ctx, conn)
	err = writeMsg(conn, &req)
	stop()
	if err != nil {
		c.forget(conn)
		return nil, c.connError(ctx, err)
	}
	return c.receive(ctx, conn)
}

// receive reads the answer to the request sent on conn, and closes it.
func (c *Client) receive(ctx context.Context, conn *net.UnixConn) (*response, error) {
	defer c.forget(conn)
	defer interrupt(ctx, conn)()
	var resp response
	if err := readMsg(conn, &resp); err != nil {
		return nil, c.connError(ctx, err)
	}
	if err := resp.err(); err != nil {
		return nil, err
	}
	return &resp, nil
}

// connError classifies a failed exchange: the caller's context ended, the
// client was closed, or the shim went away.
func (c *Client) connError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return errdefs.Errorf(errdefs.ErrUnavailable, "shim client for %s is closed", c.stateDir)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return errdefs.Errorf(errdefs.ErrNotFound, "shim in %s exited: %v", c.stateDir, err)
	}
	return fmt.Errorf("shim in %s: %w", c.stateDir, err)
}

// waitAttaches returns once every Attach begun before it has registered
// with the shim.
func (c *Client) waitAttaches(ctx context.Context) error {
	c.mu.Lock()
	if c.attaching == 0 {
		c.mu.Unlock()
		return nil
	}
	ch := c.attached
	c.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) beginAttach() {
	c.mu.Lock()
	if c.attaching == 0 {
		c.attached = make(chan struct{})
	}
	c.attaching++
	c.mu.Unlock()
}

func (c *Client) endAttach() {
	c.mu.Lock()
	c.attaching--
	if c.attaching == 0 {
		close(c.attached)
	}
	c.mu.Unlock()
}

// Start starts the container's init (runtime start) and returns its pid.
func (c *Client) Start(ctx context.Context) (int, error) {
	if err := c.waitAttaches(ctx); err != nil {
		return 0, err
	}
	r, err := c.call(ctx, request{Op: opStart})
	if err != nil {
		return 0, err
	}
	return r.Pid, nil
}

// Wait blocks until the init exited and its output was flushed to the log
// and to attached clients.
func (c *Client) Wait(ctx context.Context) (ExitStatus, error) {
	r, err := c.call(ctx, request{Op: opWait})
	if err != nil {
		return ExitStatus{}, err
	}
	return *r.Exit, nil
}

// State reports the init's pid and status.
func (c *Client) State(ctx context.Context) (State, error) {
	r, err := c.call(ctx, request{Op: opState})
	if err != nil {
		return State{}, err
	}
	return *r.State, nil
}

// Kill sends sig to the init, or with all to every process of the
// container. Killing an init that has exited is a NotFound error.
func (c *Client) Kill(ctx context.Context, sig syscall.Signal, all bool) error {
	_, err := c.call(ctx, request{Op: opKill, Signal: int(sig), All: all})
	return err
}

// KillExec sends sig to exec execID's process.
func (c *Client) KillExec(ctx context.Context, execID string, sig syscall.Signal) error {
	_, err := c.call(ctx, request{Op: opKillExec, Exec: execID, Signal: int(sig)})
	return err
}

// Pause freezes the container.
func (c *Client) Pause(ctx context.Context) error {
	_, err := c.call(ctx, request{Op: opPause})
	return err
}

// Resume thaws the container.
func (c *Client) Resume(ctx context.Context) error {
	_, err := c.call(ctx, request{Op: opResume})
	return err
}

// Update changes the container's resource limits (runtime update).
func (c *Client) Update(ctx context.Context, res *specs.LinuxResources) error {
	data, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = c.call(ctx, request{Op: opUpdate, Resources: data})
	return err
}

// Stats reads the container's cgroup usage (runtime events --stats).
func (c *Client) Stats(ctx context.Context) (*Stats, error) {
	r, err := c.call(ctx, request{Op: opStats})
	if err != nil {
		return nil, err
	}
	return parseStats(r.Raw)
}

// Pids lists the host pids of the container's processes (runtime ps).
func (c *Client) Pids(ctx context.Context) ([]int, error) {
	r, err := c.call(ctx, request{Op: opPids})
	if err != nil {
		return nil, err
	}
	var pids []int
	if err := json.Unmarshal(r.Raw, &pids); err != nil {
		return nil, fmt.Errorf("runtime ps: %w", err)
	}
	return pids, nil
}

// Resize sets the terminal size of the init ("") or an exec.
func (c *Client) Resize(ctx context.Context, execID string, width, height uint16) error {
	_, err := c.call(ctx, request{Op: opResize, Exec: execID, Width: width, Height: height})
	return err
}

// CloseStdin closes the stdin of the init ("") or an exec. With a
// terminal, input stops being forwarded (the pty stays open).
func (c *Client) CloseStdin(ctx context.Context, execID string) error {
	_, err := c.call(ctx, request{Op: opCloseStdin, Exec: execID})
	return err
}

// Exec registers a process to run in the container; StartExec starts it.
// Attach to it (AttachOptions.ExecID) before starting it to get all of its
// output.
func (c *Client) Exec(ctx context.Context, cfg ExecConfig) error {
	if cfg.ID == "" || filepath.Base(cfg.ID) != cfg.ID {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "shim: bad exec id %q", cfg.ID)
	}
	if cfg.Process == nil {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "shim: exec %s has no process", cfg.ID)
	}
	data, err := json.Marshal(cfg.Process)
	if err != nil {
		return err
	}
	_, err = c.call(ctx, request{Op: opExec, Exec: cfg.ID, Process: data, OpenStdin: cfg.OpenStdin})
	return err
}

// StartExec starts an exec'd process (runtime exec --detach) and returns
// its host pid.
func (c *Client) StartExec(ctx context.Context, execID string) (int, error) {
	if err := c.waitAttaches(ctx); err != nil {
		return 0, err
	}
	wait, err := c.sendWait(ctx, execID)
	if err != nil {
		return 0, err
	}
	r, err := c.call(ctx, request{Op: opStartExec, Exec: execID})
	if err != nil {
		c.forget(wait)
		return 0, err
	}
	c.mu.Lock()
	if old := c.execWaits[execID]; old != nil {
		delete(c.conns, old)
		old.Close()
	}
	c.execWaits[execID] = wait
	c.mu.Unlock()
	return r.Pid, nil
}

// sendWait opens a connection and sends a WaitExec request on it; the
// answer is read by WaitExec.
func (c *Client) sendWait(ctx context.Context, execID string) (*net.UnixConn, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	stop := interrupt(ctx, conn)
	err = writeMsg(conn, &request{Op: opWaitExec, Exec: execID})
	stop()
	if err != nil {
		c.forget(conn)
		return nil, c.connError(ctx, err)
	}
	return conn, nil
}

// WaitExec blocks until the exec'd process exited and its output was
// delivered.
func (c *Client) WaitExec(ctx context.Context, execID string) (ExitStatus, error) {
	c.mu.Lock()
	conn := c.execWaits[execID]
	delete(c.execWaits, execID)
	c.mu.Unlock()
	var r *response
	var err error
	if conn != nil {
		r, err = c.receive(ctx, conn)
	} else {
		r, err = c.call(ctx, request{Op: opWaitExec, Exec: execID})
	}
	if err != nil {
		return ExitStatus{}, err
	}
	return *r.Exit, nil
}

// Delete deletes the container from the runtime (forcibly if it still
// runs, after which its exit is recorded as usual), and the shim exits.
// The state directory keeps exit.json and shim.log; removing the
// directory is the caller's.
func (c *Client) Delete(ctx context.Context) error {
	_, err := c.call(ctx, request{Op: opDelete})
	return err
}
