package firewall

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/testenv"
)

// kit is what a test needs to know about a backend besides the Backend
// interface: how an administrator writes to the user chain, and how to
// look at the ruleset.
type kit struct {
	prefer string
	// userDrop adds to the user chain a rule that drops connections to
	// host port (published-port traffic, matched on the original
	// destination port as a user would).
	userDrop func(t testing.TB, prefix string, port uint16)
	// userChain lists the user chain (to check it is left intact).
	userChain func(t testing.TB, prefix string) string
	// dump is our ruleset as text, for checks and failure logs.
	dump func(prefix string) string
	// removeUser deletes the user chain: only tests do that.
	removeUser func(prefix string)
}

func output(name string, args ...string) string {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

var kits = []kit{
	{
		prefer: NFTables,
		userDrop: func(t testing.TB, prefix string, port uint16) {
			run(t, "nft", "add", "rule", "ip", prefix+"-user", "forward", "meta", "l4proto", "tcp", "ct", "original", "proto-dst", fmt.Sprint(port), "drop")
		},
		userChain: func(t testing.TB, prefix string) string {
			return run(t, "nft", "list", "chain", "ip", prefix+"-user", "forward")
		},
		dump: func(prefix string) string {
			return output("nft", "list", "table", "ip", prefix) + output("nft", "list", "table", "bridge", prefix)
		},
		removeUser: func(prefix string) { _ = exec.Command("nft", "delete", "table", "ip", prefix+"-user").Run() },
	},
	{
		prefer: IPTables,
		userDrop: func(t testing.TB, prefix string, port uint16) {
			run(t, "iptables", "-w", "-A", prefix+"-USER", "-p", "tcp", "-m", "conntrack", "--ctorigdstport", fmt.Sprint(port), "-j", "DROP")
		},
		userChain: func(t testing.TB, prefix string) string {
			return run(t, "iptables", "-w", "-S", prefix+"-USER")
		},
		dump: func(prefix string) string {
			var b strings.Builder
			for _, table := range []string{"raw", "nat", "filter"} {
				for _, line := range strings.Split(output("iptables-save", "-t", table), "\n") {
					if strings.Contains(line, prefix) {
						fmt.Fprintf(&b, "%s: %s\n", table, line)
					}
				}
			}
			return b.String()
		},
		removeUser: func(prefix string) {
			// Teardown removed the jump; the chain is the test's own.
			_ = exec.Command("iptables", "-w", "-F", prefix+"-USER").Run()
			_ = exec.Command("iptables", "-w", "-X", prefix+"-USER").Run()
		},
	},
}

var ctx = context.Background()

// setup returns an initialised backend with its own prefix; everything it
// creates, the user chain included, is removed when the test ends.
func setup(t *testing.T, k kit) (Backend, string) {
	t.Helper()
	testenv.RequireRoot(t)
	prefix := newPrefix()
	fw, err := New(ctx, prefix, k.prefer, slog.Default())
	if err != nil {
		t.Fatalf("New(%s): %v", k.prefer, err)
	}
	if fw.Name() != k.prefer {
		t.Fatalf("New(%s) gave %s", k.prefer, fw.Name())
	}
	t.Cleanup(func() {
		if err := fw.Teardown(ctx); err != nil {
			t.Errorf("Teardown: %v", err)
		}
		k.removeUser(prefix)
		if left := k.dump(prefix); k.prefer == IPTables && left != "" {
			t.Errorf("left behind:\n%s", left)
		}
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("our ruleset (%s):\n%s", prefix, k.dump(prefix))
			t.Logf("nft list ruleset:\n%s", output("nft", "list", "ruleset"))
		}
	})
	if err := fw.Init(ctx); err != nil {
		t.Fatalf("Init: %v", err)
	}
	return fw, prefix
}

func netOf(b bridgeNet) Net {
	return Net{Bridge: b.name, Subnet: b.subnet, ICC: true, Masquerade: true}
}

func must(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// forEachBackend runs test against every backend, in parallel.
func forEachBackend(t *testing.T, test func(t *testing.T, k kit)) {
	for _, k := range kits {
		t.Run(k.prefer, func(t *testing.T) {
			t.Parallel()
			test(t, k)
		})
	}
}

func ap(a netip.Addr, port uint16) netip.AddrPort { return netip.AddrPortFrom(a, port) }

const (
	tcpPort = 8000
	udpPort = 8001
)

// TestPublishedPorts: DNAT from the host's addresses (loopback included:
// hairpin), from a remote host and from containers; a mapping on one host
// address; SetPorts replacing and DeletePorts removing a key's mappings;
// Conflict; a new backend (daemon restart) finding the mappings again.
func TestPublishedPorts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, k kit) {
		fw, p := setup(t, k)
		tp := topo{t: t}
		br := tp.addBridge(p + "b1")
		c1 := tp.addContainer(br, p+"-c1", p+"h1", 2)
		tp.addContainer(br, p+"-c2", p+"h2", 3)
		r := tp.addRemote(p+"-r", p+"r")
		serveTCP(t, p+"-c1", ap(c1, tcpPort))
		serveUDP(t, p+"-c1", ap(c1, udpPort))
		must(t, "SetNetwork", fw.SetNetwork(ctx, netOf(br)))

		hp, hpUDP, hpLo := freePort(t), freePort(t), freePort(t)
		must(t, "SetPorts", fw.SetPorts(ctx, "ep1", []Mapping{
			{Proto: "tcp", HostPort: hp, ContainerIP: c1, ContainerPort: tcpPort, Bridge: br.name},
			{Proto: "udp", HostPort: hpUDP, ContainerIP: c1, ContainerPort: udpPort, Bridge: br.name},
		}))
		loopback := netip.MustParseAddr("127.0.0.1")
		mustReach(t, "host to its bridge address", "", ap(br.gw, hp))
		mustReach(t, "host to its address facing the remote", "", ap(r.hostAddr, hp))
		if from := mustReach(t, "host to 127.0.0.1 (hairpin)", "", ap(loopback, hp)); from.IsValid() && from != br.gw {
			t.Errorf("hairpin: container saw %s, want the gateway %s (masquerade of 127/8)", from, br.gw)
		}
		if from := mustReach(t, "remote host", r.ns, ap(r.hostAddr, hp)); from.IsValid() && from != r.addr {
			t.Errorf("remote: container saw %s, want the remote's own %s", from, r.addr)
		}
		mustReachProto(t, "remote host, udp", r.ns, "udp4", ap(r.hostAddr, hpUDP))
		if from := mustReach(t, "container to its own published port", p+"-c1", ap(r.hostAddr, hp)); from.IsValid() && from != br.gw {
			t.Errorf("self hairpin: container saw %s, want the gateway %s", from, br.gw)
		}
		if from := mustReach(t, "container on the same bridge", p+"-c2", ap(br.gw, hp)); from.IsValid() && from != br.gw {
			t.Errorf("same-bridge hairpin: container saw %s, want the gateway %s", from, br.gw)
		}

		// One host address only.
		must(t, "SetPorts ep2", fw.SetPorts(ctx, "ep2", []Mapping{
			{Proto: "tcp", HostIP: loopback, HostPort: hpLo, ContainerIP: c1, ContainerPort: tcpPort, Bridge: br.name},
		}))
		mustReach(t, "mapping on 127.0.0.1", "", ap(loopback, hpLo))
		mustNotReach(t, "mapping on 127.0.0.1, other address", r.ns, ap(r.hostAddr, hpLo))

		// Replace, conflict, delete.
		hp2 := freePort(t)
		must(t, "SetPorts ep1 again", fw.SetPorts(ctx, "ep1", []Mapping{
			{Proto: "tcp", HostPort: hp2, ContainerIP: c1, ContainerPort: tcpPort, Bridge: br.name},
		}))
		mustNotReach(t, "replaced mapping", r.ns, ap(r.hostAddr, hp))
		mustReach(t, "new mapping", r.ns, ap(r.hostAddr, hp2))
		err := fw.SetPorts(ctx, "ep3", []Mapping{{Proto: "tcp", HostPort: hp2, ContainerIP: c1, ContainerPort: tcpPort}})
		if !errdefs.IsConflict(err) {
			t.Errorf("SetPorts of a port another key publishes: %v, want Conflict", err)
		}

		// A restarted daemon: a new backend finds ep1's mappings again.
		fw2, err := New(ctx, p, k.prefer, slog.Default())
		must(t, "New again", err)
		must(t, "Init again", fw2.Init(ctx))
		mustReach(t, "mapping kept over a restart", r.ns, ap(r.hostAddr, hp2))
		must(t, "DeletePorts after restart", fw2.DeletePorts(ctx, "ep1"))
		mustNotReach(t, "deleted mapping", r.ns, ap(r.hostAddr, hp2))
		mustReach(t, "other key's mapping", "", ap(loopback, hpLo))
		must(t, "DeletePorts of an absent key", fw2.DeletePorts(ctx, "ep1"))
		if d := k.dump(p); strings.Contains(d, "ep1") {
			t.Errorf("ep1 still in the ruleset:\n%s", d)
		}
	})
}

// TestMasquerade: a container reaches a remote host that has no route to
// the containers' subnet, and the remote sees the host's address; without
// Masquerade it cannot.
func TestMasquerade(t *testing.T) {
	forEachBackend(t, func(t *testing.T, k kit) {
		fw, p := setup(t, k)
		tp := topo{t: t}
		br := tp.addBridge(p + "b1")
		tp.addContainer(br, p+"-c1", p+"h1", 2)
		r := tp.addRemote(p+"-r", p+"r")
		serveTCP(t, r.ns, ap(r.addr, tcpPort))
		n := netOf(br)
		must(t, "SetNetwork", fw.SetNetwork(ctx, n))
		if from := mustReach(t, "container to remote", p+"-c1", ap(r.addr, tcpPort)); from.IsValid() && from != r.hostAddr {
			t.Errorf("remote saw %s, want the host's %s", from, r.hostAddr)
		}
		n.Masquerade = false
		must(t, "SetNetwork without masquerade", fw.SetNetwork(ctx, n))
		mustNotReach(t, "container to remote without masquerade", p+"-c1", ap(r.addr, tcpPort))
	})
}

// TestIsolation: containers on two bridges cannot reach each other, except
// through a published port; both still reach the outside.
func TestIsolation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, k kit) {
		fw, p := setup(t, k)
		tp := topo{t: t}
		brA, brB := tp.addBridge(p+"ba"), tp.addBridge(p+"bb")
		a := tp.addContainer(brA, p+"-a", p+"ha", 2)
		b := tp.addContainer(brB, p+"-b", p+"hb", 2)
		r := tp.addRemote(p+"-r", p+"r")
		serveTCP(t, p+"-a", ap(a, tcpPort))
		serveTCP(t, p+"-b", ap(b, tcpPort))
		serveTCP(t, r.ns, ap(r.addr, tcpPort))
		must(t, "SetNetwork a", fw.SetNetwork(ctx, netOf(brA)))
		must(t, "SetNetwork b", fw.SetNetwork(ctx, netOf(brB)))
		hp := freePort(t)
		must(t, "SetPorts", fw.SetPorts(ctx, "epb", []Mapping{{Proto: "tcp", HostPort: hp, ContainerIP: b, ContainerPort: tcpPort}}))

		mustNotReach(t, "a to b", p+"-a", ap(b, tcpPort))
		mustNotReach(t, "b to a", p+"-b", ap(a, tcpPort))
		mustReach(t, "a to b's published port", p+"-a", ap(brA.gw, hp))
		mustReach(t, "a to remote", p+"-a", ap(r.addr, tcpPort))
		mustReach(t, "b to remote", p+"-b", ap(r.addr, tcpPort))
		mustNotReach(t, "remote to a directly", r.ns, ap(a, tcpPort))
	})
}

// TestInternal: an internal network's members talk to each other and to
// nobody else.
func TestInternal(t *testing.T) {
	forEachBackend(t, func(t *testing.T, k kit) {
		fw, p := setup(t, k)
		tp := topo{t: t}
		brI, brN := tp.addBridge(p+"bi"), tp.addBridge(p+"bn")
		tp.addContainer(brI, p+"-i1", p+"h1", 2)
		i2 := tp.addContainer(brI, p+"-i2", p+"h2", 3)
		n := tp.addContainer(brN, p+"-n", p+"hn", 2)
		r := tp.addRemote(p+"-r", p+"r")
		serveTCP(t, p+"-i2", ap(i2, tcpPort))
		serveTCP(t, p+"-n", ap(n, tcpPort))
		serveTCP(t, r.ns, ap(r.addr, tcpPort))
		must(t, "SetNetwork internal", fw.SetNetwork(ctx, Net{Bridge: brI.name, Subnet: brI.subnet, Internal: true, ICC: true}))
		must(t, "SetNetwork", fw.SetNetwork(ctx, netOf(brN)))

		mustReach(t, "internal member to member", p+"-i1", ap(i2, tcpPort))
		mustNotReach(t, "internal to remote", p+"-i1", ap(r.addr, tcpPort))
		mustNotReach(t, "internal to another bridge", p+"-i1", ap(n, tcpPort))
		mustNotReach(t, "another bridge to internal", p+"-n", ap(i2, tcpPort))
		mustReach(t, "the other bridge still goes out", p+"-n", ap(r.addr, tcpPort))
	})
}

// TestICC: with ICC off, containers on one bridge cannot talk to each
// other but still reach the outside.
func TestICC(t *testing.T) {
	forEachBackend(t, func(t *testing.T, k kit) {
		fw, p := setup(t, k)
		tp := topo{t: t}
		br := tp.addBridge(p + "b1")
		tp.addContainer(br, p+"-c1", p+"h1", 2)
		c2 := tp.addContainer(br, p+"-c2", p+"h2", 3)
		r := tp.addRemote(p+"-r", p+"r")
		serveTCP(t, p+"-c2", ap(c2, tcpPort))
		serveTCP(t, r.ns, ap(r.addr, tcpPort))
		n := netOf(br)
		n.ICC = false
		must(t, "SetNetwork icc=false", fw.SetNetwork(ctx, n))
		mustNotReach(t, "c1 to c2 with ICC off", p+"-c1", ap(c2, tcpPort))
		mustReach(t, "c1 to remote with ICC off", p+"-c1", ap(r.addr, tcpPort))
		n.ICC = true
		must(t, "SetNetwork icc=true", fw.SetNetwork(ctx, n))
		mustReach(t, "c1 to c2 with ICC on", p+"-c1", ap(c2, tcpPort))
	})
}

// TestUserChain: a drop rule the administrator puts in the user chain
// blocks a published port, and Teardown, Init and Sync leave the chain and
// its rule as they are.
func TestUserChain(t *testing.T) {
	forEachBackend(t, func(t *testing.T, k kit) {
		fw, p := setup(t, k)
		tp := topo{t: t}
		br := tp.addBridge(p + "b1")
		c1 := tp.addContainer(br, p+"-c1", p+"h1", 2)
		r := tp.addRemote(p+"-r", p+"r")
		serveTCP(t, p+"-c1", ap(c1, tcpPort))
		n := netOf(br)
		must(t, "SetNetwork", fw.SetNetwork(ctx, n))
		hp, hpOther := freePort(t), freePort(t)
		ports := map[string][]Mapping{"ep1": {
			{Proto: "tcp", HostPort: hp, ContainerIP: c1, ContainerPort: tcpPort},
		}, "ep2": {
			{Proto: "tcp", HostPort: hpOther, ContainerIP: c1, ContainerPort: tcpPort},
		}}
		for key, ms := range ports {
			must(t, "SetPorts", fw.SetPorts(ctx, key, ms))
		}
		mustReach(t, "published port before the user rule", r.ns, ap(r.hostAddr, hp))

		k.userDrop(t, p, hp)
		before := k.userChain(t, p)
		mustNotReach(t, "published port with a user drop rule", r.ns, ap(r.hostAddr, hp))
		mustReach(t, "another published port", r.ns, ap(r.hostAddr, hpOther))

		must(t, "Teardown", fw.Teardown(ctx))
		if after := k.userChain(t, p); after != before {
			t.Errorf("Teardown changed the user chain:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		must(t, "Init", fw.Init(ctx))
		must(t, "Sync", fw.Sync(ctx, []Net{n}, ports))
		if after := k.userChain(t, p); after != before {
			t.Errorf("Init and Sync changed the user chain:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		mustNotReach(t, "published port with a user drop rule, after Sync", r.ns, ap(r.hostAddr, hp))
		mustReach(t, "another published port, after Sync", r.ns, ap(r.hostAddr, hpOther))
	})
}

// TestSyncAfterCrash: a daemon that died leaves rules for networks and
// containers that are gone; a new backend's Sync leaves exactly the state
// it is given.
func TestSyncAfterCrash(t *testing.T) {
	forEachBackend(t, func(t *testing.T, k kit) {
		fw, p := setup(t, k)
		tp := topo{t: t}
		br, stale := tp.addBridge(p+"b1"), tp.addBridge(p+"bs")
		c1 := tp.addContainer(br, p+"-c1", p+"h1", 2)
		r := tp.addRemote(p+"-r", p+"r")
		serveTCP(t, p+"-c1", ap(c1, tcpPort))
		serveTCP(t, r.ns, ap(r.addr, tcpPort))
		hpKept, hpGone, hpNew := freePort(t), freePort(t), freePort(t)
		must(t, "SetNetwork", fw.SetNetwork(ctx, netOf(br)))
		must(t, "SetNetwork stale", fw.SetNetwork(ctx, netOf(stale)))
		must(t, "SetPorts kept", fw.SetPorts(ctx, "kept", []Mapping{{Proto: "tcp", HostPort: hpKept, ContainerIP: c1, ContainerPort: tcpPort}}))
		must(t, "SetPorts gone", fw.SetPorts(ctx, "gone", []Mapping{{Proto: "tcp", HostPort: hpGone, ContainerIP: c1, ContainerPort: tcpPort}}))

		// The crash: a new backend on the same prefix, nothing in memory.
		fw2, err := New(ctx, p, k.prefer, slog.Default())
		must(t, "New", err)
		must(t, "Init", fw2.Init(ctx))
		want := map[string][]Mapping{
			"kept":  {{Proto: "tcp", HostPort: hpKept, ContainerIP: c1, ContainerPort: tcpPort}},
			"added": {{Proto: "tcp", HostPort: hpNew, ContainerIP: c1, ContainerPort: tcpPort}},
		}
		must(t, "Sync", fw2.Sync(ctx, []Net{netOf(br)}, want))
		first := k.dump(p)
		for _, gone := range []string{stale.name, "gone"} {
			if strings.Contains(first, gone) {
				t.Errorf("%s still in the ruleset after Sync", gone)
			}
		}
		for _, kept := range []string{br.name, "kept", "added"} {
			if !strings.Contains(first, kept) {
				t.Errorf("%s missing from the ruleset after Sync", kept)
			}
		}
		mustReach(t, "kept mapping", r.ns, ap(r.hostAddr, hpKept))
		mustReach(t, "added mapping", r.ns, ap(r.hostAddr, hpNew))
		mustNotReach(t, "gone mapping", r.ns, ap(r.hostAddr, hpGone))
		mustReach(t, "masquerade of the kept network", p+"-c1", ap(r.addr, tcpPort))
		// The mirror of the maps is right after Sync: a Conflict is seen
		// and a key's replacement works.
		if err := fw2.SetPorts(ctx, "other", want["kept"]); !errdefs.IsConflict(err) {
			t.Errorf("SetPorts of a synced port under another key: %v, want Conflict", err)
		}
		must(t, "DeletePorts added", fw2.DeletePorts(ctx, "added"))
		mustNotReach(t, "deleted after Sync", r.ns, ap(r.hostAddr, hpNew))
		if d := k.dump(p); strings.Contains(d, "added") {
			t.Errorf("added still in the ruleset:\n%s", d)
		}
	})
}

// TestForwardDropPolicy: on a host whose iptables FORWARD chain drops by
// default (dockerd's setting), published ports and outbound traffic still
// work. The "host" is a network namespace of the test's own, so the policy
// stays there; the backend runs on a thread inside it.
func TestForwardDropPolicy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, k kit) {
		testenv.RequireRoot(t)
		p := newPrefix()
		h := addNetns(t, p+"-host")
		in := func(what string, f func() error) {
			t.Helper()
			must(t, what, inNetns(h, f))
		}
		run(t, "ip", "netns", "exec", h, "iptables", "-w", "-P", "FORWARD", "DROP")
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("iptables-save in %s:\n%s", h, output("ip", "netns", "exec", h, "iptables-save"))
				t.Logf("nft list ruleset in %s:\n%s", h, output("ip", "netns", "exec", h, "nft", "list", "ruleset"))
			}
		})
		tp := topo{t: t, ns: h}
		br := tp.addBridge(p + "b1")
		c1 := tp.addContainer(br, p+"-c1", p+"h1", 2)
		r := tp.addRemote(p+"-r", p+"r")
		serveTCP(t, p+"-c1", ap(c1, tcpPort))
		serveTCP(t, r.ns, ap(r.addr, tcpPort))
		hp := freePort(t)
		var fw Backend
		in("setup", func() (err error) {
			if fw, err = New(ctx, p, k.prefer, slog.Default()); err != nil {
				return err
			}
			return errors.Join(fw.Init(ctx), fw.SetNetwork(ctx, netOf(br)),
				fw.SetPorts(ctx, "ep1", []Mapping{{Proto: "tcp", HostPort: hp, ContainerIP: c1, ContainerPort: tcpPort}}))
		})
		mustReach(t, "remote to a published port", r.ns, ap(r.hostAddr, hp))
		mustReach(t, "container to remote", p+"-c1", ap(r.addr, tcpPort))
		if k.prefer == NFTables {
			if rules := run(t, "ip", "netns", "exec", h, "iptables", "-w", "-S", "FORWARD"); strings.Count(rules, p+":"+br.name) != 2 {
				t.Errorf("want two ACCEPT rules for %s in FORWARD:\n%s", br.name, rules)
			}
		}
		in("DeleteNetwork", func() error { return fw.DeleteNetwork(ctx, br.name) })
		if rules := run(t, "ip", "netns", "exec", h, "iptables", "-w", "-S", "FORWARD"); strings.Contains(rules, p) && k.prefer == NFTables {
			t.Errorf("ACCEPT rules left in FORWARD after DeleteNetwork:\n%s", rules)
		}
		// Without our rules the policy applies again.
		mustNotReach(t, "container to remote, network deleted", p+"-c1", ap(r.addr, tcpPort))
		in("SetNetwork", func() error { return fw.SetNetwork(ctx, netOf(br)) })
		in("Sync", func() error {
			return fw.Sync(ctx, []Net{netOf(br)}, map[string][]Mapping{"ep1": {{Proto: "tcp", HostPort: hp, ContainerIP: c1, ContainerPort: tcpPort}}})
		})
		mustReach(t, "remote to a published port after Sync", r.ns, ap(r.hostAddr, hp))
		in("Teardown", func() error { return fw.Teardown(ctx) })
		// Only the user chain stays.
		rules := strings.ReplaceAll(run(t, "ip", "netns", "exec", h, "iptables-save"), ":"+p+"-USER ", "")
		if strings.Contains(rules, p+"-") || strings.Contains(rules, p+":") {
			t.Errorf("rules left after Teardown:\n%s", rules)
		}
	})
}
