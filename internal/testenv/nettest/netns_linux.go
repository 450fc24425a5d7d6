package nettest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/berth-project/berth/internal/testenv"
)

// Netns is a network namespace made for a test, bind-mounted at Path
// (under /run/netns, so `ip netns exec NAME` reaches it while debugging).
// Its loopback is up; nothing else is in it until the test adds it.
type Netns struct {
	Name string
	Path string
	t    testing.TB
}

// NewNetns makes a network namespace that is unmounted when t ends.
func NewNetns(t testing.TB) *Netns {
	t.Helper()
	testenv.RequireRoot(t)
	name := testenv.UniqueName(t, "nt")
	n := &Netns{Name: name, Path: filepath.Join("/run/netns", name), t: t}
	created := false
	err := onNewThread(func() error {
		// NewNamed leaves this thread in the new namespace; onNewThread
		// puts it back (or retires the thread).
		h, err := netns.NewNamed(name)
		if err != nil {
			return err
		}
		created = true
		defer h.Close()
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		return netlink.LinkSetUp(lo)
	})
	if created {
		t.Cleanup(func() {
			if err := netns.DeleteNamed(name); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("nettest: delete netns %s: %v", name, err)
			}
		})
	}
	if err != nil {
		t.Fatalf("nettest: new netns %s: %v", name, err)
	}
	return n
}

// Do runs fn on an OS thread that is in the namespace. Sockets fn opens
// belong to the namespace for good, so a listener or connection made in
// Do can be used anywhere afterwards.
func (n *Netns) Do(fn func() error) error {
	h, err := netns.GetFromPath(n.Path)
	if err != nil {
		return fmt.Errorf("open %s: %w", n.Path, err)
	}
	defer h.Close()
	return onNewThread(func() error {
		if err := netns.Set(h); err != nil {
			return fmt.Errorf("setns %s: %w", n.Path, err)
		}
		return fn()
	})
}

// onNewThread runs fn on a locked OS thread and then puts the thread back
// in the process's network namespace. A thread that cannot be put back is
// never unlocked, so the Go runtime ends it with the goroutine instead of
// reusing it for other work.
func onNewThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return // thread stays locked and ends
		}
		defer orig.Close()
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("back to the host's netns: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Handle is a netlink handle inside the namespace, closed when the test
// ends.
func (n *Netns) Handle() *netlink.Handle {
	n.t.Helper()
	h, err := netns.GetFromPath(n.Path)
	if err != nil {
		n.t.Fatalf("nettest: open %s: %v", n.Path, err)
	}
	defer h.Close()
	nh, err := netlink.NewHandleAt(h)
	if err != nil {
		n.t.Fatalf("nettest: netlink in %s: %v", n.Name, err)
	}
	n.t.Cleanup(nh.Close)
	return nh
}

// Dial connects from inside the namespace.
func (n *Netns) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := n.Do(func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Listen opens a listener inside the namespace; it is closed when the test
// ends.
func (n *Netns) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := n.Do(func() error {
		var err error
		l, err = net.Listen(network, addr)
		return err
	})
	if err == nil {
		n.t.Cleanup(func() { _ = l.Close() })
	}
	return l, err
}

// ListenPacket opens a packet socket inside the namespace; it is closed
// when the test ends.
func (n *Netns) ListenPacket(network, addr string) (net.PacketConn, error) {
	var pc net.PacketConn
	err := n.Do(func() error {
		var err error
		pc, err = net.ListenPacket(network, addr)
		return err
	})
	if err == nil {
		n.t.Cleanup(func() { _ = pc.Close() })
	}
	return pc, err
}

// Command is name with args run inside the namespace (through nsenter).
func (n *Netns) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + n.Path, "--", name}, args...)...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Run runs name with args inside the namespace and returns its combined
// output.
func (n *Netns) Run(ctx context.Context, name string, args ...string) (string, error) {
	out, err := n.Command(ctx, name, args...).CombinedOutput()
	if err != nil {
		err = fmt.Errorf("%s %v in netns %s: %w: %s", name, args, n.Name, err, out)
	}
	return string(out), err
}

// Start starts name with args inside the namespace in the background; the
// process is killed (by pid) and reaped when the test ends.
func (n *Netns) Start(name string, args ...string) *exec.Cmd {
	n.t.Helper()
	cmd := exec.Command("nsenter", append([]string{"--net=" + n.Path, "--", name}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		n.t.Fatalf("nettest: start %s in netns %s: %v", name, n.Name, err)
	}
	n.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}
