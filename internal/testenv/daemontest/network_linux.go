package daemontest

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
)

// RemoveNetworking deletes the host-global network resources a berthd with
// resource prefix left behind once it is stopped: bridges named prefix+"0"
// or prefix+"-...", every link enslaved to them (the containers' host-side
// veths), every nftables table named prefix or prefix-..., and what the
// iptables backend left (chains prefix-..., rules commented prefix or
// prefix:... or jumping to those chains). berthd leaves them in place
// when it stops (live restore), so a test that started one must remove
// them. A missing resource is not an error.
func RemoveNetworking(prefix string) error {
	if prefix == "" {
		return errors.New("RemoveNetworking: empty prefix")
	}
	return errors.Join(removeLinks(prefix), removeNftTables(prefix), removeIptables(prefix))
}

// ours reports whether a link or bridge name belongs to prefix: berthd's
// names are the prefix followed by "0" (the default bridge) or "-"
// (everything else), so prefix "bt1" never claims "bt12-...".
func ours(name, prefix string) bool {
	rest, ok := strings.CutPrefix(name, prefix)
	return ok && (rest == "0" || strings.HasPrefix(rest, "-"))
}

func removeLinks(prefix string) error {
	links, err := linkList()
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	bridges := map[int]bool{}
	for _, l := range links {
		if ours(l.Attrs().Name, prefix) {
			bridges[l.Attrs().Index] = true
		}
	}
	var errs []error
	del := func(l netlink.Link) {
		err := netlink.LinkDel(l)
		if err != nil && !errors.As(err, new(netlink.LinkNotFoundError)) && !isNoDevice(err) {
			errs = append(errs, fmt.Errorf("delete link %s: %w", l.Attrs().Name, err))
		}
	}
	// Ports first: deleting a bridge frees them, but a veth whose peer
	// is in a namespace that something still holds would stay.
	for _, l := range links {
		if !bridges[l.Attrs().Index] && bridges[l.Attrs().MasterIndex] {
			del(l)
		}
	}
	for _, l := range links {
		if bridges[l.Attrs().Index] {
			del(l)
		}
	}
	return errors.Join(errs...)
}

func isNoDevice(err error) bool { return errors.Is(err, syscall.ENODEV) }

// tableOf reports whether an nftables table belongs to prefix: its name is
// the prefix, or the prefix followed by a separator ("bt1-user").
func tableOf(name, prefix string) bool {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return false
	}
	return rest == "" || strings.IndexAny(rest[:1], "-_.") == 0
}

func removeNftTables(prefix string) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	tables, err := c.ListTables()
	if err != nil {
		return fmt.Errorf("list nftables tables: %w", err)
	}
	n := 0
	for _, t := range tables {
		if tableOf(t.Name, prefix) {
			c.DelTable(t)
			n++
		}
	}
	if n == 0 {
		return nil
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("delete nftables tables of %s: %w", prefix, err)
	}
	return nil
}

// linkList is netlink.LinkList, retried while the kernel interrupts the
// dump because links changed meanwhile (parallel tests make and delete
// them all the time).
func linkList() ([]netlink.Link, error) {
	for i := 1; ; i++ {
		links, err := netlink.LinkList()
		if !errors.Is(err, netlink.ErrDumpInterrupted) || i == 20 {
			return links, err
		}
	}
}
