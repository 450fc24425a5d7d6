package firewall

import (
	"bufio"
	"context"
	"log/slog"
	"strings"

	"github.com/google/nftables"
)

// forwardCompat keeps the nftables backend working beside an iptables
// whose FORWARD chain drops by default (dockerd sets that policy).
// iptables-nft's FORWARD chain is a base chain of its own (`ip filter
// FORWARD`) on the same hook as ours: our accept does not stop its DROP
// policy from dropping our bridges' traffic. When we see that policy we
// insert, through the iptables command as dockerd does for its bridges,
// `-i BRIDGE -j ACCEPT` and `-o BRIDGE -j ACCEPT` at the top of FORWARD,
// commented "P:BRIDGE". They only neutralise that policy for our bridges:
// what must be dropped is dropped by our own chain and the user chain,
// which are separate base chains. An iptables-legacy FORWARD chain is
// invisible to nftables and is not handled (documented).
type forwardCompat struct {
	prefix string
	log    *slog.Logger
	warned bool
}

// forwardPolicy reports whether iptables-nft's FORWARD chain exists and
// whether its policy is drop.
func forwardPolicy(c *nftables.Conn) (exists, drops bool) {
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return false, false
	}
	for _, ch := range chains {
		if ch.Table.Name == "filter" && ch.Name == "FORWARD" {
			return true, ch.Policy != nil && *ch.Policy == nftables.ChainPolicyDrop
		}
	}
	return false, false
}

func (f *forwardCompat) warn() {
	if f.warned {
		return
	}
	f.warned = true
	f.log.Warn("firewall: iptables' FORWARD chain drops by default (dockerd sets that); inserting ACCEPT rules for Berth's bridges at its top, commented " + f.prefix + ":BRIDGE")
}

// check warns at Init when the policy is drop.
func (f *forwardCompat) check(ctx context.Context, c *nftables.Conn) {
	if _, drops := forwardPolicy(c); drops {
		f.warn()
	}
}

func (f *forwardCompat) specs(bridge string) [][]string {
	cmt := f.prefix + ":" + bridge
	return [][]string{
		{"FORWARD", "-i", bridge, "-m", "comment", "--comment", cmt, "-j", "ACCEPT"},
		{"FORWARD", "-o", bridge, "-m", "comment", "--comment", cmt, "-j", "ACCEPT"},
	}
}

// allow inserts bridge's ACCEPT rules when FORWARD drops by default.
func (f *forwardCompat) allow(ctx context.Context, c *nftables.Conn, bridge string) {
	if _, drops := forwardPolicy(c); !drops {
		return
	}
	f.warn()
	for _, spec := range f.specs(bridge) {
		if _, err := iptablesCmd(ctx, "iptables", append([]string{"-C"}, spec...)...); err == nil {
			continue
		}
		if _, err := iptablesCmd(ctx, "iptables", append([]string{"-I"}, spec...)...); err != nil {
			f.log.Error("firewall: cannot let bridge traffic through iptables' FORWARD chain", "bridge", bridge, "err", err)
		}
	}
}

// revoke deletes bridge's ACCEPT rules, if any.
func (f *forwardCompat) revoke(ctx context.Context, c *nftables.Conn, bridge string) {
	if _, drops := forwardPolicy(c); !drops {
		return // none were inserted (or Sync removes them)
	}
	for _, spec := range f.specs(bridge) {
		_, _ = iptablesCmd(ctx, "iptables", append([]string{"-D"}, spec...)...)
	}
}

// sync leaves ACCEPT rules for exactly bridges (none unless FORWARD drops
// by default).
func (f *forwardCompat) sync(ctx context.Context, c *nftables.Conn, bridges []string) {
	exists, drops := forwardPolicy(c)
	if !exists {
		return
	}
	want := map[string]bool{}
	if drops {
		for _, br := range bridges {
			want[br] = true
		}
	}
	out, err := iptablesCmd(ctx, "iptables-save", "-t", "filter")
	if err != nil {
		f.log.Warn("firewall: cannot read iptables' FORWARD chain", "err", err)
		return
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "-A FORWARD ") {
			continue
		}
		br, ok := commentValue(line, f.prefix+":")
		if !ok || want[br] {
			continue
		}
		args := append([]string{"-D"}, splitSaved(strings.TrimPrefix(line, "-A "))...)
		if _, err := iptablesCmd(ctx, "iptables", args...); err != nil {
			f.log.Warn("firewall: cannot remove a stale FORWARD rule", "rule", line, "err", err)
		}
	}
	for br := range want {
		f.allow(ctx, c, br)
	}
}
