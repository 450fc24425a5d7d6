package network_test

import (
	"strings"
	"testing"
)

// TestContainerMode: --network container:<name> shares the other
// container's network namespace: the same interfaces and addresses, and
// its services on 127.0.0.1.
func TestContainerMode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	net, _ := e.network()
	owner := e.httpd("page-owner", "--network", net)
	ownerID := e.must("inspect", "-f", "{{.Id}}", owner)
	// The IPv6 link-local address is "tentative" until its duplicate
	// detection ends, which a loaded host may not have reached yet.
	ipAddrs := func(out string) string { return strings.ReplaceAll(out, " tentative ", " ") }
	addrs := ipAddrs(e.must("exec", owner, "ip", "-o", "addr"))
	mac := e.must("exec", owner, "cat", "/sys/class/net/eth0/address")

	for _, mode := range []string{"container:" + owner, "container:" + ownerID[:12]} {
		if got := ipAddrs(e.must("run", "--rm", "--network", mode, "busybox", "ip", "-o", "addr")); got != addrs {
			t.Errorf("--network %s sees other interfaces:\n%s\nwant:\n%s", mode, got, addrs)
		}
		if got := e.must("run", "--rm", "--network", mode, "busybox", "cat", "/sys/class/net/eth0/address"); got != mac {
			t.Errorf("--network %s: eth0's MAC %s, want %s", mode, got, mac)
		}
		if got := e.must("run", "--rm", "--network", mode, "busybox", "timeout", "3", "wget", "-qO-", "http://127.0.0.1/"); got != "page-owner" {
			t.Errorf("--network %s: 127.0.0.1:80 = %q", mode, got)
		}
	}
	e.fails("run", "--rm", "--network", "container:no-such-container", "busybox", "true")
	e.removeAll()
}
