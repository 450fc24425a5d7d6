package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/atomicfile"
	"github.com/berth-project/berth/internal/errdefs"
	"golang.org/x/sys/unix"
)

// stateVersion is the layout of state.json; a newer runtime reads older ones.
const stateVersion = 1

const (
	stateFile  = "state.json"
	startSock  = "start.sock"
	lockFile   = "lock"
	maxIDBytes = 1024
)

// savedState is what survives between invocations, in <root>/<id>/state.json.
type savedState struct {
	Version int    `json:"version"`
	ID      string `json:"id"`
	Bundle  string `json:"bundle"`
	Rootfs  string `json:"rootfs"`
	// InitPid is 0 while the container is being created.
	InitPid int `json:"init_pid"`
	// InitStartTime (field 22 of /proc/<pid>/stat) tells the init from a
	// later process that reused its pid.
	InitStartTime uint64            `json:"init_start_time"`
	Created       time.Time         `json:"created"`
	Owner         int               `json:"owner"`
	CgroupPaths   map[string]string `json:"cgroup_paths,omitempty"`
	// Config is the runtime-spec config as JSON (specview.go).
	Config json.RawMessage `json:"config"`
}

// validIDByte reports whether b may appear in a container id: what the
// regular expression ^[\w+\-.]+$ allows (letters, digits, _ + - .),
// checked without compiling one in every runtime process.
func validIDByte(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '_' || b == '+' || b == '-' || b == '.'
}

// ValidateID checks a container id: it becomes a directory name and
// appears in cgroup paths.
func ValidateID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("container id is empty: %w", errdefs.ErrInvalidParameter)
	case len(id) > maxIDBytes:
		return fmt.Errorf("container id is longer than %d bytes: %w", maxIDBytes, errdefs.ErrInvalidParameter)
	case id[0] == '.' || strings.IndexFunc(id, func(r rune) bool { return r >= 0x80 || !validIDByte(byte(r)) }) >= 0:
		return fmt.Errorf("invalid container id %q (allowed: letters, digits, _ + - and . but not first): %w", id, errdefs.ErrInvalidParameter)
	}
	return nil
}

func writeState(dir string, st *savedState) error {
	st.Version = stateVersion
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	// No fsync: runtime state lives on a tmpfs (/run) and means nothing
	// after a reboot; the rename alone keeps readers from a torn file.
	return writeFileAtomic(filepath.Join(dir, stateFile), data, 0o600, false)
}

func readState(dir string) (*savedState, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var st savedState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("%s: corrupt state: %w", filepath.Join(dir, stateFile), err)
	}
	if st.Version > stateVersion {
		return nil, fmt.Errorf("%s: state version %d is newer than this runtime's %d: %w", dir, st.Version, stateVersion, errdefs.ErrNotImplemented)
	}
	return &st, nil
}

// writeFileAtomic writes through a temporary file and rename, so a reader
// sees the old or the new content; with durable, an fsync of the data
// first makes a crash leave one of them too.
func writeFileAtomic(path string, data []byte, perm os.FileMode, durable bool) error {
	if durable {
		return atomicfile.Write(path, data, perm, atomicfile.WithoutDirSync())
	}
	return atomicfile.Write(path, data, perm, atomicfile.WithoutSync())
}

// dirLock is an exclusive flock on a container's lock file, held by every
// command that changes the container.
type dirLock struct{ f *os.File }

func lockDir(dir string) (*dirLock, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("container %s does not exist: %w", filepath.Base(dir), errdefs.ErrNotFound)
		}
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return &dirLock{f: f}, nil
}

// unlock releases the lock before closing: a flock belongs to the open
// file, and a child forked meanwhile (the stage, a hook) holds a copy of
// the descriptor until it execs.
func (l *dirLock) unlock() {
	if l != nil && l.f != nil {
		unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
		l.f.Close()
	}
}
