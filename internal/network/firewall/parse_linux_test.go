package firewall

import (
	"net/netip"
	"slices"
	"testing"
)

func TestSplitSaved(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line string
		want []string
	}{
		{`-A FORWARD -i br0 -j ACCEPT`, []string{"-A", "FORWARD", "-i", "br0", "-j", "ACCEPT"}},
		{`-A X -m comment --comment "a b" -j DROP`, []string{"-A", "X", "-m", "comment", "--comment", "a b", "-j", "DROP"}},
		{`-A X -m comment --comment "say \"hi\"" -j DROP`, []string{"-A", "X", "-m", "comment", "--comment", `say "hi"`, "-j", "DROP"}},
		{`-A X  --comment ""`, []string{"-A", "X", "--comment", ""}},
	} {
		if got := splitSaved(tc.line); !slices.Equal(got, tc.want) {
			t.Errorf("splitSaved(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
	if v, ok := commentValue(`-A P-PORTS -p tcp -m comment --comment "bt:port:k1:tcp/0.0.0.0/80" -j DNAT`, "bt:port:"); !ok || v != "k1:tcp/0.0.0.0/80" {
		t.Errorf("commentValue: %q %v", v, ok)
	}
	if _, ok := commentValue(`-A P-PORTS -p tcp -m comment --comment "bt3:port:k1" -j DNAT`, "bt:"); ok {
		t.Error("commentValue matched another prefix")
	}
}

// TestPortElementsRoundTrip: what SetPorts writes into the maps reads
// back as the same mappings (the restart path).
func TestPortElementsRoundTrip(t *testing.T) {
	t.Parallel()
	in := map[string][]Mapping{
		"k1": {
			{Proto: "tcp", HostPort: 8080, ContainerIP: netip.MustParseAddr("10.200.1.2"), ContainerPort: 80},
			{Proto: "sctp", HostPort: 65535, ContainerIP: netip.MustParseAddr("10.200.1.2"), ContainerPort: 1},
		},
		"k2": {{Proto: "udp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 53, ContainerIP: netip.MustParseAddr("10.254.9.200"), ContainerPort: 5353}},
	}
	anyEls, hostEls := portElements(in)
	got := map[string][]Mapping{}
	for _, el := range anyEls {
		m, ok := parsePortElement(false, el)
		if !ok {
			t.Fatalf("parse %v", el)
		}
		got[el.Comment] = append(got[el.Comment], m)
	}
	for _, el := range hostEls {
		m, ok := parsePortElement(true, el)
		if !ok {
			t.Fatalf("parse %v", el)
		}
		got[el.Comment] = append(got[el.Comment], m)
	}
	for key, ms := range in {
		if !slices.Equal(got[key], ms) {
			t.Errorf("%s: got %+v, want %+v", key, got[key], ms)
		}
	}
}
