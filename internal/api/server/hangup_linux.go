package server

import (
	"crypto/tls"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// waitHangup waits, once the client's input has ended, until the client
// has closed the connection entirely, and reports whether it did (false:
// the server closed it first, or it cannot tell). A client that only
// closed its writing side (the docker CLI does, as soon as its stdin ends,
// and at once when it sends none) is still reading the output, so the
// stream must go on; one that closed everything is gone, and the backend
// should stop even if the process is silent. On a unix socket the kernel
// reports the full close as POLLHUP; Go's poller wakes us on it.
func waitHangup(c net.Conn) bool {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	hung := false
	err = rc.Read(func(fd uintptr) bool {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN | unix.POLLRDHUP}}
		n, err := unix.Poll(fds, 0)
		if err != nil {
			return err != unix.EINTR
		}
		hung = n > 0 && fds[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0
		return hung
	})
	return err == nil && hung
}
