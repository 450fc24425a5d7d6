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
// (nftables: table `ip <prefix>-user`, chain `forward`; iptables: chain
// `<prefix>-USER` of table filter; Berth creates it and never flushes it;
// docs/network.md) blocks a published port for other
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

	chain := userChainOf(t, e.d.Prefix())
	chain.drop(t, hp)
	if got, err := get(fromClient, url); err == nil {
		t.Fatalf("the drop rule in the user chain (%s) did not block the published port: %q", chain, got)
	}

	e.d.Restart(t)
	if rules := chain.list(t); !strings.Contains(strings.ToLower(rules), "drop") {
		t.Fatalf("the daemon's restart flushed the user chain:\n%s", rules)
	}
	if got, err := get(fromClient, url); err == nil {
		t.Errorf("after the daemon's restart the drop rule no longer blocks: %q", got)
	}

	chain.flush(t)
	eventually(t, "the port answers once the rule is gone", func() error {
		_, err := get(fromClient, url)
		return err
	})
	e.removeAll()
}

// userChain is the daemon's user chain in whichever firewall backend it
// uses.
type userChain struct {
	nft    bool
	prefix string
}

func (c userChain) String() string {
	if c.nft {
		return "nftables ip " + c.prefix + "-user forward"
	}
	return "iptables filter " + c.prefix + "-USER"
}

// userChainOf finds the user chain: nftables first, iptables otherwise.
func userChainOf(t *testing.T, prefix string) userChain {
	t.Helper()
	if exec.Command("nft", "list", "chain", "ip", prefix+"-user", "forward").Run() == nil {
		return userChain{nft: true, prefix: prefix}
	}
	if exec.Command("iptables", "-w", "-S", prefix+"-USER").Run() == nil {
		return userChain{prefix: prefix}
	}
	t.Fatalf("no user chain: neither nftables `ip %s-user forward` nor iptables `%s-USER` (the firewall makes it at the daemon's start)", prefix, prefix)
	return userChain{}
}

// drop adds a rule dropping TCP connections to host port hp; the chain
// sees packets after DNAT, so the rule matches conntrack's original
// destination port.
func (c userChain) drop(t *testing.T, hp uint16) {
	t.Helper()
	if c.nft {
		hostCmd(t, "nft", "add", "rule", "ip", c.prefix+"-user", "forward",
			"meta", "l4proto", "tcp", "ct", "original", "proto-dst", fmt.Sprint(hp), "counter", "drop")
		return
	}
	hostCmd(t, "iptables", "-w", "-A", c.prefix+"-USER", "-p", "tcp", "-m", "conntrack", "--ctorigdstport", fmt.Sprint(hp), "-j", "DROP")
}

func (c userChain) list(t *testing.T) string {
	t.Helper()
	if c.nft {
		return hostCmd(t, "nft", "list", "chain", "ip", c.prefix+"-user", "forward")
	}
	return hostCmd(t, "iptables", "-w", "-S", c.prefix+"-USER")
}

func (c userChain) flush(t *testing.T) {
	t.Helper()
	if c.nft {
		hostCmd(t, "nft", "flush", "chain", "ip", c.prefix+"-user", "forward")
		return
	}
	hostCmd(t, "iptables", "-w", "-F", c.prefix+"-USER")
}

// hostCmd runs a host command and returns its output, failing t on error.
func hostCmd(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
