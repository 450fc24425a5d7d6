package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/api/server/servertest"
)

// onBridge is a backend whose one container sits on the default bridge.
type onBridge struct{ *servertest.Fake }

func (onBridge) ContainerInspect(ctx context.Context, name string, size bool) (container.InspectResponse, error) {
	mac, _ := net.ParseMAC("02:42:ac:11:00:02")
	return container.InspectResponse{
		ID: "abc",
		NetworkSettings: &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{
			"bridge": {
				EndpointID: "ep1", IPAddress: netip.MustParseAddr("172.17.0.2"), IPPrefixLen: 16,
				Gateway: netip.MustParseAddr("172.17.0.1"), MacAddress: network.HardwareAddr(mac),
			},
		}},
	}, nil
}

// TestInspectLegacyNetworkFields: docker 28's API carries the default
// bridge's address at the top of NetworkSettings, where
// `docker inspect -f '{{.NetworkSettings.IPAddress}}'` reads it.
func TestInspectLegacyNetworkFields(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(server.New(onBridge{servertest.New()}, server.WithLogger(quietLogger(t))).Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/v1.50/containers/abc/json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var got struct {
		NetworkSettings map[string]any
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	ns := got.NetworkSettings
	for k, want := range map[string]any{"IPAddress": "172.17.0.2", "Gateway": "172.17.0.1", "IPPrefixLen": 16.0, "MacAddress": "02:42:ac:11:00:02", "EndpointID": "ep1"} {
		if ns[k] != want {
			t.Errorf("NetworkSettings.%s = %v, want %v", k, ns[k], want)
		}
	}
	if _, ok := ns["Networks"]; !ok {
		t.Errorf("Networks lost: %s", body)
	}
}
