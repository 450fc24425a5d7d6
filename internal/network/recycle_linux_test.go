package network

import (
	"context"
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// netnsInode is the inode of the namespace mounted at path.
func netnsInode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// holdNetns keeps the namespace at path alive until the test ends, so that
// its inode number cannot be given to a new namespace meanwhile.
func holdNetns(t *testing.T, path string) {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
}

// sandboxInodes makes n sandboxes and returns their namespaces' inodes.
func sandboxInodes(t *testing.T, m *Manager, n int) map[uint64]bool {
	t.Helper()
	ctx := context.Background()
	seen := map[uint64]bool{}
	for i := 0; i < n; i++ {
		id := "z" + randHex(63)
		p, err := m.NewSandbox(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		seen[netnsInode(t, p)] = true
		if err := m.RemoveSandbox(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	m.sandboxes.wait()
	return seen
}

// TestRecycleSandbox: the namespace of a sandbox nothing used comes back
// from RecycleSandbox to a later NewSandbox; one whose loopback carried a
// packet, or that RemoveSandbox removed, does not.
func TestRecycleSandbox(t *testing.T) {
	t.Parallel()
	e := newTestNet(t)
	m := e.start()
	defer e.teardown(m)
	ctx := context.Background()

	unused, used, removed := "u"+randHex(63), "p"+randHex(63), "r"+randHex(63)
	inode := map[string]uint64{}
	for _, id := range []string{unused, used, removed} {
		p, err := m.NewSandbox(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		holdNetns(t, p)
		inode[id] = netnsInode(t, p)
	}
	// One UDP datagram to nobody over loopback.
	err := inNetns(m.sandboxes.path(used), func() error {
		c, err := net.Dial("udp4", "127.0.0.1:9")
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("x"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{unused, used} {
		if err := m.RecycleSandbox(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.RemoveSandbox(ctx, removed); err != nil {
		t.Fatal(err)
	}
	m.sandboxes.wait()
	for _, id := range []string{unused, used, removed} {
		if isNsfs(m.sandboxes.path(id)) {
			t.Errorf("sandbox %s still mounted", id[:1])
		}
	}

	// The pool holds at most plainPoolCap: taking one more than that
	// takes every namespace it had.
	seen := sandboxInodes(t, m, plainPoolCap+1)
	if !seen[inode[unused]] {
		t.Errorf("the unused sandbox's namespace was not recycled")
	}
	if seen[inode[used]] {
		t.Errorf("a namespace whose loopback carried a packet was recycled")
	}
	if seen[inode[removed]] {
		t.Errorf("a namespace given to RemoveSandbox was recycled")
	}
}

// TestRecycleSandboxHeldSocket: a socket bound in the namespace (one an
// outside process could still hold) keeps it from being recycled.
func TestRecycleSandboxHeldSocket(t *testing.T) {
	t.Parallel()
	e := newTestNet(t)
	m := e.start()
	defer e.teardown(m)
	ctx := context.Background()

	id := "h" + randHex(63)
	p, err := m.NewSandbox(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	holdNetns(t, p)
	ino := netnsInode(t, p)
	var ln net.Listener
	err = inNetns(p, func() error {
		var err error
		ln, err = net.Listen("tcp4", "127.0.0.1:0")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := m.RecycleSandbox(ctx, id); err != nil {
		t.Fatal(err)
	}
	m.sandboxes.wait()
	if sandboxInodes(t, m, plainPoolCap+1)[ino] {
		t.Errorf("a namespace with a listening socket was recycled")
	}
}

func TestOnlyIdleLoopback(t *testing.T) {
	const head = "Inter-|   Receive                                                |  Transmit\n" +
		" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
	const idle = "    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0\n"
	for _, c := range []struct {
		name string
		dev  string
		want bool
	}{
		{"idle loopback", head + idle, true},
		{"traffic", head + "    lo:      28       1    0    0    0     0          0         0       28       1    0    0    0     0       0          0\n", false},
		{"another interface", head + idle + "  eth0:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0\n", false},
		{"not loopback", head + "  eth0:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0\n", false},
		{"short line", head + "    lo:       0       0\n", false},
		{"empty", "", false},
	} {
		if got := onlyIdleLoopback([]byte(c.dev)); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestNoSockets(t *testing.T) {
	const head = "protocol  size sockets  memory press maxhdr  slab module     cl co di ac io in de sh ss gs se re bi br ha uh gp em\n"
	for _, c := range []struct {
		name, protocols string
		want            bool
	}{
		{"none", head + "PACKET    1536      0      -1   NI       0   no   kernel      n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n\nTCP       2432      0       0   no     320   yes  kernel      y  y  y  y  y  y  y  y  y  y  y  y  y  n  y  y  y  y\n", true},
		{"one", head + "UNIX      1088      1      -1   NI       0   yes  kernel      n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n\n", false},
		{"no sockets column", "protocol size\nTCP 2432\n", false},
		{"empty", "", false},
	} {
		if got := noSockets([]byte(c.protocols)); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
