package shim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/berth-project/berth/internal/errdefs"
	"golang.org/x/sys/unix"
)

// ready is what the shim reports on its readiness pipe once the container
// is created and its socket serves, or why it could not get there.
type ready struct {
	Pid     int    `json:"pid,omitempty"`     // the shim's
	InitPid int    `json:"initPid,omitempty"` // the container's init
	Error   string `json:"error,omitempty"`
	Class   string `json:"class,omitempty"`
}

// Start launches the shim for cfg, which runs `runtime create`. It returns
// once the container is created (not started) and the shim serves its
// socket.
//
// The shim is detached from the caller: it runs in a new session and is
// not the caller's child (see launch), so it outlives the daemon. A failed
// create leaves nothing running; the error is the runtime's.
func Start(ctx context.Context, cfg Config) (*Client, error) {
	bin, err := prepare(cfg)
	if err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(filepath.Join(cfg.StateDir, shimLogFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	files := []uintptr{devnull.Fd(), devnull.Fd(), logf.Fd(), w.Fd()}
	launcher, err := launch(bin, files, "serve", cfg.StateDir)
	w.Close()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	return awaitReady(ctx, cfg, r, launcher)
}

// prepare checks cfg, finds the shim binary and writes the shim's
// config into its state directory.
func prepare(cfg Config) (string, error) {
	if err := cfg.check(); err != nil {
		return "", err
	}
	bin, err := shimBinary(cfg.ShimBinary)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(cfg.StateDir, 0o711); err != nil {
		return "", err
	}
	if alive, err := shimAlive(cfg.StateDir); err != nil {
		return "", err
	} else if alive {
		return "", errdefs.Errorf(errdefs.ErrConflict, "a shim already runs in %s", cfg.StateDir)
	}
	data, err := json.Marshal(&cfg)
	if err != nil {
		return "", err
	}
	if err := writeFileAtomic(filepath.Join(cfg.StateDir, configFile), data, 0o600); err != nil {
		return "", err
	}
	return bin, nil
}

// awaitReady reads the shim's report from r to EOF (reaping its
// launcher, if it had one) and connects to it.
func awaitReady(ctx context.Context, cfg Config, r *os.File, launcher int) (*Client, error) {
	stop := context.AfterFunc(ctx, func() { r.SetReadDeadline(time.Unix(1, 0)) })
	msg, rerr := io.ReadAll(io.LimitReader(r, 1<<20))
	stop()
	if launcher > 0 {
		reapLauncher(launcher)
	}
	// A shim that closed its end with bytes of ours unread (a late hurry,
	// Pool.StartAhead) resets the read after its whole report: the report
	// stands.
	if rerr != nil && errors.Is(rerr, unix.ECONNRESET) && json.Valid(msg) {
		rerr = nil
	}
	if rerr != nil {
		abandon(cfg.StateDir)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, rerr
	}
	var rd ready
	if len(msg) == 0 {
		return nil, fmt.Errorf("shim for %s exited before it was ready (see %s)", cfg.ID, filepath.Join(cfg.StateDir, shimLogFile))
	}
	if err := json.Unmarshal(msg, &rd); err != nil {
		abandon(cfg.StateDir)
		return nil, fmt.Errorf("shim for %s: bad ready message %q: %w", cfg.ID, msg, err)
	}
	if rd.Error != "" {
		resp := response{Error: rd.Error, Class: rd.Class}
		return nil, resp.err()
	}
	return newClient(cfg.StateDir)
}

// abandonTimeout bounds abandon's wait for the shim.
const abandonTimeout = 5 * time.Second

// abandon ends the shim in stateDir, if one serves there, by deleting its
// container: its report was lost, so no caller will know of it, and it
// would otherwise keep the created container for good (and its state
// directory, once the caller cleaned up, hidden from anyone who could).
func abandon(stateDir string) {
	if alive, err := shimAlive(stateDir); err != nil || !alive {
		return
	}
	c, err := newClient(stateDir)
	if err != nil {
		return
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), abandonTimeout)
	defer cancel()
	if err := c.Delete(ctx); err != nil {
		slog.Warn("end a shim whose report was lost", "dir", stateDir, "err", err)
	}
}

// reapLauncher waits for a launcher, which exits as soon as it forked the
// shim. Someone else may have reaped it (a subreaper's reaper): then
// there is nothing to do.
func reapLauncher(pid int) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err != unix.EINTR {
			return
		}
	}
}

// launch starts the shim so that it is not the caller's child.
//
// Normally the shim is cloned as the caller's sibling (CLONE_PARENT): one
// process start, and the shim's parent is the daemon's (init, or
// systemd). A caller that is a child subreaper has asked to adopt the
// orphans below it (a daemon on a host whose init does not reap, a test):
// it gets the classic double fork, a launcher (`berth-shim start`) that
// forks the shim and exits, so the shim and, should the shim die, its
// container are re-parented to the caller. An init process (pid 1 of its
// namespace) cannot use CLONE_PARENT and double-forks too. The launcher's
// pid is returned for the caller to reap (0 when there is none). mode is
// "serve" (args: the state directory) or "pool" (args: the warm runtime
// and its root). A pooled shim cloned directly has its session's
// autogroup lowered to backgroundNice as soon as it exists (lowerAtLaunch).
func launch(bin string, files []uintptr, mode string, args ...string) (launcher int, err error) {
	env := shimEnv()
	if !isSubreaper() {
		var pid int
		pid, err = syscall.ForkExec(bin, append([]string{"berth-shim", mode}, args...), &syscall.ProcAttr{
			Env: env, Files: files,
			Sys: &syscall.SysProcAttr{Setsid: true, Cloneflags: unix.CLONE_PARENT},
		})
		if err == nil && mode == "pool" {
			lowerAtLaunch(pid)
		}
		if err != unix.EINVAL {
			return 0, err
		}
	}
	launcherMode := "start"
	if mode == "pool" {
		launcherMode = "start-pool"
	}
	return syscall.ForkExec(bin, append([]string{"berth-shim", launcherMode}, args...), &syscall.ProcAttr{
		Env: env, Files: files, Sys: &syscall.SysProcAttr{Setsid: true},
	})
}

func isSubreaper() bool {
	var v int32
	err := unix.Prctl(unix.PR_GET_CHILD_SUBREAPER, uintptr(unsafe.Pointer(&v)), 0, 0, 0)
	return err == nil && v != 0
}

// shimBinary finds berth-shim: the configured path, else beside the
// running executable (bin/berthd next to bin/berth-shim), else $PATH.
func shimBinary(configured string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "berth-shim")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	p, err := exec.LookPath("berth-shim")
	if err != nil {
		return "", errors.New("berth-shim not found beside the daemon or in $PATH")
	}
	return p, nil
}

// shimEnv is the shim's environment: the caller's, without what would
// make a runtime or the shim misbehave (systemd's notify and socket
// activation variables are the daemon's, not the container's), plus a
// single P for the Go scheduler: the shim is idle nearly always.
func shimEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "GOMAXPROCS", "GOGC", "GOMEMLIMIT":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "GOMAXPROCS=1")
}
