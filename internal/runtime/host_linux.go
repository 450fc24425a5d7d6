package runtime

import (
	"errors"

	"golang.org/x/sys/unix"
)

// A process other than berth-runtime may run the runtime's create in
// itself: Berth's shim does, for a container's first command, saving a
// process start. Two things then differ from the runtime's own process.

// initBinary is the executable a container's init is started from: this
// process's own unless SetBinary named berth-runtime (its nsenter
// constructor must run in the init).
var initBinary = "/proc/self/exe"

// SetBinary makes path, berth-runtime's executable, the one inits are
// started from. Call it before anything else of the package.
func SetBinary(path string) { initBinary = path }

// waitChild waits for a child of this process to exit. A host that reaps
// its children itself (a child subreaper) replaces it (SetChildWaiter),
// so that the two never race for a status.
var waitChild = func(pid int) (unix.WaitStatus, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if !errors.Is(err, unix.EINTR) {
			return ws, err
		}
	}
}

// SetChildWaiter makes wait the way the package waits for its children.
func SetChildWaiter(wait func(pid int) (unix.WaitStatus, error)) { waitChild = wait }
