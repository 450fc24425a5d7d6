package nettest

import (
	"errors"

	"github.com/vishvananda/netlink"
)

// dumpAttempts bounds the retries of a netlink dump that the kernel
// interrupted because the list changed meanwhile: parallel tests make and
// delete links, addresses and routes all the time.
const dumpAttempts = 20

// retryDump calls dump until it is not interrupted (or dumpAttempts).
func retryDump[T any](dump func() ([]T, error)) ([]T, error) {
	for i := 1; ; i++ {
		v, err := dump()
		if !errors.Is(err, netlink.ErrDumpInterrupted) || i == dumpAttempts {
			return v, err
		}
	}
}

// LinkList is netlink.LinkList, retried while the dump is interrupted.
func LinkList() ([]netlink.Link, error) { return retryDump(netlink.LinkList) }
