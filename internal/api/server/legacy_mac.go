package server

import (
	"bytes"
	"encoding/json"
	"net"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
)

// legacyMACAddress is the Config's MacAddress in a create body: the container's
// MAC as clients before API 1.44 send it (docker 20.10's --mac-address),
// a field github.com/moby/moby/api has dropped. "" when absent.
func legacyMACAddress(body []byte) string {
	// Most bodies have no MAC at all: no second decode for them.
	if !bytes.Contains(body, []byte(`"MacAddress"`)) {
		return ""
	}
	// The body is the Config itself, HostConfig and NetworkingConfig
	// beside its fields.
	var b struct {
		MacAddress string
	}
	if json.Unmarshal(body, &b) != nil {
		return ""
	}
	return b.MacAddress
}

// adjustLegacyMAC moves Config.MacAddress to the endpoint of the network
// the container's mode names, as dockerd does, unless that endpoint has a
// MAC of its own.
func adjustLegacyMAC(w *container.CreateRequest, in createInput) error {
	if in.legacyMAC == "" {
		return nil
	}
	mac, err := net.ParseMAC(in.legacyMAC)
	if err != nil {
		return invalidf("invalid MAC address: %s", in.legacyMAC)
	}
	key := string(w.HostConfig.NetworkMode)
	ep := w.NetworkingConfig.EndpointsConfig[key]
	if ep == nil {
		ep = &network.EndpointSettings{}
		w.NetworkingConfig.EndpointsConfig[key] = ep
	}
	if len(ep.MacAddress) == 0 {
		ep.MacAddress = network.HardwareAddr(mac)
	}
	return nil
}
