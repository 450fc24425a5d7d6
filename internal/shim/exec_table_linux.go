package shim

import (
	"math"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// execSmallTable execs path like syscall.Exec, with a descriptor table
// sized to the descriptors open rather than the one inherited.
//
// A shim cloned by the daemon starts with a copy of the daemon's table,
// whose size follows the daemon's highest descriptor: with a thousand
// containers that is 2048 slots, 17 KiB of kernel memory that exec keeps
// and the keeper would hold for the container's life. The kernel copies a
// table to the size of what is open only when it unshares one that is
// shared, and a Go process's threads share theirs: close_range's
// CLOSE_RANGE_UNSHARE, closing nothing, gives this thread its own small
// copy, and the exec that follows drops the other threads and the old
// table with them.
//
// The thread is never unlocked: should the exec fail, the goroutine ends
// locked and Go ends the thread, its private table with it.
func execSmallTable(path string, args, env []string) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// An older kernel (before 5.9) refuses it: the exec then keeps
		// the inherited table, as it always did.
		_ = unix.CloseRange(math.MaxUint32, math.MaxUint32, unix.CLOSE_RANGE_UNSHARE)
		errc <- syscall.Exec(path, args, env)
	}()
	return <-errc
}
