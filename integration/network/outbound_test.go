package network_test

import (
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/testenv/nettest"
)

// TestOutbound: containers on the default bridge and on a user network
// reach a remote host, which sees the host's address (masquerade: it has
// no route back to the containers' subnets); a container on an --internal
// network has no default route and cannot reach it.
func TestOutbound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	remote := nettest.NewRemoteHost(t)
	whoami := "http://" + remote.ServeWhoAmI(remote.Addr).String() + "/"
	user, _ := e.network()
	internal, internalSubnet := e.network("--internal")

	for _, n := range []string{"bridge", user} {
		got := e.must("run", "--rm", "--network", n, "busybox", "timeout", "5", "wget", "-qO-", whoami)
		if got != remote.HostAddr.String() {
			t.Errorf("on %s: the remote host saw %q, want the host's address %s (masquerade)", n, got, remote.HostAddr)
		}
	}

	c := e.sleeper("--network", internal)
	if routes := e.must("exec", c, "ip", "route"); strings.Contains(routes, "default") {
		t.Errorf("a container on an internal network has a default route:\n%s", routes)
	}
	if r := e.docker("exec", c, "timeout", "2", "wget", "-qO-", whoami); r.exit == 0 {
		t.Errorf("a container on an internal network reached the remote host:\n%s", r)
	}
	if r := e.docker("exec", c, "ping", "-c1", "-W1", remote.Addr.String()); r.exit == 0 {
		t.Errorf("a container on an internal network pinged the remote host:\n%s", r)
	}
	// Even with a route of its own (it has none: this is what the
	// firewall must stop), a privileged container gets nowhere.
	p := e.sleeper("--network", internal, "--cap-add", "NET_ADMIN")
	gw := nettest.Nth(internalSubnet, 1).String()
	e.must("exec", p, "ip", "route", "add", remote.Subnet.String(), "via", gw)
	if r := e.docker("exec", p, "timeout", "2", "wget", "-qO-", whoami); r.exit == 0 {
		t.Errorf("an internal network forwarded to the remote host:\n%s", r)
	}
	// Members of the internal network still reach each other.
	e.must("exec", c, "ping", "-c1", "-W2", p)
	e.removeAll()
}
