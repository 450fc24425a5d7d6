package container

import (
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/network"
)

func TestNetworkSettingsRecord(t *testing.T) {
	t.Parallel()
	mac, _ := net.ParseMAC("02:42:0a:00:00:05")
	want, _ := net.ParseMAC("02:00:00:00:00:01")
	ns := NetworkSettings{
		Networks: map[string]*network.EndpointSettings{
			"bridge": {NetworkID: "n1", EndpointID: "e1", IPAddress: netip.MustParseAddr("10.0.0.5"), IPPrefixLen: 24,
				Gateway: netip.MustParseAddr("10.0.0.1"), MacAddress: network.HardwareAddr(mac)},
			"mine": {NetworkID: "n2", Aliases: []string{"db"}, MacAddress: network.HardwareAddr(want),
				IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: netip.MustParseAddr("10.1.0.9")}},
		},
		Ports: network.PortMap{
			network.MustParsePort("80/tcp"): {{HostIP: netip.MustParseAddr("0.0.0.0"), HostPort: "8080"}},
			network.MustParsePort("53/udp"): nil,
		},
		SandboxID:   "abc",
		SandboxKey:  "/run/berth/netns/x",
		DesiredMACs: map[string]network.HardwareAddr{"mine": network.HardwareAddr(want)},
	}
	b, err := json.Marshal(&Container{ID: "x", NetworkSettings: ns})
	if err != nil {
		t.Fatal(err)
	}
	var back Container
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	got := back.NetworkSettings
	if got.Networks["bridge"].IPAddress != ns.Networks["bridge"].IPAddress || got.Networks["mine"].Aliases[0] != "db" ||
		got.Ports[network.MustParsePort("80/tcp")][0].HostPort != "8080" || got.SandboxKey != ns.SandboxKey ||
		got.DesiredMACs["mine"].String() != want.String() {
		t.Fatalf("round trip: %s", b)
	}
	if b, _ := json.Marshal(&Container{ID: "y"}); strings.Contains(string(b), "NetworkSettings") {
		t.Fatalf("an empty NetworkSettings is left out: %s", b)
	}

	cp := got.Copy()
	cp.Networks["mine"].Aliases[0] = "changed"
	if got.Networks["mine"].Aliases[0] != "db" {
		t.Fatal("Copy shares the aliases")
	}
	got.ClearOperational()
	br, mine := got.Networks["bridge"], got.Networks["mine"]
	if br.EndpointID != "" || br.IPAddress.IsValid() || br.Gateway.IsValid() || br.MacAddress != nil || br.NetworkID != "n1" {
		t.Fatalf("bridge after clear: %+v", br)
	}
	if mine.MacAddress.String() != want.String() || mine.IPAMConfig == nil || mine.Aliases[0] != "db" {
		t.Fatalf("what was asked must stay: %+v", mine)
	}
	if got.Ports != nil || got.SandboxKey != "" || got.SandboxID != "" {
		t.Fatalf("run data must go: %+v", got)
	}
}
