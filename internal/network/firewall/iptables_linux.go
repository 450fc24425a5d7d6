package firewall

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
)

// iptBackend is the fallback where nf_tables is unusable: the same design
// as the nftables backend in iptables chains named "P-...", changed with
// iptables-save and iptables-restore --noflush (one atomic commit per
// table). Our rules carry the comment "P:net:BRIDGE" or
// "P:port:KEY:PROTO/HOSTIP/PORT" and the jumps from the built-in chains
// the comment "P", which is how we find them again after a restart.
type iptBackend struct {
	prefix string
	log    *slog.Logger
	// mu serialises the read-modify-write of the tables.
	mu sync.Mutex
}

var _ Backend = (*iptBackend)(nil)

func newIPTables(ctx context.Context, prefix string, log *slog.Logger) (Backend, error) {
	for _, tool := range []string{"iptables", "iptables-save", "iptables-restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, errUnavailable(IPTables, err)
		}
	}
	if _, err := iptablesCmd(ctx, "iptables-save", "-t", "nat"); err != nil {
		return nil, errUnavailable(IPTables, err)
	}
	return &iptBackend{prefix: prefix, log: log}, nil
}

func (b *iptBackend) Name() string { return IPTables }

// Our chains, by table. The user chain (filter P-USER) is apart: never
// flushed or deleted.
const (
	iptPorts       = "PORTS"
	iptPostrouting = "POSTROUTING"
	iptGuard       = "GUARD"
	iptForward     = "FORWARD"
	iptFwdIn       = "FWD-IN"
	iptFwdOut      = "FWD-OUT"
	iptUser        = "USER"
)

func (b *iptBackend) ch(name string) string { return b.prefix + "-" + name }

type iptChain struct{ table, name string }

func (b *iptBackend) ourChains() []iptChain {
	return []iptChain{
		{"raw", b.ch(iptGuard)},
		{"nat", b.ch(iptPorts)},
		{"nat", b.ch(iptPostrouting)},
		{"filter", b.ch(iptForward)},
		{"filter", b.ch(iptFwdIn)},
		{"filter", b.ch(iptFwdOut)},
	}
}

var iptTables = []string{"raw", "nat", "filter"}

func (b *iptBackend) ruleChain(c chain) iptChain {
	switch c {
	case chGuard:
		return iptChain{"raw", b.ch(iptGuard)}
	case chPostrouting:
		return iptChain{"nat", b.ch(iptPostrouting)}
	case chFwdIn:
		return iptChain{"filter", b.ch(iptFwdIn)}
	default:
		return iptChain{"filter", b.ch(iptFwdOut)}
	}
}

// jumps are the rules in built-in chains that lead to ours, in the order
// they must end up at the top of each chain.
func (b *iptBackend) jumps() []struct{ table, line string } {
	cmt := "-m comment --comment " + b.prefix
	return []struct{ table, line string }{
		{"raw", "PREROUTING " + cmt + " -j " + b.ch(iptGuard)},
		{"nat", "PREROUTING -m addrtype --dst-type LOCAL " + cmt + " -j " + b.ch(iptPorts)},
		{"nat", "OUTPUT -m addrtype --dst-type LOCAL " + cmt + " -j " + b.ch(iptPorts)},
		{"nat", "POSTROUTING " + cmt + " -j " + b.ch(iptPostrouting)},
		// The user chain first: a drop there is final, an accept in ours
		// is reached only after it.
		{"filter", "FORWARD " + cmt + " -j " + b.ch(iptUser)},
		{"filter", "FORWARD " + cmt + " -j " + b.ch(iptForward)},
	}
}

// saved is what iptables-save printed, per table.
type saved map[string]*savedTable

type savedTable struct {
	chains map[string]bool
	rules  []string // "-A CHAIN ..." lines
}

func (b *iptBackend) save(ctx context.Context, tables ...string) (saved, error) {
	s := saved{}
	for _, t := range tables {
		out, err := iptablesCmd(ctx, "iptables-save", "-t", t)
		if err != nil {
			return nil, fmt.Errorf("firewall: %w", err)
		}
		st := &savedTable{chains: map[string]bool{}}
		sc := bufio.NewScanner(strings.NewReader(out))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, ":"):
				name, _, _ := strings.Cut(line[1:], " ")
				st.chains[name] = true
			case strings.HasPrefix(line, "-A "):
				st.rules = append(st.rules, line)
			}
		}
		s[t] = st
	}
	return s, nil
}

// ruleChainOf is the chain a saved "-A CHAIN ..." line is in.
func ruleChainOf(line string) string {
	f := strings.Fields(line)
	if len(f) < 2 {
		return ""
	}
	return f[1]
}

// restore is one iptables-restore --noflush input, one commit per table.
type restore map[string][]string

func (r restore) add(table string, lines ...string) { r[table] = append(r[table], lines...) }

// deleteSaved queues the deletion of a saved rule.
func (r restore) deleteSaved(table, line string) { r.add(table, "-D "+strings.TrimPrefix(line, "-A ")) }

func (b *iptBackend) apply(ctx context.Context, r restore) error {
	var in strings.Builder
	for _, t := range iptTables {
		if len(r[t]) == 0 {
			continue
		}
		fmt.Fprintf(&in, "*%s\n%s\nCOMMIT\n", t, strings.Join(r[t], "\n"))
	}
	if in.Len() == 0 {
		return nil
	}
	if _, err := iptablesInput(ctx, []byte(in.String()), "iptables-restore", "--noflush"); err != nil {
		return fmt.Errorf("firewall: %w\ninput:\n%s", err, in.String())
	}
	return nil
}

// redoJumps queues the removal of our jumps from the built-in chains and
// their insertion at the top, in order.
func (b *iptBackend) redoJumps(s saved, r restore) {
	for _, t := range iptTables {
		for _, line := range s[t].rules {
			if b.isJump(line) {
				r.deleteSaved(t, line)
			}
		}
	}
	j := b.jumps()
	for i := len(j) - 1; i >= 0; i-- {
		chainName, rest, _ := strings.Cut(j[i].line, " ")
		r.add(j[i].table, "-I "+chainName+" 1 "+rest)
	}
}

// isJump tells whether a saved rule is one of our jumps from a built-in
// chain.
func (b *iptBackend) isJump(line string) bool {
	c, ok := commentValue(line, "")
	return ok && c == b.prefix && !strings.HasPrefix(ruleChainOf(line), b.prefix+"-")
}

// fixedLines are the rules of P-FORWARD, the same whatever the networks.
func (b *iptBackend) fixedLines() []string {
	fwd := b.ch(iptForward)
	return []string{
		"-A " + fwd + " -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
		"-A " + fwd + " -j " + b.ch(iptFwdIn),
		"-A " + fwd + " -j " + b.ch(iptFwdOut),
	}
}

func (b *iptBackend) netTag(bridge string) string { return b.prefix + ":net:" + bridge }

// netLines queues n's rules.
func (b *iptBackend) netLines(r restore, n Net) {
	for _, ru := range netRules(n) {
		c := b.ruleChain(ru.chain)
		r.add(c.table, "-A "+c.name+" "+strings.Join(iptArgs(ru), " ")+" -m comment --comment "+b.netTag(n.Bridge)+" -j "+iptTarget(ru.verdict))
	}
}

func iptArgs(r rule) []string {
	var a []string
	iface := func(flag, name string, not bool) {
		if name == "" {
			return
		}
		if not {
			a = append(a, "!")
		}
		a = append(a, flag, name)
	}
	iface("-i", r.iif, r.iifNot)
	iface("-o", r.oif, r.oifNot)
	if r.saddr.IsValid() {
		a = append(a, "-s", r.saddr.Masked().String())
	}
	if r.daddr.IsValid() {
		a = append(a, "-d", r.daddr.Masked().String())
	}
	if r.ctDNAT {
		a = append(a, "-m", "conntrack", "--ctstate", "DNAT")
	}
	return a
}

func iptTarget(v verdict) string {
	switch v {
	case vAccept:
		return "ACCEPT"
	case vMasquerade:
		return "MASQUERADE"
	default:
		return "DROP"
	}
}

func portIDString(m Mapping) string {
	return fmt.Sprintf("%s/%s/%d", m.Proto, hostIPString(m.HostIP), m.HostPort)
}

// portLines queues key's DNAT rules; those bound to one host address go
// first, as the nftables backend looks them up first.
func (b *iptBackend) portLines(r restore, key string, ms []Mapping) {
	for _, m := range ms {
		args := "-p " + m.Proto
		pos := "-A " + b.ch(iptPorts)
		if m.HostIP.IsValid() {
			args = "-d " + m.HostIP.String() + "/32 " + args
			pos = "-I " + b.ch(iptPorts) + " 1"
		}
		r.add("nat", fmt.Sprintf("%s %s --dport %d -m comment --comment %s:port:%s:%s -j DNAT --to-destination %s:%d",
			pos, args, m.HostPort, b.prefix, key, portIDString(m), m.ContainerIP, m.ContainerPort))
	}
}

// portRule parses the comment of a saved DNAT rule of ours.
func (b *iptBackend) portRule(line string) (key, id string, ok bool) {
	c, ok := commentValue(line, b.prefix+":port:")
	if !ok {
		return "", "", false
	}
	key, id, ok = strings.Cut(c, ":")
	return key, id, ok
}

// declare queues a chain declaration: it creates the chain or, when it
// exists, flushes it.
func declare(r restore, c iptChain) { r.add(c.table, ":"+c.name+" - [0:0]") }

func (b *iptBackend) Init(ctx context.Context) error {
	if err := enableIPForward(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.save(ctx, iptTables...)
	if err != nil {
		return err
	}
	r := restore{}
	for _, c := range b.ourChains() {
		// P-FORWARD holds only fixed rules: rebuilt. The others keep the
		// rules of running containers (live restore).
		if !s[c.table].chains[c.name] || c.name == b.ch(iptForward) {
			declare(r, c)
		}
	}
	r.add("filter", b.fixedLines()...)
	if !s["filter"].chains[b.ch(iptUser)] {
		declare(r, iptChain{"filter", b.ch(iptUser)})
	}
	b.redoJumps(s, r)
	if err := b.apply(ctx, r); err != nil {
		return err
	}
	b.warnForwardPolicy(ctx)
	return nil
}

// warnForwardPolicy: our jumps are at the top of FORWARD and everything we
// let through we ACCEPT explicitly, so a DROP policy only affects what we
// do not handle; it is worth a note because it is a common surprise.
func (b *iptBackend) warnForwardPolicy(ctx context.Context) {
	out, err := iptablesCmd(ctx, "iptables", "-S", "FORWARD", "1")
	if err == nil && strings.Contains(out, "-P FORWARD DROP") {
		b.log.Info("firewall: iptables' FORWARD policy is DROP; Berth's bridges are handled by " + b.ch(iptForward) + ", jumped to from the top of FORWARD")
	}
}

// requireChains fails when Init has not created our chains.
func (b *iptBackend) requireChains(s saved) error {
	for _, c := range b.ourChains() {
		if st := s[c.table]; st == nil || !st.chains[c.name] {
			return fmt.Errorf("firewall: iptables: chain %s of table %s is missing (was Init called?)", c.name, c.table)
		}
	}
	return nil
}

func (b *iptBackend) SetNetwork(ctx context.Context, n Net) error {
	if err := validateNet(n); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.replaceNet(ctx, n.Bridge, &n); err != nil {
		return err
	}
	return errors.Join(enableRouteLocalnet(n.Bridge), b.bridgeNetfilter(n))
}

// bridgeNetfilter: with iptables, ICC off is a FORWARD rule, which frames
// between two ports of a bridge only meet when br_netfilter passes them to
// iptables (docker has the same requirement).
func (b *iptBackend) bridgeNetfilter(n Net) error {
	if n.ICC {
		return nil
	}
	err := setSysctl("net/bridge/bridge-nf-call-iptables", "1")
	if errors.Is(err, os.ErrNotExist) {
		b.log.Warn("firewall: iptables: ICC off needs the br_netfilter module (modprobe br_netfilter); containers on the bridge can still talk to each other", "bridge", n.Bridge)
		return nil
	}
	return err
}

func (b *iptBackend) DeleteNetwork(ctx context.Context, bridge string) error {
	if err := validBridge(bridge); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.replaceNet(ctx, bridge, nil)
}

// replaceNet deletes bridge's rules and, when n is not nil, adds n's, in
// one commit per table.
func (b *iptBackend) replaceNet(ctx context.Context, bridge string, n *Net) error {
	s, err := b.save(ctx, iptTables...)
	if err != nil {
		return err
	}
	if err := b.requireChains(s); err != nil {
		return err
	}
	r := restore{}
	tag := b.netTag(bridge)
	for _, t := range iptTables {
		for _, line := range s[t].rules {
			if c, ok := commentValue(line, ""); ok && c == tag {
				r.deleteSaved(t, line)
			}
		}
	}
	if n != nil {
		b.netLines(r, *n)
	}
	return b.apply(ctx, r)
}

func (b *iptBackend) SetPorts(ctx context.Context, key string, ms []Mapping) error {
	ms, err := normalizePorts(key, ms)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.replacePorts(ctx, key, ms)
}

func (b *iptBackend) DeletePorts(ctx context.Context, key string) error {
	if err := validKey(key); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.replacePorts(ctx, key, nil)
}

func (b *iptBackend) replacePorts(ctx context.Context, key string, ms []Mapping) error {
	s, err := b.save(ctx, "nat")
	if err != nil {
		return err
	}
	if !s["nat"].chains[b.ch(iptPorts)] {
		return fmt.Errorf("firewall: iptables: chain %s is missing (was Init called?)", b.ch(iptPorts))
	}
	owner := map[string]string{}
	r := restore{}
	for _, line := range s["nat"].rules {
		if ruleChainOf(line) != b.ch(iptPorts) {
			continue
		}
		k, id, ok := b.portRule(line)
		if !ok {
			continue
		}
		if k == key {
			r.deleteSaved("nat", line)
			continue
		}
		owner[id] = k
	}
	for _, m := range ms {
		if o, ok := owner[portIDString(m)]; ok {
			return conflict(m, o)
		}
	}
	b.portLines(r, key, ms)
	return b.apply(ctx, r)
}

func (b *iptBackend) Sync(ctx context.Context, nets []Net, ports map[string][]Mapping) error {
	if err := validateNets(nets); err != nil {
		return err
	}
	ports, err := normalizePortSet(ports)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.save(ctx, iptTables...)
	if err != nil {
		return err
	}
	r := restore{}
	for _, c := range b.ourChains() {
		declare(r, c)
	}
	if !s["filter"].chains[b.ch(iptUser)] {
		declare(r, iptChain{"filter", b.ch(iptUser)})
	}
	r.add("filter", b.fixedLines()...)
	var errs []error
	for _, n := range nets {
		b.netLines(r, n)
	}
	keys := make([]string, 0, len(ports))
	for k := range ports {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.portLines(r, k, ports[k])
	}
	b.redoJumps(s, r)
	if err := b.apply(ctx, r); err != nil {
		return err
	}
	for _, n := range nets {
		errs = append(errs, enableRouteLocalnet(n.Bridge), b.bridgeNetfilter(n))
	}
	return errors.Join(errs...)
}

func (b *iptBackend) Teardown(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.save(ctx, iptTables...)
	if err != nil {
		return err
	}
	r := restore{}
	var present []iptChain
	for _, c := range b.ourChains() {
		if s[c.table].chains[c.name] {
			declare(r, c) // flushed first: P-FORWARD refers to the others
			present = append(present, c)
		}
	}
	for _, t := range iptTables {
		for _, line := range s[t].rules {
			if b.isJump(line) {
				r.deleteSaved(t, line)
			}
		}
	}
	for _, c := range present {
		r.add(c.table, "-X "+c.name)
	}
	return b.apply(ctx, r)
}
