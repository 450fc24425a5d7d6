package cgroups

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
)

// Unlimited is the value of a limit that is not set ("max" in v2, the
// page-counter maximum in v1).
const Unlimited uint64 = math.MaxUint64

// writeFunc writes one value to a cgroup control file. Managers write
// through one so that tests can record the order of writes to files a
// kernel would keep several lines of (devices.allow, io.max, …).
type writeFunc func(path, value string) error

// writeFile is the real writeFunc. It goes straight to the syscalls: it
// runs tens of times per container start, and cgroupfs files are never
// pollable, so os.File would only add allocations.
func writeFile(p, value string) error {
	fd, err := openFile(p, unix.O_WRONLY|unix.O_TRUNC)
	if err != nil {
		return fileError("write "+strconv.Quote(value)+" to", p, err)
	}
	defer unix.Close(fd)
	b := []byte(value)
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fileError("write "+strconv.Quote(value)+" to", p, err)
		}
		b = b[n:]
	}
	return nil
}

func openFile(p string, flags int) (int, error) {
	for {
		fd, err := unix.Open(p, flags|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// readFile reads a whole control file. Most are a few bytes; memory.stat
// and io.stat are a few kilobytes.
func readFile(p string) (string, error) {
	fd, err := openFile(p, unix.O_RDONLY)
	if err != nil {
		return "", fileError("read", p, err)
	}
	defer unix.Close(fd)
	buf := make([]byte, 0, 512)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return "", fileError("read", p, err)
		}
		if n == 0 {
			return string(buf), nil
		}
		buf = buf[:len(buf)+n]
	}
}

// fileError wraps a syscall error with the file and the error class.
// ENOENT is ambiguous: a missing directory means the cgroup is gone
// (NotFound), a missing file means the kernel lacks the knob
// (NotImplemented); telling them apart costs a stat, on the error path only.
func fileError(op, p string, err error) error {
	var class error
	var errno unix.Errno
	if !errors.As(err, &errno) {
		errno = 0
	}
	switch errno {
	case unix.ENOENT:
		class = errdefs.ErrNotImplemented
		if _, serr := os.Stat(path.Dir(p)); serr != nil {
			class = errdefs.ErrNotFound
		}
	case unix.EOPNOTSUPP:
		class = errdefs.ErrNotImplemented
	case unix.EINVAL, unix.ERANGE, unix.EOVERFLOW, unix.ENODEV:
		class = errdefs.ErrInvalidParameter
	case unix.EBUSY:
		class = errdefs.ErrConflict
	case unix.EPERM, unix.EACCES, unix.EROFS:
		class = errdefs.ErrForbidden
	case unix.ESRCH:
		class = errdefs.ErrNotFound
	default:
		class = errdefs.ErrUnavailable
	}
	return fmt.Errorf("%s %s: %w: %w", op, p, class, err)
}

// mkdirAll creates dir and its missing parents below base (which must
// exist) and calls created for each directory it made, top down.
func mkdirAll(base, dir string, created func(string) error) error {
	rel, err := filepath.Rel(base, dir)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("cgroup %s is not below %s: %w", dir, base, errdefs.ErrInvalidParameter)
	}
	cur := base
	for e := range strings.SplitSeq(rel, "/") {
		cur = path.Join(cur, e)
		err := unix.Mkdir(cur, 0o755)
		switch {
		case err == nil:
			if created != nil {
				if err := created(cur); err != nil {
					return err
				}
			}
		case err == unix.EEXIST:
		default:
			return fileError("mkdir", cur, err)
		}
	}
	return nil
}

// removeTree removes a cgroup directory and its descendants, children
// first. A cgroup whose last process just exited (or is a zombie not yet
// reaped) stays busy for a few milliseconds, so EBUSY is retried with a
// short backoff; a live process in it fails at once, as a Conflict. A
// missing directory is not an error.
func removeTree(dir string) error {
	// Try the common case, a leaf, before listing: a cgroup directory
	// holds dozens of control files, and reading them is most of the cost.
	err := unix.Rmdir(dir)
	if err == nil || err == unix.ENOENT {
		return nil
	}
	if err != unix.EBUSY {
		return fileError("rmdir", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fileError("list", dir, err)
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeTree(path.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	delay := time.Millisecond
	for attempt := 0; ; attempt++ {
		err := unix.Rmdir(dir)
		switch {
		case err == nil, err == unix.ENOENT:
			return nil
		case err == unix.EBUSY && attempt < 8 && !hasLiveProcess(dir):
			time.Sleep(delay)
			delay *= 2
		case err == unix.EBUSY:
			return fmt.Errorf("remove cgroup %s: processes remain: %w: %w", dir, errdefs.ErrConflict, err)
		default:
			return fileError("rmdir", dir, err)
		}
	}
}

// hasLiveProcess reports whether the cgroup at dir holds a process that
// is not a zombie: one that will not leave by itself.
func hasLiveProcess(dir string) bool {
	s, err := readFile(path.Join(dir, "cgroup.procs"))
	if err != nil {
		return false
	}
	for pid := range strings.FieldsSeq(s) {
		stat, err := readFile("/proc/" + pid + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		if i := strings.LastIndexByte(stat, ')'); i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z' {
			return true
		}
	}
	return false
}

// readProcs lists the pids in dir's cgroup.procs and in its descendants'.
func readProcs(dir string) ([]int, error) {
	var pids []int
	var walk func(string) error
	walk = func(d string) error {
		s, err := readFile(path.Join(d, "cgroup.procs"))
		if err != nil {
			return err
		}
		for f := range strings.FieldsSeq(s) {
			pid, err := strconv.Atoi(f)
			if err != nil {
				return fmt.Errorf("%s/cgroup.procs: bad pid %q: %w", d, f, errdefs.ErrUnavailable)
			}
			pids = append(pids, pid)
		}
		entries, err := os.ReadDir(d)
		if err != nil {
			return fileError("list", d, err)
		}
		for _, e := range entries {
			if e.IsDir() {
				if err := walk(path.Join(d, e.Name())); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(dir); err != nil {
		return nil, err
	}
	return pids, nil
}

// parseUint reads a counter or a limit; "max" (v2) and the v1 page-counter
// maximum (LONG_MAX rounded down to a page, around 2^63) read as Unlimited.
func parseUint(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	if s == "max" {
		return Unlimited, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		// Some v1 counters are signed ("-1" for no limit).
		if i, ierr := strconv.ParseInt(s, 10, 64); ierr == nil && i < 0 {
			return Unlimited, nil
		}
		return 0, fmt.Errorf("parse %q: %w", s, errdefs.ErrUnavailable)
	}
	if v >= 1<<62 {
		return Unlimited, nil
	}
	return v, nil
}

// readUint reads a single-number file.
func readUint(p string) (uint64, error) {
	s, err := readFile(p)
	if err != nil {
		return 0, err
	}
	v, err := parseUint(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", p, err)
	}
	return v, nil
}

// parseKeyValues parses "key value" lines (memory.stat, cpu.stat, …).
func parseKeyValues(s string) map[string]uint64 {
	m := make(map[string]uint64)
	for line := range strings.SplitSeq(s, "\n") {
		k, v, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
			m[k] = n
		}
	}
	return m
}

// writePid moves a process into the cgroup at dir.
func writePid(write writeFunc, dir string, pid int) error {
	if err := write(path.Join(dir, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
		return fmt.Errorf("add process %d: %w", pid, err)
	}
	return nil
}
