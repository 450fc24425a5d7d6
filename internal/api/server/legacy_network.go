package server

import (
	"encoding/json"

	"github.com/moby/moby/api/types/container"
)

// legacyNetworkFields are NetworkSettings' top-level fields that API
// versions before 1.52 carry (docker 28's CLI reads
// {{.NetworkSettings.IPAddress}} from them) and github.com/moby/moby/api
// has dropped: the default bridge's endpoint, empty otherwise, as dockerd
// fills them.
func legacyNetworkFields(ns *container.NetworkSettings) map[string]any {
	f := map[string]any{
		"Bridge": "", "HairpinMode": false, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
		"SecondaryIPAddresses": nil, "SecondaryIPv6Addresses": nil,
		"EndpointID": "", "Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
		"IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "", "MacAddress": "",
	}
	ep := ns.Networks["bridge"]
	if ep == nil {
		return f
	}
	f["EndpointID"] = ep.EndpointID
	if ep.Gateway.IsValid() {
		f["Gateway"] = ep.Gateway.String()
	}
	if ep.IPAddress.IsValid() {
		f["IPAddress"] = ep.IPAddress.String()
	}
	f["IPPrefixLen"] = ep.IPPrefixLen
	if ep.GlobalIPv6Address.IsValid() {
		f["GlobalIPv6Address"] = ep.GlobalIPv6Address.String()
	}
	f["GlobalIPv6PrefixLen"] = ep.GlobalIPv6PrefixLen
	if ep.IPv6Gateway.IsValid() {
		f["IPv6Gateway"] = ep.IPv6Gateway.String()
	}
	if len(ep.MacAddress) > 0 {
		f["MacAddress"] = ep.MacAddress.String()
	}
	return f
}

// inspectWithLegacyNetwork is an inspect answer with legacyNetworkFields
// in its NetworkSettings.
type inspectWithLegacyNetwork struct {
	container.InspectResponse
}

func (c inspectWithLegacyNetwork) MarshalJSON() ([]byte, error) {
	if c.NetworkSettings == nil {
		return json.Marshal(c.InspectResponse)
	}
	ns, err := json.Marshal(withFields(c.NetworkSettings, legacyNetworkFields(c.NetworkSettings)))
	if err != nil {
		return nil, err
	}
	whole, err := json.Marshal(c.InspectResponse)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(whole, &fields); err != nil {
		return nil, err
	}
	fields["NetworkSettings"] = ns
	return json.Marshal(fields)
}
