package network

import (
	"fmt"
	"runtime"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// routeHandle opens a NETLINK_ROUTE socket in the host's namespace.
func routeHandle() (*netlink.Handle, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	return h, nil
}

// routeHandleIn opens a NETLINK_ROUTE socket inside the namespace nsfd.
// A socket stays in the namespace it was made in, so the thread only
// visits nsfd for the socket() call. If it cannot come back to hostNS the
// thread is left locked and dies with its goroutine rather than serve
// other goroutines in the wrong namespace.
func routeHandleIn(nsfd, hostNS int) (*netlink.Handle, error) {
	type result struct {
		h   *netlink.Handle
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Setns(nsfd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("setns: %w", err)}
			return
		}
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err := unix.Setns(hostNS, unix.CLONE_NEWNET); err != nil {
			// Stay locked: the goroutine's exit takes the thread with it.
			if h != nil {
				h.Close()
			}
			ch <- result{nil, fmt.Errorf("setns back to the host: %w", err)}
			return
		}
		runtime.UnlockOSThread()
		if err != nil {
			err = fmt.Errorf("netlink in sandbox: %w", err)
		}
		ch <- result{h, err}
	}()
	r := <-ch
	return r.h, r.err
}
