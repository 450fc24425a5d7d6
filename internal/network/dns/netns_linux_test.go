package dns

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/testenv"
)

// The listeners under test bind port 53 on 10.2xx addresses. So that they
// never meet the host's own resolvers or another package's test, they live
// in a network namespace of this test process: made once, unnamed, and gone
// when the process exits whatever happens to it. Its loopback is up and
// every test adds the addresses it needs as aliases there. Forwarding
// happens from the host's namespace, so the fake upstreams listen on the
// host's 127.0.0.1.
var testNS struct {
	once     sync.Once
	err      error
	host, ns int // namespace descriptors
	second   byte
	next     atomic.Uint32
	addrMu   sync.Mutex
}

func setupTestNS() {
	testNS.second = byte(200 + rand.IntN(55))
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		host, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("open own netns: %w", err)
			return
		}
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("unshare netns: %w", err)
			return
		}
		ns, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			err = loopbackUp()
		}
		if rerr := unix.Setns(host, unix.CLONE_NEWNET); rerr != nil {
			// This thread stays in the test namespace: exit with it locked
			// so the runtime throws it away.
			done <- fmt.Errorf("back to the host netns: %w", rerr)
			return
		}
		runtime.UnlockOSThread()
		testNS.host, testNS.ns = host, ns
		done <- err
	}()
	testNS.err = <-done
}

// needNS fails t unless the test namespace exists.
func needNS(t testing.TB) {
	t.Helper()
	testenv.RequireRoot(t)
	testNS.once.Do(setupTestNS)
	if testNS.err != nil {
		t.Fatalf("test network namespace: %v", testNS.err)
	}
}

// inNS runs fn on a thread that is inside the test namespace, so the
// sockets it creates belong there.
func inNS(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Setns(testNS.ns, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter test netns: %w", err)
			return
		}
		err := fn()
		if rerr := unix.Setns(testNS.host, unix.CLONE_NEWNET); rerr != nil {
			errc <- errors.Join(err, rerr) // the thread dies locked
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("SIOCGIFFLAGS lo: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("SIOCSIFFLAGS lo: %w", err)
	}
	return nil
}

// testNet returns a fresh /24 of the test namespace; its addresses exist
// only once addAddr adds them.
func testNet(t testing.TB) netip.Prefix {
	t.Helper()
	needNS(t)
	n := testNS.next.Add(1)
	if n > 255 {
		t.Fatalf("test namespace: out of /24s")
	}
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, testNS.second, byte(n), 0}), 24)
}

// hostAddr returns address host of subnet, added to the test namespace's
// loopback as an alias.
func hostAddr(t testing.TB, subnet netip.Prefix, host byte) netip.Addr {
	t.Helper()
	b := subnet.Addr().As4()
	b[3] = host
	addr := netip.AddrFrom4(b)
	label := fmt.Sprintf("lo:%d", int(b[2])<<8|int(b[3]))
	// Serialised: an address is added as /8 first, and while it is, a
	// concurrent netmask change of another /8 address would delete it as
	// that address's secondary.
	testNS.addrMu.Lock()
	defer testNS.addrMu.Unlock()
	err := inNS(func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		ifr, err := unix.NewIfreq(label)
		if err != nil {
			return err
		}
		if err := ifr.SetInet4Addr(b[:]); err != nil {
			return err
		}
		if err := unix.IoctlIfreq(fd, unix.SIOCSIFADDR, ifr); err != nil {
			return fmt.Errorf("SIOCSIFADDR %s %s: %w", label, addr, err)
		}
		// On a loopback device the whole prefix becomes local: /32 keeps
		// the other addresses of the subnet absent, as on a bridge.
		if err := ifr.SetInet4Addr([]byte{255, 255, 255, 255}); err != nil {
			return err
		}
		if err := unix.IoctlIfreq(fd, unix.SIOCSIFNETMASK, ifr); err != nil {
			return fmt.Errorf("SIOCSIFNETMASK %s %s: %w", label, addr, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("add %s to the test namespace: %v", addr, err)
	}
	return addr
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testNS.ns > 0 {
		unix.Close(testNS.ns)
		unix.Close(testNS.host)
	}
	os.Exit(code)
}
