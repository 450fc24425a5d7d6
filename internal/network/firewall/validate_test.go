package firewall

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
)

func TestValidateRejects(t *testing.T) {
	t.Parallel()
	c := netip.MustParseAddr("10.200.0.2")
	okNet := Net{Bridge: "br0", Subnet: netip.MustParsePrefix("10.200.0.0/24")}
	okMap := Mapping{Proto: "tcp", HostPort: 80, ContainerIP: c, ContainerPort: 80}
	with := func(f func(*Mapping)) []Mapping { m := okMap; f(&m); return []Mapping{m} }
	validatePorts := func(key string, ms []Mapping) error { _, err := normalizePorts(key, ms); return err }
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"empty bridge", validateNet(Net{Subnet: okNet.Subnet})},
		{"long bridge", validateNet(Net{Bridge: strings.Repeat("b", 16), Subnet: okNet.Subnet})},
		{"bridge with a space", validateNet(Net{Bridge: "br 0", Subnet: okNet.Subnet})},
		{"bridge wildcard", validateNet(Net{Bridge: "br+", Subnet: okNet.Subnet})},
		{"no subnet", validateNet(Net{Bridge: "br0"})},
		{"IPv6 subnet", validateNet(Net{Bridge: "br0", Subnet: netip.MustParsePrefix("fd00::/64")})},
		{"bridge twice", validateNets([]Net{okNet, okNet})},
		{"empty key", validatePorts("", []Mapping{okMap})},
		{"key with a colon", validatePorts("a:b", []Mapping{okMap})},
		{"key with a quote", validatePorts(`a"b`, []Mapping{okMap})},
		{"protocol", validatePorts("k", with(func(m *Mapping) { m.Proto = "icmp" }))},
		{"upper-case protocol", validatePorts("k", with(func(m *Mapping) { m.Proto = "TCP" }))},
		{"host port 0", validatePorts("k", with(func(m *Mapping) { m.HostPort = 0 }))},
		{"container port 0", validatePorts("k", with(func(m *Mapping) { m.ContainerPort = 0 }))},
		{"no container address", validatePorts("k", with(func(m *Mapping) { m.ContainerIP = netip.Addr{} }))},
		{"IPv6 container address", validatePorts("k", with(func(m *Mapping) { m.ContainerIP = netip.MustParseAddr("fd00::2") }))},
		{"host port sent to two places", validatePorts("k", []Mapping{okMap, with(func(m *Mapping) { m.ContainerPort = 81 })[0]})},
	} {
		if !errdefs.IsInvalidParameter(tc.err) {
			t.Errorf("%s: %v, want InvalidParameter", tc.name, tc.err)
		}
	}
	if _, err := normalizePortSet(map[string][]Mapping{"a": {okMap}, "b": {okMap}}); !errdefs.IsConflict(err) {
		t.Errorf("one port under two keys: %v, want Conflict", err)
	}
	// The same port on another protocol or host address is another port.
	udp, lo := okMap, okMap
	udp.Proto = "udp"
	lo.HostIP = netip.MustParseAddr("127.0.0.1")
	if _, err := normalizePortSet(map[string][]Mapping{"a": {okMap}, "b": {udp}, "c": {lo}}); err != nil {
		t.Errorf("distinct ports: %v", err)
	}
	if err := validateNets([]Net{okNet}); err != nil {
		t.Errorf("valid net: %v", err)
	}
}

// TestNormalizePorts: the Engine API's "0.0.0.0" is every address, IPv6
// bindings (docker adds "::" beside "0.0.0.0") are left to nobody, and a
// mapping given twice is kept once.
func TestNormalizePorts(t *testing.T) {
	t.Parallel()
	c := netip.MustParseAddr("10.200.0.2")
	m := Mapping{Proto: "tcp", HostPort: 80, ContainerIP: c, ContainerPort: 80}
	any4, any6, lo6 := m, m, m
	any4.HostIP = netip.MustParseAddr("0.0.0.0")
	any6.HostIP = netip.MustParseAddr("::")
	lo6.HostIP = netip.MustParseAddr("::1")
	got, err := normalizePorts("k", []Mapping{any4, any6, lo6, m})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != m {
		t.Errorf("normalizePorts = %+v, want [%+v]", got, m)
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct{ prefix, prefer string }{
		{"", None},
		{strings.Repeat("p", 17), None},
		{"a b", None},
		{"a:b", None},
		{"berth", "ebtables"},
	} {
		if _, err := New(ctx, tc.prefix, tc.prefer, nil); !errdefs.IsInvalidParameter(err) {
			t.Errorf("New(%q, %q): %v, want InvalidParameter", tc.prefix, tc.prefer, err)
		}
	}
}

func TestNoneBackendDoesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fw, err := New(ctx, "berth", None, nil)
	if err != nil || fw.Name() != None {
		t.Fatalf("New(none): %v, %v", fw, err)
	}
	for _, err := range []error{
		fw.Init(ctx),
		fw.SetNetwork(ctx, Net{}),
		fw.SetPorts(ctx, "k", nil),
		fw.DeletePorts(ctx, "k"),
		fw.DeleteNetwork(ctx, "x"),
		fw.Sync(ctx, nil, nil),
		fw.Teardown(ctx),
	} {
		if err != nil {
			t.Errorf("none backend: %v", err)
		}
	}
}
