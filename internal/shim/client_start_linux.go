package shim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

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
// The shim is detached from the caller: berth-shim is started in a new
// session and forks the real shim at once and exits, so the shim is
// reparented to init (or the nearest subreaper), never the daemon's child,
// and outlives it. A failed create leaves nothing running; the error is
// the runtime's.
func Start(ctx context.Context, cfg Config) (*Client, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	bin, err := shimBinary(cfg.ShimBinary)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.StateDir, 0o711); err != nil {
		return nil, err
	}
	data, err := json.Marshal(&cfg)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(cfg.StateDir, configFile), data, 0o600); err != nil {
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
	pid, err := syscall.ForkExec(bin, []string{"berth-shim", "start", cfg.StateDir}, &syscall.ProcAttr{
		Env:   shimEnv(),
		Files: []uintptr{devnull.Fd(), devnull.Fd(), logf.Fd(), w.Fd()},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	w.Close()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	stop := context.AfterFunc(ctx, func() { r.SetReadDeadline(time.Unix(1, 0)) })
	msg, rerr := io.ReadAll(io.LimitReader(r, 1<<20))
	stop()
	// The first berth-shim exits as soon as it forked the real one. Someone
	// else may have reaped it (a subreaper's reaper): then there is nothing
	// to do.
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err != unix.EINTR {
			break
		}
	}
	if rerr != nil {
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
		return nil, fmt.Errorf("shim for %s: bad ready message %q: %w", cfg.ID, msg, err)
	}
	if rd.Error != "" {
		resp := response{Error: rd.Error, Class: rd.Class}
		return nil, resp.err()
	}
	return newClient(cfg.StateDir)
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
