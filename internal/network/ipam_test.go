package network

import (
	"net/netip"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
)

func TestChooseSubnet(t *testing.T) {
	pools := []AddressPool{
		{Base: netip.MustParsePrefix("10.200.0.0/22"), Size: 24},
		{Base: netip.MustParsePrefix("10.201.0.0/16"), Size: 20},
	}
	cases := []struct {
		taken []string
		want  string
	}{
		{nil, "10.200.0.0/24"},
		{[]string{"10.200.0.128/25"}, "10.200.1.0/24"},
		{[]string{"10.0.0.0/8"}, ""},
		{[]string{"10.200.0.0/22"}, "10.201.0.0/20"},
		{[]string{"10.200.0.0/22", "10.201.0.5/32"}, "10.201.16.0/20"},
	}
	for _, c := range cases {
		var taken []netip.Prefix
		for _, s := range c.taken {
			taken = append(taken, netip.MustParsePrefix(s))
		}
		got, ok := chooseSubnet(pools, taken)
		if c.want == "" {
			if ok {
				t.Errorf("%v: got %s, want none", c.taken, got)
			}
			continue
		}
		if !ok || got.String() != c.want {
			t.Errorf("%v: got %s %v, want %s", c.taken, got, ok, c.want)
		}
	}
}

func TestPoolLowestFree(t *testing.T) {
	sub := netip.MustParsePrefix("10.200.0.0/29") // .1 gateway, .2-.6 usable, .7 broadcast
	p := newPool(sub, netip.Prefix{}, netip.MustParseAddr("10.200.0.1"))
	var got []string
	for {
		a, ok := p.next()
		if !ok {
			break
		}
		p.hold(a, a.String())
		got = append(got, a.String())
	}
	if len(got) != 5 || got[0] != "10.200.0.2" || got[4] != "10.200.0.6" {
		t.Fatalf("allocations %v", got)
	}
	p.release(netip.MustParseAddr("10.200.0.4"), "someone else")
	if _, ok := p.next(); ok {
		t.Fatal("a release by another owner freed the address")
	}
	p.release(netip.MustParseAddr("10.200.0.4"), "10.200.0.4")
	if a, ok := p.next(); !ok || a.String() != "10.200.0.4" {
		t.Fatalf("after release: %v %v", a, ok)
	}
	// An ip-range limits allocation; the gateway stays the subnet's first.
	p = newPool(netip.MustParsePrefix("10.200.0.0/24"), netip.MustParsePrefix("10.200.0.128/25"), netip.MustParseAddr("10.200.0.1"))
	if a, _ := p.next(); a.String() != "10.200.0.128" {
		t.Fatalf("ip-range: %s", a)
	}
	if p.usable(netip.MustParseAddr("10.200.0.255")) || p.usable(netip.MustParseAddr("10.200.0.0")) || !p.usable(netip.MustParseAddr("10.200.0.254")) {
		t.Fatal("usable")
	}
}

func TestValidateCreate(t *testing.T) {
	sub := netip.MustParsePrefix("10.200.3.0/24")
	cases := []struct {
		name string
		req  CreateRequest
		is   func(error) bool
		text string
	}{
		{"ok", CreateRequest{Name: "n", Subnet: sub, IPRange: netip.MustParsePrefix("10.200.3.64/26"), Gateway: netip.MustParseAddr("10.200.3.254")}, nil, ""},
		{"empty name", CreateRequest{}, errdefs.IsInvalidParameter, ""},
		{"none", CreateRequest{Name: "none"}, errdefs.IsForbidden, "operation is not permitted on predefined none network "},
		{"null driver", CreateRequest{Name: "x", Driver: "null"}, errdefs.IsForbidden, `only one instance of "null" network is allowed`},
		{"ipv6", CreateRequest{Name: "x", Subnet: netip.MustParsePrefix("fd00::/64")}, errdefs.IsNotImplemented, ""},
		{"tiny subnet", CreateRequest{Name: "x", Subnet: netip.MustParsePrefix("10.200.3.0/31")}, errdefs.IsInvalidParameter, ""},
		{"range without subnet", CreateRequest{Name: "x", IPRange: netip.MustParsePrefix("10.200.3.0/25")}, errdefs.IsInvalidParameter, ""},
		{"range outside", CreateRequest{Name: "x", Subnet: sub, IPRange: netip.MustParsePrefix("10.200.4.0/25")}, errdefs.IsInvalidParameter,
			"invalid network config:\ninvalid ip-range 10.200.4.0/25: parent subnet 10.200.3.0/24 doesn't contain ip-range"},
		{"range wider", CreateRequest{Name: "x", Subnet: sub, IPRange: netip.MustParsePrefix("10.200.0.0/16")}, errdefs.IsInvalidParameter, ""},
		{"gateway outside", CreateRequest{Name: "x", Subnet: sub, Gateway: netip.MustParseAddr("10.1.0.1")}, errdefs.IsInvalidParameter,
			"invalid network config:\ninvalid gateway 10.1.0.1: parent subnet 10.200.3.0/24 doesn't contain this address"},
		{"gateway broadcast", CreateRequest{Name: "x", Subnet: sub, Gateway: netip.MustParseAddr("10.200.3.255")}, errdefs.IsInvalidParameter, ""},
		{"bridge name too long", CreateRequest{Name: "x", Options: map[string]string{optBridgeName: "a-very-long-bridge-name"}}, errdefs.IsInvalidParameter, ""},
		{"icc not a bool", CreateRequest{Name: "x", Options: map[string]string{optICC: "maybe"}}, errdefs.IsInvalidParameter, ""},
		{"host binding not an address", CreateRequest{Name: "x", Options: map[string]string{optHostBinding: "localhost"}}, errdefs.IsInvalidParameter, ""},
	}
	for _, c := range cases {
		err := validateCreate(c.req)
		if c.is == nil {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if err == nil || !c.is(err) {
			t.Errorf("%s: %v (class wrong)", c.name, err)
		} else if c.text != "" && err.Error() != c.text {
			t.Errorf("%s: %q, want %q", c.name, err, c.text)
		}
	}
}

func TestMakeConfig(t *testing.T) {
	cfg, err := makeConfig(Config{Root: "/r", ExecRoot: "/e"})
	if err != nil || cfg.Prefix != "berth" || cfg.DefaultBridge != "berth0" || cfg.MTU != 1500 || len(cfg.DefaultAddressPools) != 6 {
		t.Fatalf("%+v %v", cfg, err)
	}
	for _, bad := range []Config{
		{Root: "/r"},
		{Root: "/r", ExecRoot: "/e", Prefix: "toolongp"},
		{Root: "/r", ExecRoot: "/e", BIP: netip.MustParsePrefix("172.17.0.0/16")},
		{Root: "/r", ExecRoot: "/e", MTU: 10},
		{Root: "/r", ExecRoot: "/e", Firewall: "pf"},
		{Root: "/r", ExecRoot: "/e", DefaultAddressPools: []AddressPool{{Base: netip.MustParsePrefix("10.0.0.0/16"), Size: 8}}},
	} {
		if _, err := makeConfig(bad); !errdefs.IsInvalidParameter(err) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}
