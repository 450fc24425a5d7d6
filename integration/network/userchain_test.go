package network_test

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testenv/nettest"
)

// TestUserChainDrop: a drop rule the administrator puts in the user chain
// (nftables table `ip <prefix>-user`, chain `forward`, which Berth creates
// and never flushes; docs/network.md) blocks a published port for other
// hosts, survives a daemon restart, and once removed the port answers
// again. Beyond docker, whose published ports bypass the host's firewall
// (moby#22054).
func TestUserChainDrop(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	client := nettest.NewClientHost(t)
	hp := freePort(t)
	e.httpd("page-guarded", "-p", fmt.Sprintf("%d:80", hp))
	url := fmt.Sprintf("http://%s:%d/", client.HostAddr, hp)
	fromClient := client.HTTPClient(2 * time.Second)
	eventually(t, "the published port answers the client host", func() error {
		_, err := get(fromClient, url)
		return err
	})

	table := e.d.Prefix() + "-user"
	nft := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("nft", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("nft %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out, err := exec.Command("nft", "list", "chain", "ip", table, "forward").CombinedOutput(); err != nil {
		t.Fatalf("no user chain `ip %s forward` (the nftables backend makes it at start): %v\n%s", table, err, out)
	}
	// The original destination port: the chain sees packets after DNAT.
	nft("add", "rule", "ip", table, "forward", "meta", "l4proto", "tcp", "ct", "original", "proto-dst", fmt.Sprint(hp), "counter", "drop")
	if got, err := get(fromClient, url); err == nil {
		t.Fatalf("the drop rule in the user chain did not block the published port: %q", got)
	}

	e.d.Restart(t)
	if rules := nft("list", "chain", "ip", table, "forward"); !strings.Contains(rules, "drop") {
		t.Fatalf("the daemon's restart flushed the user chain:\n%s", rules)
	}
	if got, err := get(fromClient, url); err == nil {
		t.Errorf("after the daemon's restart the drop rule no longer blocks: %q", got)
	}

	nft("flush", "chain", "ip", table, "forward")
	eventually(t, "the port answers once the rule is gone", func() error {
		_, err := get(fromClient, url)
		return err
	})
	e.removeAll()
}
