package shim

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-project/berth/internal/atomicfile"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/logs"
)

// Config is what the shim needs to create and supervise one container.
type Config struct {
	ID          string            // container id
	Bundle      string            // dir holding config.json (rootfs already mounted by the daemon)
	StateDir    string            // the shim's own dir (socket, pid, exit file); survives daemon restarts
	Runtime     string            // runtime binary path (berth-runtime, runc, crun)
	RuntimeRoot string            // --root for the runtime
	RuntimeArgs []string          // extra global args
	Terminal    bool              // process.terminal: the shim owns the pty master (console socket)
	OpenStdin   bool              // keep stdin open for attach (docker -i)
	StdinOnce   bool              // close the container's stdin when the first attached client detaches/ends
	LogDriver   string            // "json-file" or "none"
	LogPath     string            // the json-file log
	LogOpts     map[string]string // max-size, max-file, ...
	LogAttrs    map[string]string // json-file's attrs of every entry (logs.ExtraAttrs)
	ShimBinary  string            // path of berth-shim (default: beside the daemon's executable, else $PATH)
	// HibernateAfter is how long the shim of a running container may be
	// idle before it hands over to berth-shim-keeper (hibernate_linux.go);
	// 0 never.
	HibernateAfter time.Duration `json:",omitempty"`
	// Ahead: no client waits for this container yet (Pool.StartAhead).
	// A pooled shim then creates it at background priority, until hurried
	// or first called (priority_linux.go).
	Ahead bool `json:",omitempty"`
	// Process is the caller's to keep with the container: the spec's
	// process section, which an exec starts from. The shim does not read
	// it; ReadProcess gives it back. In this file rather than one of its
	// own it takes no page of the tmpfs.
	Process json.RawMessage `json:",omitempty"`
}

// Files in the state directory.
const (
	configFile     = "config.json" // Config, written by Start
	socketFile     = "shim.sock"   // the RPC socket
	lockFile       = "shim.lock"   // flock'd by the live shim: the liveness test
	shimPidFile    = "shim.pid"    // the shim's pid as a symlink's target, for people (readlink)
	initPidFile    = "init.pid"    // the runtime's --pid-file for the init, removed once read
	exitFile       = "exit.json"   // ExitStatus of the init, written before anyone is told
	runtimeLogFile = "runtime.log" // the runtime's --log (JSON), where its errors are read from
	shimLogFile    = "shim.log"    // the shim's own stderr
)

// check validates c before anything is started: named checks, all of them
// before any side effect.
func (c *Config) check() error {
	checks := []struct {
		ok  bool
		msg string
	}{
		{c.ID != "", "container id is empty"},
		{filepath.Base(c.ID) == c.ID && c.ID != "." && c.ID != "..", "container id must be a plain name"},
		{filepath.IsAbs(c.Bundle), "bundle must be an absolute path"},
		{filepath.IsAbs(c.StateDir), "state dir must be an absolute path"},
		{c.Runtime != "", "runtime is not set"},
		{c.RuntimeRoot == "" || filepath.IsAbs(c.RuntimeRoot), "runtime root must be an absolute path"},
		{c.LogDriver == logs.None || c.LogPath == "" || filepath.IsAbs(c.LogPath), "log path must be an absolute path"},
		{c.LogDriver == logs.None || c.LogPath != "", "log path is not set"},
	}
	for _, ck := range checks {
		if !ck.ok {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "shim: %s", ck.msg)
		}
	}
	return logs.ValidateOpts(c.LogDriver, c.LogOpts)
}

func readConfig(dir string) (*Config, error) {
	data, err := os.ReadFile(filepath.Join(dir, configFile))
	if err != nil {
		return nil, err
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, configFile), err)
	}
	c.Process = nil // the caller's, not the shim's
	return &c, nil
}

// ReadProcess is the Process the shim of stateDir was started with;
// fs.ErrNotExist when there is none.
func ReadProcess(stateDir string) (json.RawMessage, error) {
	data, err := os.ReadFile(filepath.Join(stateDir, configFile))
	if err != nil {
		return nil, err
	}
	var c struct{ Process json.RawMessage }
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(stateDir, configFile), err)
	}
	if len(c.Process) == 0 {
		return nil, fs.ErrNotExist
	}
	return c.Process, nil
}

// writeFileAtomic writes data to path through a temporary file and a
// rename, so readers see the old content or the new, never a part. The
// state directory lives on a tmpfs (/run) and dies with the host, as the
// containers do, so there is no fsync.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	return atomicfile.Write(path, data, perm, atomicfile.WithoutSync())
}
