package daemontest

import (
	"crypto/rand"
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"

	"github.com/berth-project/berth/internal/testenv"
)

// TestRemoveNetworking leaves what a stopped berthd would (a bridge with a
// veth in it, a user bridge, an nftables table) and one look-alike of
// another prefix, and checks that only the prefix's are removed.
func TestRemoveNetworking(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	var b [3]byte
	_, _ = rand.Read(b[:])
	prefix := "rn" + hex.EncodeToString(b[:])
	other := prefix + "x"
	add := func(l netlink.Link) {
		t.Helper()
		if err := netlink.LinkAdd(l); err != nil {
			t.Fatalf("add %s: %v", l.Attrs().Name, err)
		}
		t.Cleanup(func() { _ = netlink.LinkDel(l) })
	}
	add(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: prefix + "0"}})
	add(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: prefix + "-abcd"}})
	add(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: other + "-1"}})
	add(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "v" + prefix + "a"}, PeerName: "v" + prefix + "b"})
	br, _ := netlink.LinkByName(prefix + "0")
	veth, _ := netlink.LinkByName("v" + prefix + "a")
	if err := netlink.LinkSetMaster(veth, br); err != nil {
		t.Fatal(err)
	}
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	ours := c.AddTable(&nftables.Table{Name: prefix, Family: nftables.TableFamilyINet})
	theirs := c.AddTable(&nftables.Table{Name: other + "z", Family: nftables.TableFamilyINet})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// One table per batch: a batch fails whole when one of its
		// deletions does (ours is normally gone already).
		for _, tb := range []*nftables.Table{ours, theirs} {
			c.DelTable(tb)
			_ = c.Flush()
		}
	})

	if err := RemoveNetworking(prefix); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{prefix + "0", prefix + "-abcd", "v" + prefix + "a", "v" + prefix + "b"} {
		if _, err := netlink.LinkByName(name); err == nil {
			t.Errorf("link %s left", name)
		}
	}
	if _, err := netlink.LinkByName(other + "-1"); err != nil {
		t.Errorf("another prefix's bridge was removed: %v", err)
	}
	tables, err := c.ListTables()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, tb := range tables {
		found[tb.Name] = true
	}
	if found[prefix] || !found[other+"z"] {
		t.Errorf("tables after: %v; want %s gone and %s kept", found, prefix, other+"z")
	}
}

// TestRemoveIptables leaves what the iptables backend would (a chain of
// ours with a jump to it, a FORWARD rule commented prefix:bridge) beside a
// look-alike of another prefix, and checks that only ours go.
func TestRemoveIptables(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	var b [3]byte
	_, _ = rand.Read(b[:])
	prefix := "ri" + hex.EncodeToString(b[:])
	other := prefix + "x"
	ipt := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("iptables", append([]string{"-w"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("iptables %v: %v\n%s", args, err, out)
		}
	}
	for _, p := range []string{prefix, other} {
		ipt("-t", "filter", "-N", p+"-USER")
		ipt("-t", "filter", "-A", "FORWARD", "-m", "comment", "--comment", p, "-j", p+"-USER")
		ipt("-t", "filter", "-A", "FORWARD", "-i", p+"-abcd", "-m", "comment", "--comment", p+":"+p+"-abcd", "-j", "ACCEPT")
		ipt("-t", "filter", "-A", p+"-USER", "-j", "RETURN")
	}
	t.Cleanup(func() {
		out, _ := exec.Command("iptables-save", "-t", "filter").Output()
		if script := iptablesRemoval("filter", string(out), other); script != "" {
			cmd := exec.Command("iptables-restore", "-w", "--noflush")
			cmd.Stdin = strings.NewReader(script)
			_ = cmd.Run()
		}
	})
	if err := removeIptables(prefix); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("iptables-save", "-t", "filter").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, prefix) && !strings.Contains(line, other) {
			t.Errorf("left: %s", line)
		}
	}
	if !strings.Contains(string(out), ":"+other+"-USER") || !strings.Contains(string(out), other+":"+other+"-abcd") {
		t.Errorf("another prefix's chain or rule was removed:\n%s", out)
	}
}
