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
// visits nsfd for the socket() call.
func routeHandleIn(nsfd, hostNS int) (*netlink.Handle, error) {
	var h *netlink.Handle
	var herr error
	err := inNamespace(nsfd, hostNS, func() { h, herr = netlink.NewHandle(unix.NETLINK_ROUTE) })
	if err != nil {
		if h != nil {
			h.Close()
		}
		return nil, err
	}
	if herr != nil {
		return nil, fmt.Errorf("netlink in sandbox: %w", herr)
	}
	return h, nil
}

// inNamespace runs fn on a thread that visits the network namespace nsfd
// and then comes back to hostNS. If it cannot come back the thread is left
// locked and dies with its goroutine rather than serve other goroutines
// in the wrong namespace.
func inNamespace(nsfd, hostNS int, fn func()) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Setns(nsfd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- fmt.Errorf("setns: %w", err)
			return
		}
		fn()
		if err := unix.Setns(hostNS, unix.CLONE_NEWNET); err != nil {
			// Stay locked: the goroutine's exit takes the thread with it.
			ch <- fmt.Errorf("setns back to the host: %w", err)
			return
		}
		runtime.UnlockOSThread()
		ch <- nil
	}()
	return <-ch
}
