package shim

import (
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// maxSunPath is the longest path a unix socket address holds (108 bytes
// with the terminating NUL).
const maxSunPath = 107

// sockAddr is the address of a socket in a directory. A path too long for
// sockaddr_un goes through the directory's descriptor instead
// (/proc/<pid>/fd/N/name), which binds and connects like the real path;
// tests' temporary directories get that long, the daemon's do not.
type sockAddr struct {
	path string
	dir  *os.File
}

// newSockAddr is the address of dir/name for this process's own use.
func newSockAddr(dir, name string) (*sockAddr, error) {
	return newSockAddrFor(dir, name, "self")
}

// newSockAddrFor makes the address usable by other processes too: they
// reach the directory through /proc/<this pid>.
func newSockAddrFor(dir, name, proc string) (*sockAddr, error) {
	p := filepath.Join(dir, name)
	if len(p) <= maxSunPath {
		return &sockAddr{path: p}, nil
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return &sockAddr{
		path: "/proc/" + proc + "/fd/" + strconv.Itoa(fd) + "/" + name,
		dir:  os.NewFile(uintptr(fd), dir),
	}, nil
}

func (a *sockAddr) close() {
	if a.dir != nil {
		a.dir.Close()
	}
}
