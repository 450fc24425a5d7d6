package server

import (
	"strings"
	"testing"

	"github.com/moby/moby/api/types/network"
)

func endpoints(t *testing.T, req ContainerCreateRequest) map[string]*network.EndpointSettings {
	t.Helper()
	nc, ok := req.Networking.(*network.NetworkingConfig)
	if !ok {
		t.Fatalf("Networking is %T", req.Networking)
	}
	return nc.EndpointsConfig
}

// TestLegacyMACAddress: docker 20.10's --mac-address (the Config's
// MacAddress) reaches the endpoint of the container's network, unless the
// endpoint names a MAC of its own; a bad one is refused.
func TestLegacyMACAddress(t *testing.T) {
	body := func(ep string) string {
		return `{"Image":"busybox","MacAddress":"02:42:0a:0b:0c:0d","HostConfig":{"NetworkMode":"net1"},"NetworkingConfig":{"EndpointsConfig":{` + ep + `}}}`
	}
	req, err := decodeCreate(strings.NewReader(body("")), createInput{version: "1.41", limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if ep := endpoints(t, req)["net1"]; ep == nil || ep.MacAddress.String() != "02:42:0a:0b:0c:0d" {
		t.Fatalf("endpoint of net1: %+v", ep)
	}
	req, err = decodeCreate(strings.NewReader(body(`"net1":{"MacAddress":"02:42:00:00:00:01"}`)), createInput{version: "1.41", limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if got := endpoints(t, req)["net1"].MacAddress.String(); got != "02:42:00:00:00:01" {
		t.Errorf("the endpoint's own MAC was replaced: %s", got)
	}
	bad := strings.Replace(body(""), "02:42:0a:0b:0c:0d", "nope", 1)
	if _, err := decodeCreate(strings.NewReader(bad), createInput{version: "1.41", limit: 1 << 20}); err == nil || !strings.Contains(err.Error(), "invalid MAC address") {
		t.Errorf("bad MAC: %v", err)
	}
}
