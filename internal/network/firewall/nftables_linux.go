package firewall

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// nftBackend speaks to nf_tables over netlink: one batch (one kernel
// transaction) per call, no exec. docs/network.md ("Firewall") has the
// ruleset it builds.
type nftBackend struct {
	prefix string
	log    *slog.Logger

	// mu serialises the calls: a netlink batch is built in a Conn and two
	// callers must not interleave their messages or their view of the
	// published ports.
	mu sync.Mutex
	// ports and owner mirror the elements of the port maps; they are
	// (re)loaded from the kernel when loaded is false (after Init, a
	// restart, or a failed batch), so the kernel stays the truth.
	loaded bool
	ports  map[string][]Mapping
	owner  map[portID]string

	forward forwardCompat
}

var _ Backend = (*nftBackend)(nil)

// Names of our objects in table `ip P`.
const (
	nftPrerouting  = "prerouting"
	nftOutput      = "output"
	nftPorts       = "ports"
	nftPostrouting = "postrouting"
	nftGuard       = "guard"
	nftForward     = "forward"
	nftFwdIn       = "fwd-in"
	nftFwdOut      = "fwd-out"
	nftAnyPorts    = "anyports"
	nftHostPorts   = "hostports"
	// the user chain, in table `ip P-user`, and the ICC chain in `bridge P`
	nftUserChain   = "forward"
	nftBridgeChain = "forward"
)

// userTableSuffix names the table that holds the user chain: `ip P-user`.
const userTableSuffix = "-user"

var (
	policyAccept = nftables.ChainPolicyAccept
	// The key and data types of the port maps: `inet_proto . inet_service`
	// (every local address) or `ipv4_addr . inet_proto . inet_service` (one
	// host address) to `ipv4_addr . inet_service`.
	anyPortsKey  = nftables.MustConcatSetType(nftables.TypeInetProto, nftables.TypeInetService)
	hostPortsKey = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService)
	natTarget    = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetService)
	// The user chain runs before ours in the forward hook: a drop there is
	// final whatever our chain says afterwards.
	userPriority = nftables.ChainPriorityRef(*nftables.ChainPriorityFilter - 1)
)

func newNFTables(ctx context.Context, prefix string, log *slog.Logger) (Backend, error) {
	b := &nftBackend{prefix: prefix, log: log, forward: forwardCompat{prefix: prefix, log: log}}
	if err := b.probe(); err != nil {
		return nil, errUnavailable(NFTables, err)
	}
	return b, nil
}

// probe builds our whole ruleset in a scratch table and deletes it in the
// same transaction: the kernel validates (and loads the modules of) every
// expression we use, and nothing is left behind.
func (b *nftBackend) probe() error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	scratch := &nftBackend{prefix: b.prefix + "-probe"}
	if err := scratch.addRuleset(c, []Net{{Bridge: "probe0", Subnet: netip.MustParsePrefix("10.0.0.0/24"), ICC: false, Masquerade: true}}, map[string][]Mapping{
		"probe": {
			{Proto: "tcp", HostPort: 1, ContainerIP: netip.MustParseAddr("10.0.0.2"), ContainerPort: 1},
			{Proto: "udp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 1, ContainerIP: netip.MustParseAddr("10.0.0.2"), ContainerPort: 1},
		},
	}); err != nil {
		return err
	}
	c.DelTable(scratch.ipTable())
	c.DelTable(scratch.bridgeTable())
	return c.Flush()
}

func (b *nftBackend) Name() string { return NFTables }

func (b *nftBackend) ipTable() *nftables.Table {
	return &nftables.Table{Name: b.prefix, Family: nftables.TableFamilyIPv4}
}

func (b *nftBackend) bridgeTable() *nftables.Table {
	return &nftables.Table{Name: b.prefix, Family: nftables.TableFamilyBridge}
}

func (b *nftBackend) userTable() *nftables.Table {
	return &nftables.Table{Name: b.prefix + userTableSuffix, Family: nftables.TableFamilyIPv4}
}

// ipChain returns a reference to one of our chains of `ip P`, enough to
// list, add or delete its rules.
func (b *nftBackend) ipChain(name string) *nftables.Chain {
	return &nftables.Chain{Name: name, Table: b.ipTable()}
}

var chainNames = map[chain]string{
	chGuard:       nftGuard,
	chPostrouting: nftPostrouting,
	chFwdIn:       nftFwdIn,
	chFwdOut:      nftFwdOut,
}

func netTag(bridge string) string { return "net:" + bridge }

// Init creates the tables when absent and keeps them otherwise (live
// restore: the rules of running containers stay in place).
func (b *nftBackend) Init(ctx context.Context) error {
	if err := enableIPForward(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.loaded = false
	c, err := nftables.New()
	if err != nil {
		return err
	}
	complete, err := b.rulesetComplete(c)
	if err != nil {
		return fmt.Errorf("firewall: nftables: %w", err)
	}
	if !complete {
		// Missing or damaged (a chain or map is gone): start from an empty
		// ruleset; the daemon's Sync brings back what belongs in it.
		if err := b.replaceRuleset(c, nil, nil); err != nil {
			return err
		}
	}
	if err := b.ensureUserChain(c); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("firewall: nftables: init: %w", err)
	}
	b.forward.check(ctx, c)
	return nil
}

// rulesetComplete tells whether `ip P` and `bridge P` hold every chain
// and map we make.
func (b *nftBackend) rulesetComplete(c *nftables.Conn) (bool, error) {
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyUnspecified)
	if err != nil {
		return false, err
	}
	have := map[string]bool{}
	for _, ch := range chains {
		if ch.Table.Name == b.prefix {
			have[fmt.Sprint(ch.Table.Family, "/", ch.Name)] = true
		}
	}
	ip := nftables.TableFamilyIPv4
	for _, name := range []string{nftPrerouting, nftOutput, nftPorts, nftPostrouting, nftGuard, nftForward, nftFwdIn, nftFwdOut} {
		if !have[fmt.Sprint(ip, "/", name)] {
			return false, nil
		}
	}
	if !have[fmt.Sprint(nftables.TableFamilyBridge, "/", nftBridgeChain)] {
		return false, nil
	}
	sets, err := c.GetSets(b.ipTable())
	if err != nil {
		return false, err
	}
	found := 0
	for _, s := range sets {
		if s.Name == nftAnyPorts || s.Name == nftHostPorts {
			found++
		}
	}
	return found == 2, nil
}

// ensureUserChain creates the user chain when it is absent, in the batch
// being built. It never flushes, changes or deletes an existing one: its
// rules and even its policy are the administrator's.
func (b *nftBackend) ensureUserChain(c *nftables.Conn) error {
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return fmt.Errorf("firewall: nftables: %w", err)
	}
	for _, ch := range chains {
		if ch.Table.Name == b.userTable().Name && ch.Name == nftUserChain {
			return nil
		}
	}
	t := c.AddTable(b.userTable())
	c.AddChain(&nftables.Chain{Name: nftUserChain, Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: userPriority, Policy: &policyAccept})
	return nil
}

// replaceRuleset queues, in c's batch, the deletion of our tables (when
// present) and their creation with exactly nets and ports.
func (b *nftBackend) replaceRuleset(c *nftables.Conn, nets []Net, ports map[string][]Mapping) error {
	// Adding a table that exists is a no-op, so the deletion that follows
	// cannot fail on a table that is absent.
	c.AddTable(b.ipTable())
	c.DelTable(b.ipTable())
	c.AddTable(b.bridgeTable())
	c.DelTable(b.bridgeTable())
	if err := b.addRuleset(c, nets, ports); err != nil {
		return fmt.Errorf("firewall: nftables: building the ruleset: %w", err)
	}
	return nil
}

// addRuleset queues the creation of our tables with nets and ports.
func (b *nftBackend) addRuleset(c *nftables.Conn, nets []Net, ports map[string][]Mapping) error {
	t := c.AddTable(b.ipTable())
	base := func(name string, typ nftables.ChainType, hook *nftables.ChainHook, prio *nftables.ChainPriority) *nftables.Chain {
		return c.AddChain(&nftables.Chain{Name: name, Table: t, Type: typ, Hooknum: hook, Priority: prio, Policy: &policyAccept})
	}
	regular := func(name string) *nftables.Chain { return c.AddChain(&nftables.Chain{Name: name, Table: t}) }

	pre := base(nftPrerouting, nftables.ChainTypeNAT, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest)
	out := base(nftOutput, nftables.ChainTypeNAT, nftables.ChainHookOutput, nftables.ChainPriorityNATDest)
	base(nftPostrouting, nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource)
	base(nftGuard, nftables.ChainTypeFilter, nftables.ChainHookPrerouting, nftables.ChainPriorityRaw)
	fwd := base(nftForward, nftables.ChainTypeFilter, nftables.ChainHookForward, nftables.ChainPriorityFilter)
	portsCh := regular(nftPorts)
	regular(nftFwdIn)
	regular(nftFwdOut)

	anyElems, hostElems := portElements(ports)
	anySet := &nftables.Set{Table: t, Name: nftAnyPorts, IsMap: true, KeyType: anyPortsKey, DataType: natTarget, Concatenation: true}
	hostSet := &nftables.Set{Table: t, Name: nftHostPorts, IsMap: true, KeyType: hostPortsKey, DataType: natTarget, Concatenation: true}
	if err := c.AddSet(anySet, anyElems); err != nil {
		return err
	}
	if err := c.AddSet(hostSet, hostElems); err != nil {
		return err
	}

	add := func(ch *nftables.Chain, e ...[]expr.Any) {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: join(e...)})
	}
	// Published ports answer on local addresses only, for packets from
	// outside (prerouting) and from the host itself (output).
	add(pre, fibDaddrLocal(), []expr.Any{jump(nftPorts)})
	add(out, fibDaddrLocal(), []expr.Any{jump(nftPorts)})
	// A mapping on one host address wins over one on every address.
	add(portsCh, dnatHostPort(nftHostPorts, hostSet.ID))
	add(portsCh, dnatAnyPort(nftAnyPorts, anySet.ID))
	add(fwd, ctEstablished(), []expr.Any{accept()})
	add(fwd, []expr.Any{jump(nftFwdIn)})
	add(fwd, []expr.Any{jump(nftFwdOut)})

	bt := c.AddTable(b.bridgeTable())
	c.AddChain(&nftables.Chain{Name: nftBridgeChain, Table: bt, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &policyAccept})

	for _, n := range nets {
		b.addNetRules(c, n)
	}
	return nil
}

// addNetRules queues n's rules, each tagged with the bridge's name.
func (b *nftBackend) addNetRules(c *nftables.Conn, n Net) {
	tag := comment(netTag(n.Bridge))
	for _, r := range netRules(n) {
		c.AddRule(&nftables.Rule{Table: b.ipTable(), Chain: b.ipChain(chainNames[r.chain]), Exprs: nftRule(r), UserData: tag})
	}
	if !n.ICC {
		// Frames between two ports of the bridge never reach the IP
		// forward hook unless br_netfilter is loaded: ICC is enforced on
		// the bridge itself, for IPv4 between two addresses of the
		// subnet (the bridge's name is not matchable there on kernels
		// without nft_meta_bridge; the subnet is ours alone).
		c.AddRule(&nftables.Rule{Table: b.bridgeTable(), Chain: &nftables.Chain{Name: nftBridgeChain, Table: b.bridgeTable()},
			Exprs:    join(isIPv4(), inPrefix(ipv4Saddr, n.Subnet), inPrefix(ipv4Daddr, n.Subnet), []expr.Any{drop()}),
			UserData: tag})
	}
}

// deleteNetRules queues the deletion of every rule tagged for bridge.
func (b *nftBackend) deleteNetRules(c *nftables.Conn, bridge string) error {
	want := netTag(bridge)
	chains := []*nftables.Chain{
		{Name: nftBridgeChain, Table: b.bridgeTable()},
	}
	for _, name := range chainNames {
		chains = append(chains, b.ipChain(name))
	}
	for _, ch := range chains {
		rules, err := c.GetRules(ch.Table, ch)
		if err != nil {
			return fmt.Errorf("firewall: nftables: listing %s %s: %w (was Init called?)", ch.Table.Name, ch.Name, err)
		}
		for _, r := range rules {
			if commentOf(r.UserData) == want {
				if err := c.DelRule(r); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func nftRule(r rule) []expr.Any {
	var e []expr.Any
	if r.iif != "" {
		if r.iifNot {
			e = append(e, iifIsNot(r.iif)...)
		} else {
			e = append(e, iifIs(r.iif)...)
		}
	}
	if r.oif != "" {
		if r.oifNot {
			e = append(e, oifIsNot(r.oif)...)
		} else {
			e = append(e, oifIs(r.oif)...)
		}
	}
	if r.saddr.IsValid() {
		e = append(e, inPrefix(ipv4Saddr, r.saddr)...)
	}
	if r.daddr.IsValid() {
		e = append(e, inPrefix(ipv4Daddr, r.daddr)...)
	}
	if r.ctDNAT {
		e = append(e, ctDNAT()...)
	}
	switch r.verdict {
	case vAccept:
		e = append(e, accept())
	case vDrop:
		e = append(e, drop())
	case vMasquerade:
		e = append(e, masquerade())
	}
	return e
}

func (b *nftBackend) SetNetwork(ctx context.Context, n Net) error {
	if err := validateNet(n); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	c, err := nftables.New()
	if err != nil {
		return err
	}
	if err := b.deleteNetRules(c, n.Bridge); err != nil {
		return err
	}
	b.addNetRules(c, n)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("firewall: nftables: network %s: %w", n.Bridge, err)
	}
	if err := enableRouteLocalnet(n.Bridge); err != nil {
		return err
	}
	b.forward.allow(ctx, c, n.Bridge)
	return nil
}

func (b *nftBackend) DeleteNetwork(ctx context.Context, bridge string) error {
	if err := validBridge(bridge); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	c, err := nftables.New()
	if err != nil {
		return err
	}
	if err := b.deleteNetRules(c, bridge); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("firewall: nftables: network %s: %w", bridge, err)
	}
	b.forward.revoke(ctx, c, bridge)
	return nil
}

func (b *nftBackend) SetPorts(ctx context.Context, key string, ms []Mapping) error {
	ms, err := normalizePorts(key, ms)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.replacePorts(key, ms)
}

func (b *nftBackend) DeletePorts(ctx context.Context, key string) error {
	if err := validKey(key); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.replacePorts(key, nil)
}

// replacePorts swaps key's map elements for ms's in one batch. When the
// batch fails (our view of the maps was stale: someone changed them), the
// maps are read again and the batch retried once.
func (b *nftBackend) replacePorts(key string, ms []Mapping) error {
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		if err = b.loadPorts(); err != nil {
			return err
		}
		for _, m := range ms {
			if o, ok := b.owner[m.id()]; ok && o != key {
				return conflict(m, o)
			}
		}
		old := b.ports[key]
		if len(old) == 0 && len(ms) == 0 {
			return nil
		}
		var c *nftables.Conn
		if c, err = nftables.New(); err != nil {
			return err
		}
		t := b.ipTable()
		anySet, hostSet := &nftables.Set{Table: t, Name: nftAnyPorts}, &nftables.Set{Table: t, Name: nftHostPorts}
		delAny, delHost := portElements(map[string][]Mapping{key: old})
		addAny, addHost := portElements(map[string][]Mapping{key: ms})
		for _, op := range []struct {
			f   func(*nftables.Set, []nftables.SetElement) error
			s   *nftables.Set
			els []nftables.SetElement
		}{
			{c.SetDeleteElements, anySet, delAny},
			{c.SetDeleteElements, hostSet, delHost},
			{c.SetAddElements, anySet, addAny},
			{c.SetAddElements, hostSet, addHost},
		} {
			if len(op.els) > 0 {
				if err = op.f(op.s, op.els); err != nil {
					return err
				}
			}
		}
		if err = c.Flush(); err == nil {
			b.setCached(key, ms)
			return nil
		}
		b.loaded = false
	}
	return fmt.Errorf("firewall: nftables: ports of %s: %w", key, err)
}

func (b *nftBackend) setCached(key string, ms []Mapping) {
	for _, m := range b.ports[key] {
		delete(b.owner, m.id())
	}
	delete(b.ports, key)
	if len(ms) == 0 {
		return
	}
	b.ports[key] = append([]Mapping(nil), ms...)
	for _, m := range ms {
		b.owner[m.id()] = key
	}
}

// loadPorts reads the port maps back from the kernel; each element's
// comment is its key.
func (b *nftBackend) loadPorts() error {
	if b.loaded {
		return nil
	}
	c, err := nftables.New()
	if err != nil {
		return err
	}
	b.ports, b.owner = map[string][]Mapping{}, map[portID]string{}
	for _, name := range []string{nftAnyPorts, nftHostPorts} {
		els, err := c.GetSetElements(&nftables.Set{Table: b.ipTable(), Name: name})
		if err != nil {
			return fmt.Errorf("firewall: nftables: reading map %s %s: %w (was Init called?)", b.prefix, name, err)
		}
		for _, el := range els {
			m, ok := parsePortElement(name == nftHostPorts, el)
			if !ok || el.Comment == "" {
				b.log.Warn("firewall: nftables: ignoring a malformed element of a port map", "map", name, "key", el.Key, "comment", el.Comment)
				continue
			}
			b.ports[el.Comment] = append(b.ports[el.Comment], m)
			b.owner[m.id()] = el.Comment
		}
	}
	b.loaded = true
	return nil
}

// portElements turns mappings into the elements of the two port maps,
// each element commented with its key.
func portElements(ports map[string][]Mapping) (anyPorts, hostPorts []nftables.SetElement) {
	for key, ms := range ports {
		for _, m := range ms {
			ip := m.ContainerIP.As4()
			val := []byte{ip[0], ip[1], ip[2], ip[3], byte(m.ContainerPort >> 8), byte(m.ContainerPort), 0, 0}
			protoPort := []byte{protoNumbers[m.Proto], 0, 0, 0, byte(m.HostPort >> 8), byte(m.HostPort), 0, 0}
			if !m.HostIP.IsValid() {
				anyPorts = append(anyPorts, nftables.SetElement{Key: protoPort, Val: val, Comment: key})
				continue
			}
			h := m.HostIP.As4()
			hostPorts = append(hostPorts, nftables.SetElement{Key: append(h[:], protoPort...), Val: val, Comment: key})
		}
	}
	return anyPorts, hostPorts
}

func parsePortElement(withHost bool, el nftables.SetElement) (Mapping, bool) {
	k := el.Key
	var m Mapping
	if withHost {
		if len(k) != 12 {
			return m, false
		}
		m.HostIP = netip.AddrFrom4([4]byte(k[:4]))
		k = k[4:]
	}
	if len(k) != 8 || len(el.Val) != 8 {
		return m, false
	}
	m.Proto = protoName(k[0])
	m.HostPort = uint16(k[4])<<8 | uint16(k[5])
	m.ContainerIP = netip.AddrFrom4([4]byte(el.Val[:4]))
	m.ContainerPort = uint16(el.Val[4])<<8 | uint16(el.Val[5])
	return m, m.Proto != ""
}

func (b *nftBackend) Sync(ctx context.Context, nets []Net, ports map[string][]Mapping) error {
	if err := validateNets(nets); err != nil {
		return err
	}
	ports, err := normalizePortSet(ports)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.loaded = false
	c, err := nftables.New()
	if err != nil {
		return err
	}
	if err := b.replaceRuleset(c, nets, ports); err != nil {
		return err
	}
	if err := b.ensureUserChain(c); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("firewall: nftables: sync: %w", err)
	}
	b.ports, b.owner, b.loaded = map[string][]Mapping{}, map[portID]string{}, true
	for key, ms := range ports {
		b.setCached(key, ms)
	}
	var errs []error
	bridges := make([]string, 0, len(nets))
	for _, n := range nets {
		errs = append(errs, enableRouteLocalnet(n.Bridge))
		bridges = append(bridges, n.Bridge)
	}
	b.forward.sync(ctx, c, bridges)
	return errors.Join(errs...)
}

func (b *nftBackend) Teardown(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.loaded = false
	c, err := nftables.New()
	if err != nil {
		return err
	}
	c.AddTable(b.ipTable())
	c.DelTable(b.ipTable())
	c.AddTable(b.bridgeTable())
	c.DelTable(b.bridgeTable())
	if err := c.Flush(); err != nil {
		return fmt.Errorf("firewall: nftables: teardown: %w", err)
	}
	b.forward.sync(ctx, c, nil)
	return nil
}
