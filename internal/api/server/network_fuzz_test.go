package server

import (
	"bytes"
	"testing"
)

// FuzzNetworkBodies feeds arbitrary create and connect bodies through the
// decoding and checks: whatever arrives, they answer a request or an
// InvalidParameter/Forbidden error, never a panic.
func FuzzNetworkBodies(f *testing.F) {
	for _, s := range []string{
		`{"Name":"n","IPAM":{"Config":[{"Subnet":"10.1.0.0/16","IPRange":"10.1.1.0/24","Gateway":"10.1.0.1","AuxiliaryAddresses":{"a":"10.1.0.2"}}]}}`,
		`{"Name":"n","EnableIPv6":true,"IPAM":{"Config":[{"Subnet":"fd00::/64","Gateway":"fd00::1"}]}}`,
		`{"Name":"n","Options":{"com.docker.network.enable_ipv6":"1"},"CheckDuplicate":true}`,
		`{"Container":"web","EndpointConfig":{"IPAMConfig":{"IPv4Address":"10.1.0.9","LinkLocalIPs":["169.254.1.1"]},"MacAddress":"02:42:00:00:00:01","Aliases":["a"]}}`,
	} {
		f.Add([]byte(s), "1.50")
		f.Add([]byte(s), "1.27")
	}
	f.Fuzz(func(t *testing.T, body []byte, version string) {
		var cw createNetworkWire
		if decodeJSON(bytes.NewReader(body), &cw, 1<<20) == nil {
			_, _ = cw.request(version)
		}
		var kw connectWire
		if decodeJSON(bytes.NewReader(body), &kw, 1<<20) == nil {
			_, _ = kw.request(version)
		}
	})
}
