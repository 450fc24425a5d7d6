package shim

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// directDeleteFile is runtime.DirectDeleteFile: berth-runtime's list of
// a container's cgroup directories, present when deleting the stopped
// container is only removing them and its state directory.
const directDeleteFile = "delete.direct"

// rmdirTries bounds the attempts to remove a cgroup that is still busy
// (its last processes finishing their exit) before the runtime's delete,
// which waits longer, takes over.
const rmdirTries = 5

// directDelete removes a container whose init the shim has reaped from
// berth-runtime's state without a `runtime delete` process, when the
// runtime offered it (internal/runtime, directdelete.go): under the
// runtime's lock, it removes the listed cgroup directories, then the
// state directory. errUseRuntime means the shortcut was not offered or
// stopped short (a busy or nested cgroup); everything left is then the
// runtime's delete to finish.
func (s *shim) directDelete() error {
	dir, ok := s.runtimeStateDir()
	if !ok {
		return errUseRuntime
	}
	lock, err := lockRuntimeState(dir)
	if err != nil {
		return errUseRuntime
	}
	defer unlock(lock)
	list, err := os.ReadFile(filepath.Join(dir, directDeleteFile))
	if err != nil {
		return errUseRuntime
	}
	for cg := range strings.SplitSeq(string(list), "\n") {
		if cg == "" {
			continue
		}
		if !filepath.IsAbs(cg) || !removeCgroup(cg) {
			return errUseRuntime
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return errUseRuntime
	}
	return nil
}

// removeCgroup removes an empty cgroup directory, giving processes that
// are still exiting a few milliseconds to leave it.
func removeCgroup(dir string) bool {
	for i := range rmdirTries {
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return true
		}
		if !errors.Is(err, unix.EBUSY) {
			return false
		}
		time.Sleep(time.Duration(i+1) * time.Millisecond)
	}
	return false
}
