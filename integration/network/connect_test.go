package network_test

import (
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/testenv/nettest"
)

// TestConnectDisconnect: network connect gives a running container a new
// interface on another network, with an alias and a chosen address,
// reachable by name from that network; disconnect takes it away again.
func TestConnectDisconnect(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	netA, _ := e.network()
	netB, subnetB := e.network()
	c := e.httpd("page-c", "--network", netA)
	b := e.sleeper("--network", netB)
	want := nettest.Nth(subnetB, 50)

	if r := e.docker("exec", b, "timeout", "2", "wget", "-qO-", "http://"+e.ip(c, netA).String()+"/"); r.exit == 0 {
		t.Fatalf("reachable before connect:\n%s", r)
	}
	e.must("network", "connect", "--alias", "joined", "--ip", want.String(), netB, c)
	if got := e.ip(c, netB); got != want {
		t.Errorf("address on %s after connect --ip %s: %s", netB, want, got)
	}
	if got := e.must("inspect", "-f", "{{len .NetworkSettings.Networks}}", c); got != "2" {
		t.Errorf("%s is on %s networks, want 2", c, got)
	}
	if addrs := e.must("exec", c, "ip", "-4", "-o", "addr"); !strings.Contains(addrs, "eth1") || !strings.Contains(addrs, want.String()+"/") {
		t.Errorf("no eth1 with %s in the container:\n%s", want, addrs)
	}
	for _, target := range []string{"joined", c, want.String()} {
		if got := e.must("exec", b, "timeout", "3", "wget", "-qO-", "http://"+target+"/"); got != "page-c" {
			t.Errorf("after connect, wget http://%s/ = %q", target, got)
		}
	}
	if got := e.must("network", "inspect", "-f", "{{range .Containers}}{{.Name}} {{end}}", netB); !strings.Contains(got, c) {
		t.Errorf("network inspect %s does not list %s: %q", netB, c, got)
	}
	e.fails("network", "connect", netB, c) // already connected

	e.must("network", "disconnect", netB, c)
	if got := e.must("inspect", "-f", "{{len .NetworkSettings.Networks}}", c); got != "1" {
		t.Errorf("%s is on %s networks after disconnect, want 1", c, got)
	}
	if addrs := e.must("exec", c, "ip", "-4", "-o", "addr"); strings.Contains(addrs, "eth1") {
		t.Errorf("eth1 is still in the container:\n%s", addrs)
	}
	if r := e.docker("exec", b, "timeout", "2", "wget", "-qO-", "http://"+want.String()+"/"); r.exit == 0 {
		t.Errorf("reachable after disconnect:\n%s", r)
	}
	if r := e.docker("exec", b, "nslookup", "joined"); r.exit == 0 {
		t.Errorf("the alias still resolves after disconnect:\n%s", r)
	}
	// The address is free again: another container may take it.
	e.must("run", "--rm", "--network", netB, "--ip", want.String(), "busybox", "true")
	// And the container still works on its first network.
	e.must("exec", b, "true")
	e.removeAll()
}
