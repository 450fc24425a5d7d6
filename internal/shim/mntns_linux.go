package shim

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// holdMountNS opens the init's mount namespace, or returns nil. Held, it
// outlives the init: the kernel then tears it down (every mount of the
// container, and an expedited RCU grace period) when the shim lets it
// go, after the exit is recorded and answered, not in the init's exit,
// which the shim hears of only once the namespace is gone (0.2-0.4 ms
// of every exit here).
func holdMountNS(pid int) *os.File {
	fd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/ns/mnt", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	return os.NewFile(uintptr(fd), "mnt-ns")
}

// releaseMountNS lets the init's mount namespace go, once. The exec into
// the hibernation keeper closes it too (close-on-exec).
func (s *shim) releaseMountNS() {
	s.mu.Lock()
	f := s.mntNS
	s.mntNS = nil
	s.mu.Unlock()
	if f != nil {
		f.Close()
	}
}
