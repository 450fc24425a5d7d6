package nettest

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/berth-project/berth/internal/testenv/daemontest"
)

// Daemon is a berthd started by StartDaemon, with the subnet of its
// default bridge.
type Daemon struct {
	*daemontest.Daemon
	// Bridge is the default bridge network's subnet; its gateway (the
	// bridge's address, --bip) is BridgeGateway.
	Bridge        netip.Prefix
	BridgeGateway netip.Addr
	// Upstream is the daemon's --dns: a fake resolver in a remote host
	// of the test's (no records until the test Sets some), so that
	// nothing the containers look up reaches the host's resolvers.
	Upstream *DNSServer
}

// StartDaemon starts berthd for t (daemontest.Start; opts may add flags)
// with its default bridge on a subnet from Subnet (--bip), so daemons of
// tests running at once never compete for 172.17.0.0/16. When t ends,
// after daemontest has stopped the daemon and removed its containers and
// mounts, the bridges, veths and nftables tables named with its prefix are
// deleted (daemontest.RemoveNetworking). Its --dns is a fake upstream
// resolver (Daemon.Upstream).
func StartDaemon(t testing.TB, opts ...daemontest.Option) *Daemon {
	t.Helper()
	prefix := Prefix(t)
	bridge := Subnet(t)
	gw := Nth(bridge, 1)
	upstream := NewUpstream(t)
	// Registered before daemontest.Start registers its own cleanup, so it
	// runs after the daemon has stopped (cleanups run last-in first-out).
	t.Cleanup(func() {
		if err := daemontest.RemoveNetworking(prefix); err != nil {
			t.Errorf("nettest: %v", err)
		}
	})
	all := append([]daemontest.Option{
		daemontest.WithTarget(daemontest.Berth),
		daemontest.WithPrefix(prefix),
		daemontest.WithArgs("--bip", fmt.Sprintf("%s/%d", gw, bridge.Bits()), "--dns", upstream.Addr.Addr().String()),
	}, opts...)
	d := daemontest.Start(t, all...)
	return &Daemon{Daemon: d, Bridge: bridge, BridgeGateway: gw, Upstream: upstream}
}
