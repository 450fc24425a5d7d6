package network_test

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/testenv/nettest"
)

// TestDNSForwarding: a name only a fake upstream resolver (in a remote
// host's namespace) knows resolves from a container on a user network whose
// --dns names that upstream: the container asks the embedded resolver on
// its network's gateway, which forwards. Container names still resolve
// beside it, and on the default bridge the container asks the upstream
// itself. Without --dns, the daemon's own --dns is the upstream.
func TestDNSForwarding(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	remote := nettest.NewRemoteHost(t)
	answer := netip.MustParseAddr("10.199.77.5")
	upstream := remote.StartDNS(remote.Addr, map[string]netip.Addr{"only.upstream.test": answer})
	user, subnet := e.network()
	gw := nettest.Nth(subnet, 1)

	peer := e.sleeper("--network", user)
	c := e.sleeper("--network", user, "--dns", remote.Addr.String(), "--dns-search", "upstream.test")
	resolv := e.must("exec", c, "cat", "/etc/resolv.conf")
	if !strings.Contains(resolv, "nameserver "+gw.String()) || strings.Contains(resolv, "nameserver "+remote.Addr.String()) {
		t.Errorf("resolv.conf on a user network should name the embedded resolver %s only:\n%s", gw, resolv)
	}
	if !strings.Contains(resolv, "search upstream.test") {
		t.Errorf("resolv.conf lacks the search domain:\n%s", resolv)
	}
	for _, name := range []string{"only.upstream.test", "only"} { // "only" through the search domain
		out := e.must("exec", c, "nslookup", name)
		if !strings.Contains(out, answer.String()) {
			t.Errorf("nslookup %s does not give %s:\n%s", name, answer, out)
		}
	}
	if !slices.Contains(upstream.Queries(), "only.upstream.test A") {
		t.Errorf("the upstream was not asked: %v", upstream.Queries())
	}
	// Without --dns the daemon's --dns is the upstream.
	daemonAnswer := netip.MustParseAddr("10.199.77.6")
	e.d.Upstream.Set("daemon.upstream.test", daemonAnswer)
	if out := e.must("exec", peer, "nslookup", "daemon.upstream.test"); !strings.Contains(out, daemonAnswer.String()) {
		t.Errorf("nslookup through the daemon's --dns upstream does not give %s:\n%s", daemonAnswer, out)
	}
	if q := upstream.Queries(); slices.Contains(q, "daemon.upstream.test A") {
		t.Errorf("a container without --dns was forwarded to another container's upstream: %v", q)
	}
	if r := e.docker("exec", c, "nslookup", "nowhere.upstream.test"); r.exit == 0 {
		t.Errorf("a name the upstream does not know resolved:\n%s", r)
	}
	// A trailing dot: busybox's nslookup tries only the search domains
	// for a name without dots when resolv.conf has some.
	if out := e.must("exec", c, "nslookup", peer+"."); !strings.Contains(out, e.ip(peer, user).String()) {
		t.Errorf("a container name does not resolve beside forwarding:\n%s", out)
	}

	// The default bridge has no embedded resolver: the container's
	// resolv.conf names the upstream, reached through masquerade.
	got := e.must("run", "--rm", "--dns", remote.Addr.String(), "busybox", "sh", "-c",
		"grep ^nameserver /etc/resolv.conf; nslookup only.upstream.test")
	if !strings.Contains(got, "nameserver "+remote.Addr.String()) || !strings.Contains(got, answer.String()) {
		t.Errorf("on the default bridge with --dns %s:\n%s", remote.Addr, got)
	}
	e.removeAll()
}
