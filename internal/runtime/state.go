package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/atomicfile"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/klauspost/compress/flate"
	"golang.org/x/sys/unix"
)

// stateVersion is the layout of state.json; a newer runtime reads older ones.
const stateVersion = 1

const (
	// stateFile holds savedState as deflated JSON: a state with docker's
	// default seccomp profile is some 11 KB of JSON, three pages of the
	// tmpfs per running container, and 3.4 KB deflated, one page.
	stateFile = "state"
	// legacyStateFile is the plain JSON of earlier runtimes, read when
	// there is no stateFile (containers of an upgraded engine).
	legacyStateFile = "state.json"
	startSock       = "start.sock"
	lockFile        = "lock"
	maxIDBytes      = 1024
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
	// The stateless writer keeps no window between calls: some 8 KB of
	// allocations where a regular writer takes 800 KB.
	var buf bytes.Buffer
	w := flate.NewStatelessWriter(&buf)
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	// No fsync: runtime state lives on a tmpfs (/run) and means nothing
	// after a reboot; the rename alone keeps readers from a torn file.
	if err := writeFileAtomic(filepath.Join(dir, stateFile), buf.Bytes(), 0o600, false); err != nil {
		return err
	}
	// A container of an earlier runtime now has its state in the new file.
	_ = os.Remove(filepath.Join(dir, legacyStateFile))
	return nil
}

// maxStateBytes bounds a state file's JSON: a damaged or hostile file
// must not inflate without end.
const maxStateBytes = 16 << 20

func readState(dir string) (*savedState, error) {
	path := filepath.Join(dir, stateFile)
	data, err := readDeflated(path)
	if errors.Is(err, fs.ErrNotExist) {
		path = filepath.Join(dir, legacyStateFile)
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	var st savedState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("%s: corrupt state: %w", path, err)
	}
	if st.Version > stateVersion {
		return nil, fmt.Errorf("%s: state version %d is newer than this runtime's %d: %w", dir, st.Version, stateVersion, errdefs.ErrNotImplemented)
	}
	return &st, nil
}

// readDeflated reads a file of deflated data.
func readDeflated(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := flate.NewReader(f)
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, maxStateBytes+1))
	if err == nil && len(data) > maxStateBytes {
		err = errors.New("larger than 16 MiB")
	}
	if err != nil {
		return nil, fmt.Errorf("%s: corrupt state: %w", path, err)
	}
	return data, nil
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
