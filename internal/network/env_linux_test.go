package network

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/big"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/testenv"
)

// testNet is one test's private world: its prefix, its roots, its
// subnets from 10.200-254.x.0/24, and a cleanup that leaves nothing behind.
type testNet struct {
	t      testing.TB
	prefix string
	cfg    Config
	// level is the Manager's log level: debug while the test runs, warn
	// from teardown on, so that a failure's message is not buried under
	// the routine lines of the cleanup (CI shows a failure's last lines).
	level slog.LevelVar
}

var subnetMu sync.Mutex
var subnetsTaken = map[netip.Prefix]bool{}

// subnet returns a /24 from 10.200.0.0-10.254.255.0 that no other test of
// this process holds and no host route overlaps.
func (e *testNet) subnet() netip.Prefix {
	e.t.Helper()
	h, err := routeHandle()
	if err != nil {
		e.t.Fatal(err)
	}
	defer h.Close()
	routes, err := hostRoutes(h)
	if err != nil {
		e.t.Fatal(err)
	}
	subnetMu.Lock()
	defer subnetMu.Unlock()
	for {
		b, _ := rand.Int(rand.Reader, big.NewInt(55*256))
		v := int(b.Int64())
		p := netip.MustParsePrefix(fmt.Sprintf("10.%d.%d.0/24", 200+v/256, v%256))
		if !subnetsTaken[p] && !overlapsAny(p, routes) {
			subnetsTaken[p] = true
			return p
		}
	}
}

func randHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// newTestNet makes a config with a random 6-character prefix, no default
// bridge and the "none" firewall; change cfg before start.
func newTestNet(t testing.TB) *testNet {
	t.Helper()
	testenv.RequireRoot(t)
	dir := t.TempDir()
	e := &testNet{t: t, prefix: "nt" + randHex(4)}
	e.level.Set(slog.LevelDebug)
	e.cfg = Config{
		Root:          filepath.Join(dir, "network"),
		ExecRoot:      filepath.Join(dir, "netns"),
		Prefix:        e.prefix,
		DefaultBridge: "none",
		Firewall:      "none",
		DNSUpstreams:  []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:1")},
		Logger:        slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: &e.level})),
	}
	t.Cleanup(e.sweep)
	return e
}

// start opens a Manager on e's config; it is closed at the end of the test.
func (e *testNet) start() *Manager {
	e.t.Helper()
	m, err := New(context.Background(), e.cfg)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	e.t.Cleanup(func() { _ = m.Close() })
	return m
}

// sweep removes everything a test of prefix may have left: sandboxes,
// veths and bridges, whatever the test did; and checks nothing remains.
func (e *testNet) sweep() {
	t := e.t
	if ents, err := os.ReadDir(e.cfg.ExecRoot); err == nil {
		for _, ent := range ents {
			if !strings.HasPrefix(ent.Name(), ".") {
				_ = removeNetnsFile(filepath.Join(e.cfg.ExecRoot, ent.Name()))
			}
		}
	}
	h, err := routeHandle()
	if err != nil {
		t.Error(err)
		return
	}
	defer h.Close()
	links, err := dump(h.LinkList)
	if err != nil {
		t.Error(err)
		return
	}
	ours := map[int]bool{}
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, e.prefix) {
			ours[l.Attrs().Index] = true
		}
	}
	for _, l := range links {
		if ours[l.Attrs().MasterIndex] {
			t.Errorf("leak: veth %s still on a bridge of the test", l.Attrs().Name)
			_ = h.LinkDel(l)
		}
	}
	for _, l := range links {
		if ours[l.Attrs().Index] {
			t.Errorf("leak: link %s", l.Attrs().Name)
			_ = h.LinkDel(l)
		}
	}
}

// teardown is the end of a test that leaves the host clean through the
// Manager itself: every endpoint and sandbox released, every user network
// and the default bridge removed.
func (e *testNet) teardown(m *Manager) {
	t := e.t
	t.Helper()
	e.level.Set(slog.LevelWarn)
	ctx := context.Background()
	if err := m.Reconcile(ctx, nil); err != nil {
		t.Errorf("Reconcile(nil): %v", err)
	}
	for _, n := range m.Networks() {
		if !n.Predefined {
			if err := m.RemoveNetwork(ctx, n.ID); err != nil {
				t.Errorf("RemoveNetwork %s: %v", n.Name, err)
			}
		}
	}
	if n, err := m.Network("bridge"); err == nil {
		h, _ := routeHandle()
		_ = deleteLink(h, n.Bridge)
		h.Close()
	}
	if err := m.fw.Teardown(ctx); err != nil {
		t.Errorf("firewall Teardown: %v", err)
	}
	// Teardown keeps the administrator's user chain; the test's is its own.
	switch m.fw.Name() {
	case "nftables":
		_ = exec.Command("nft", "delete", "table", "ip", e.prefix+"-user").Run()
	case "iptables":
		_ = exec.Command("iptables", "-w", "-F", e.prefix+"-USER").Run()
		_ = exec.Command("iptables", "-w", "-X", e.prefix+"-USER").Run()
	}
}

// inNetns runs fn on a thread inside the namespace at path. A socket made
// there stays in that namespace after the thread leaves.
func inNetns(path string, fn func() error) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		host, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- err
			return
		}
		defer unix.Close(host)
		ns, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- err
			return
		}
		defer unix.Close(ns)
		if err := unix.Setns(ns, unix.CLONE_NEWNET); err != nil {
			ch <- err
			return
		}
		ferr := fn()
		if err := unix.Setns(host, unix.CLONE_NEWNET); err != nil {
			ch <- fmt.Errorf("setns back: %w", err) // the thread dies locked
			return
		}
		runtime.UnlockOSThread()
		ch <- ferr
	}()
	return <-ch
}

// linkExists says whether the host has a link called name.
func linkExists(t testing.TB, name string) bool {
	t.Helper()
	_, err := netlink.LinkByName(name)
	if err != nil && !isNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

// testLog sends the Manager's log to the test's, shown when it fails.
type testLog struct{ t testing.TB }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
