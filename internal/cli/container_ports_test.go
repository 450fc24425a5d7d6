package cli

import (
	"net/netip"
	"testing"

	"github.com/moby/moby/api/types/network"
)

func TestParsePorts(t *testing.T) {
	t.Parallel()
	exposed, bindings, err := parsePorts([]string{"[::1]:8080:80", "7000-7001:70-71/udp", "9000-9005:90", "target=53,published=5353,protocol=udp"}, []string{"100-101"})
	if err != nil {
		t.Fatal(err)
	}
	check := func(port string, want []network.PortBinding) {
		t.Helper()
		got := bindings[network.MustParsePort(port)]
		if len(got) != len(want) {
			t.Errorf("%s: %+v, want %+v", port, got, want)
			return
		}
		for i := range got {
			if got[i].HostPort != want[i].HostPort || got[i].HostIP != want[i].HostIP {
				t.Errorf("%s: %+v, want %+v", port, got, want)
			}
		}
	}
	check("80/tcp", []network.PortBinding{{HostPort: "8080", HostIP: mustAddr("::1")}})
	check("70/udp", []network.PortBinding{{HostPort: "7000"}})
	check("71/udp", []network.PortBinding{{HostPort: "7001"}})
	check("90/tcp", []network.PortBinding{{HostPort: "9000-9005"}})
	check("53/udp", []network.PortBinding{{HostPort: "5353"}})
	for _, p := range []string{"80/tcp", "70/udp", "71/udp", "90/tcp", "53/udp", "100/tcp", "101/tcp"} {
		if _, ok := exposed[network.MustParsePort(p)]; !ok {
			t.Errorf("%s not exposed", p)
		}
	}
	for _, bad := range []string{"abc", "80:abc", "1-2:3-5", "80/xyz", "[::1:80", "1:2:3:4", "target=80,bogus"} {
		if _, _, err := parsePorts([]string{bad}, nil); err == nil {
			t.Errorf("-p %s accepted", bad)
		}
	}
	if _, _, err := parsePorts(nil, []string{"x-y"}); err == nil {
		t.Error("--expose x-y accepted")
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
