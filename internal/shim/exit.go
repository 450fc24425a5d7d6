package shim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	"golang.org/x/sys/unix"
)

// ReadExit tells how the container of stateDir ended. found is false
// while the container has not exited (its shim is alive and recorded no
// exit yet).
//
// The shim writes exit.json before anything else when the init exits. If
// the shim itself died first (killed, crashed), the container is left
// without a supervisor: no one reads its output, so it would soon block or
// die of SIGPIPE, and no one could reap it and learn its status. ReadExit
// (and Connect) then settle it: a container still alive is killed and
// deleted from the runtime and reported as Code 137 (SIGKILL), one already
// gone as Code 255 (its real status is lost with the shim), both with Lost
// set; the verdict is written to exit.json so every later call agrees.
func ReadExit(stateDir string) (ExitStatus, bool, error) {
	st, err := readExitFile(stateDir)
	if err == nil {
		return st, true, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return ExitStatus{}, false, err
	}
	lock, err := lockState(stateDir, unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		// The shim holds the lock: it is alive, or another caller is
		// settling right now.
		return ExitStatus{}, false, nil
	}
	if err != nil {
		return ExitStatus{}, false, err
	}
	defer unlock(lock)
	// The shim may have recorded the exit just before it went.
	if st, err := readExitFile(stateDir); err == nil {
		return st, true, nil
	}
	st, err = settle(stateDir)
	if err != nil {
		return ExitStatus{}, false, err
	}
	return st, true, nil
}

func readExitFile(dir string) (ExitStatus, error) {
	var st ExitStatus
	data, err := os.ReadFile(filepath.Join(dir, exitFile))
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("%s: %w", filepath.Join(dir, exitFile), err)
	}
	return st, nil
}

func writeExitFile(dir string, st ExitStatus) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, exitFile), data, 0o600)
}

// lockState opens the state directory's lock file and flocks it with how.
// The shim holds it exclusively for its whole life, so getting it means
// no shim runs there.
func lockState(dir string, how int) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errdefs.Errorf(errdefs.ErrNotFound, "no shim state in %s", dir)
	}
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// unlock releases a lock taken by lockState or lockRuntimeState and closes
// its file. The unlock comes first: a flock belongs to the open file, and
// a process this one forks meanwhile (the shim and the daemon fork from
// many goroutines) holds a copy of the descriptor until it execs, which
// would keep the lock a little longer than the close. A shim starting in
// a new state directory then found it taken ("a shim already runs"), once
// in a thousand concurrent starts.
func unlock(f *os.File) {
	unix.Flock(int(f.Fd()), unix.LOCK_UN)
	f.Close()
}

// shimAlive reports whether a shim holds stateDir.
func shimAlive(stateDir string) (bool, error) {
	lock, err := lockState(stateDir, unix.LOCK_SH|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	unlock(lock)
	return false, nil
}

// settleTimeout bounds the runtime commands that clean up after a dead
// shim.
const settleTimeout = 30 * time.Second

// settle decides and records the end of a container whose shim died
// without recording it; the caller holds the state lock.
func settle(stateDir string) (ExitStatus, error) {
	st := ExitStatus{Code: 255, Lost: true}
	cfg, err := readConfig(stateDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return ExitStatus{}, err
	}
	if cfg != nil {
		ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
		defer cancel()
		if status, err := runtimeStatus(ctx, cfg); err == nil && status != StatusStopped {
			st.Code, st.Signal = 128+int(unix.SIGKILL), "SIGKILL"
		}
		// delete --force kills what still runs and frees the cgroup and
		// the runtime's state; a container the runtime never knew is fine.
		if out, err := runtimeCommand(ctx, cfg, "delete", "--force", cfg.ID).CombinedOutput(); err != nil {
			if status, serr := runtimeStatus(ctx, cfg); serr == nil {
				return ExitStatus{}, fmt.Errorf("runtime delete --force %s (status %s): %v: %s", cfg.ID, status, err, bytes.TrimSpace(out))
			}
		}
	}
	st.ExitedAt = time.Now().UTC()
	if err := writeExitFile(stateDir, st); err != nil {
		return ExitStatus{}, err
	}
	return st, nil
}

// runtimeCommand is a runtime CLI command run from the caller's process
// (the daemon), for the rare work done without a shim.
func runtimeCommand(ctx context.Context, cfg *Config, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, cfg.Runtime, append(cfg.globalArgs(), args...)...)
}

// runtimeStatus is the runtime's view of the container: created, running,
// paused or stopped; an error when it does not know it.
func runtimeStatus(ctx context.Context, cfg *Config) (string, error) {
	out, err := runtimeCommand(ctx, cfg, "state", cfg.ID).Output()
	if err != nil {
		return "", err
	}
	var s struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(out, &s); err != nil {
		return "", err
	}
	return s.Status, nil
}

// globalArgs are the runtime's flags before the command.
func (c *Config) globalArgs() []string {
	var args []string
	if c.RuntimeRoot != "" {
		args = append(args, "--root", c.RuntimeRoot)
	}
	return append(args, c.RuntimeArgs...)
}
