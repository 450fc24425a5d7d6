package nettest

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink"
)

// subnetLockDir holds one file per /24 handed out by Subnet (named like
// "10.231.7.0") and per resource prefix handed out by Prefix
// ("prefix-nq3x7a") in any test process on the host, holding the owner's
// pid: two test binaries running at once (go test ./... runs packages in
// parallel) must not pick the same one.
const subnetLockDir = "/run/berth-nettest"

var subnetMu sync.Mutex

// Subnet returns a /24 out of 10.200.0.0-10.254.255.255 that no host
// address or route overlaps and that no other live caller on the host
// holds. It is released when t ends.
func Subnet(t testing.TB) netip.Prefix {
	t.Helper()
	p, err := reserveSubnet()
	if err != nil {
		t.Fatalf("nettest: Subnet: %v", err)
	}
	t.Cleanup(func() { releaseSubnet(p) })
	return p
}

func reserveSubnet() (netip.Prefix, error) {
	subnetMu.Lock()
	defer subnetMu.Unlock()
	used, err := hostPrefixes()
	if err != nil {
		return netip.Prefix{}, err
	}
	for range 2000 {
		var b [2]byte
		_, _ = rand.Read(b[:])
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 200 + b[0]%55, b[1], 0}), 24)
		if overlapsAny(p, used) {
			continue
		}
		ok, err := lockName(p.Addr().String())
		if err != nil {
			return netip.Prefix{}, err
		}
		if ok {
			return p, nil
		}
	}
	return netip.Prefix{}, errors.New("no free /24 in 10.200.0.0-10.254.255.255")
}

// lockName claims the lock file name in subnetLockDir; a file whose owner
// has exited is taken over. subnetMu is held.
func lockName(name string) (bool, error) {
	if err := os.MkdirAll(subnetLockDir, 0o755); err != nil {
		return false, err
	}
	path := filepath.Join(subnetLockDir, name)
	for range 2 {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			_, err = fmt.Fprintf(f, "%d\n", os.Getpid())
			return true, errors.Join(err, f.Close())
		}
		if !errors.Is(err, os.ErrExist) {
			return false, err
		}
		data, _ := os.ReadFile(path)
		pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		if pid > 0 && (pid == os.Getpid() || syscall.Kill(pid, 0) == nil) {
			return false, nil // held
		}
		_ = os.Remove(path) // stale: its test binary is gone
	}
	return false, nil
}

func releaseSubnet(p netip.Prefix) {
	subnetMu.Lock()
	defer subnetMu.Unlock()
	unlockName(p.Addr().String())
}

// unlockName removes a lock file of lockName; subnetMu is held.
func unlockName(name string) { _ = os.Remove(filepath.Join(subnetLockDir, name)) }

// hostPrefixes lists every IPv4 prefix the host's own namespace uses: its
// addresses and the destinations of its main table's routes.
func hostPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return netlink.AddrList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	for _, a := range addrs {
		if p, ok := prefixOf(a.IPNet.IP, a.IPNet.Mask); ok {
			out = append(out, p)
		}
	}
	routes, err := retryDump(func() ([]netlink.Route, error) { return netlink.RouteList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		// netlink reports the default route as 0.0.0.0/0, which
		// overlaps everything and means nothing here.
		if p, ok := prefixOf(r.Dst.IP, r.Dst.Mask); ok && p.Bits() > 0 {
			out = append(out, p)
		}
	}
	return out, nil
}

func prefixOf(ip net.IP, mask net.IPMask) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(ip)
	if !ok || !a.Unmap().Is4() {
		return netip.Prefix{}, false
	}
	ones, bits := mask.Size()
	if bits == 128 {
		ones -= 96
	}
	if bits == 0 || ones < 0 {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a.Unmap(), ones).Masked(), true
}

func overlapsAny(p netip.Prefix, used []netip.Prefix) bool {
	for _, u := range used {
		if p.Overlaps(u) {
			return true
		}
	}
	return false
}

// Nth is the n-th address of p (0 is the network's own address).
func Nth(p netip.Prefix, n int) netip.Addr {
	a := p.Masked().Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += uint32(n)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
