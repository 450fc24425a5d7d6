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
		{"IPv6 host address", validatePorts("k", with(func(m *Mapping) { m.HostIP = netip.MustParseAddr("::1") }))},
		{"0.0.0.0 host address", validatePorts("k", with(func(m *Mapping) { m.HostIP = netip.MustParseAddr("0.0.0.0") }))},
		{"port twice in a key", validatePorts("k", []Mapping{okMap, okMap})},
	} {
		if !errdefs.IsInvalidParameter(tc.err) {
			t.Errorf("%s: %v, want InvalidParameter", tc.name, tc.err)
		}
	}
	if err := validatePortSet(map[string][]Mapping{"a": {okMap}, "b": {okMap}}); !errdefs.IsConflict(err) {
		t.Errorf("one port under two keys: %v, want Conflict", err)
	}
	// The same port on another protocol or host address is another port.
	udp, lo := okMap, okMap
	udp.Proto = "udp"
	lo.HostIP = netip.MustParseAddr("127.0.0.1")
	if err := validatePortSet(map[string][]Mapping{"a": {okMap}, "b": {udp}, "c": {lo}}); err != nil {
		t.Errorf("distinct ports: %v", err)
	}
	if err := validateNets([]Net{okNet}); err != nil {
		t.Errorf("valid net: %v", err)
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
