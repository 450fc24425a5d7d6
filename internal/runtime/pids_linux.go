package runtime

import (
	"os"
	"path/filepath"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The init is a Go program: until it execs the container's process it has
// several threads, and each counts against a pids limit. A container with
// pids.max 4 would kill its own init. So while the init sets up, the limit
// is raised by initPidsHeadroom, and the init writes the real limit just
// before execve, on the thread that execs. No container process exists
// before that write, so nothing else can use the headroom; only the
// created state shows the raised value.
//
// (On cgroup v1 the exec'ing thread could instead join the pids hierarchy
// alone, by writing 0 to its tasks file; but the cgroup namespace's root in
// each hierarchy is fixed when the namespace is made, before the init
// exists, so the container would see the host's pids tree.)
//
// The write goes through a descriptor the runtime opens on the host and
// passes in: the init's /sys/fs/cgroup is the container's by then.

// initPidsHeadroom covers the init's threads and the processes of
// createContainer and startContainer hooks.
const initPidsHeadroom = 64

// latePids is the one write the init makes before execve.
type latePids struct {
	path  string // pids.max, on the host
	value string
}

// planLatePids returns the write to make and the resources to apply until
// then.
func planLatePids(paths map[string]string, r *specs.LinuxResources) (*latePids, *specs.LinuxResources) {
	if r == nil || r.Pids == nil || r.Pids.Limit == nil || *r.Pids.Limit <= 0 {
		return nil, r
	}
	dir := paths["pids"]
	if dir == "" {
		return nil, r
	}
	limit := *r.Pids.Limit
	raised := limit + initPidsHeadroom
	out := *r
	out.Pids = &specs.LinuxPids{Limit: &raised}
	return &latePids{path: filepath.Join(dir, "pids.max"), value: strconv.FormatInt(limit, 10)}, &out
}

// open opens the file for the init to write. The runtime makes the v1
// directories while the init's first stage starts, after this is passed
// on, so the pids one is made here if need be (it needs nothing else).
func (lp *latePids) open() (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(lp.path), 0o755); err != nil {
		return nil, err
	}
	return os.OpenFile(lp.path, os.O_WRONLY|unix.O_CLOEXEC, 0)
}

// applyLatePids is the init's side: one write, on the exec'ing thread.
func applyLatePids(fd int, value string) error {
	if fd < 0 {
		return nil
	}
	for {
		_, err := unix.Write(fd, []byte(value))
		if err == unix.EINTR {
			continue
		}
		unix.Close(fd)
		if err != nil {
			return &os.PathError{Op: "write", Path: "pids cgroup", Err: err}
		}
		return nil
	}
}
