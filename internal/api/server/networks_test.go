package server_test

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/berth-project/berth/internal/api/server"
)

// TestSDKNetworks drives every network endpoint with the official SDK,
// as the docker CLI does.
func TestSDKNetworks(t *testing.T) {
	t.Parallel()
	c, fake := newSDK(t)
	ctx := sdkContext(t)

	created, err := c.NetworkCreate(ctx, "sdk-net", client.NetworkCreateOptions{
		Driver: "bridge", Labels: map[string]string{"team": "a"}, Internal: true,
		IPAM: &network.IPAM{Config: []network.IPAMConfig{{
			Subnet: netip.MustParsePrefix("10.201.0.0/16"), IPRange: netip.MustParsePrefix("10.201.1.0/24"),
			Gateway: netip.MustParseAddr("10.201.0.254"),
		}}},
	})
	if err != nil || len(created.ID) != 64 {
		t.Fatalf("create: %+v %v", created, err)
	}
	call, _ := fake.Last("NetworkCreate")
	req := call.Opts.(network.CreateRequest)
	if req.Name != "sdk-net" || !req.Internal || req.IPAM == nil || req.IPAM.Config[0].Gateway != netip.MustParseAddr("10.201.0.254") ||
		req.IPAM.Config[0].IPRange != netip.MustParsePrefix("10.201.1.0/24") || req.Labels["team"] != "a" {
		t.Errorf("backend got %+v", req)
	}
	if _, err := c.NetworkCreate(ctx, "sdk-net", client.NetworkCreateOptions{}); !cerrdefs.IsConflict(err) ||
		!strings.Contains(err.Error(), "network with name sdk-net already exists") {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := c.NetworkCreate(ctx, "host", client.NetworkCreateOptions{}); !cerrdefs.IsPermissionDenied(err) ||
		!strings.Contains(err.Error(), "operation is not permitted on predefined host network") {
		t.Errorf("predefined: %v", err)
	}

	names := func(f client.Filters) []string {
		t.Helper()
		res, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: f})
		if err != nil {
			t.Fatalf("list %v: %v", f, err)
		}
		var out []string
		for _, n := range res.Items {
			out = append(out, n.Name)
		}
		slices.Sort(out)
		return out
	}
	if got := names(nil); !slices.Equal(got, []string{"bridge", "host", "none", "sdk-net"}) {
		t.Errorf("list: %v", got)
	}
	if got := names(make(client.Filters).Add("type", "custom")); !slices.Equal(got, []string{"sdk-net"}) {
		t.Errorf("type=custom: %v", got)
	}
	if got := names(make(client.Filters).Add("label", "team=a").Add("driver", "bridge")); !slices.Equal(got, []string{"sdk-net"}) {
		t.Errorf("label and driver: %v", got)
	}
	if _, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("colour", "red")}); !cerrdefs.IsInvalidArgument(err) ||
		!strings.Contains(err.Error(), "invalid filter 'colour'") {
		t.Errorf("unknown filter: %v", err)
	}

	in, err := c.NetworkInspect(ctx, created.ID[:12], client.NetworkInspectOptions{Verbose: true})
	if err != nil || in.Network.Name != "sdk-net" || !in.Network.Internal || in.Network.Containers == nil {
		t.Fatalf("inspect by prefix: %+v %v", in.Network, err)
	}
	if call, _ := fake.Last("NetworkInspect"); !call.Opts.(server.NetworkInspectOptions).Verbose {
		t.Errorf("inspect options %+v", call.Opts)
	}
	if _, err := c.NetworkInspect(ctx, "nosuch", client.NetworkInspectOptions{}); !cerrdefs.IsNotFound(err) ||
		!strings.Contains(err.Error(), "network nosuch not found") {
		t.Errorf("inspect unknown: %v", err)
	}

	ctr, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{Name: "member", Config: &container.Config{Image: "busybox", Cmd: []string{"sleep"}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.NetworkConnect(ctx, "sdk-net", client.NetworkConnectOptions{Container: "member", EndpointConfig: &network.EndpointSettings{
		Aliases: []string{"db"}, IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: netip.MustParseAddr("10.201.1.7")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	call, _ = fake.Last("NetworkConnect")
	if cr := call.Opts.(network.ConnectRequest); cr.Container != "member" || !slices.Equal(cr.EndpointConfig.Aliases, []string{"db"}) ||
		cr.EndpointConfig.IPAMConfig.IPv4Address != netip.MustParseAddr("10.201.1.7") {
		t.Errorf("connect request %+v", cr)
	}
	in, err = c.NetworkInspect(ctx, "sdk-net", client.NetworkInspectOptions{})
	if err != nil || in.Network.Containers[ctr.ID].IPv4Address != netip.MustParsePrefix("10.201.1.7/16") {
		t.Errorf("inspect after connect: %+v %v", in.Network.Containers, err)
	}
	if got := names(make(client.Filters).Add("dangling", "true")); len(got) != 0 {
		t.Errorf("dangling with a member: %v", got)
	}
	if _, err := c.NetworkRemove(ctx, "sdk-net", client.NetworkRemoveOptions{}); !cerrdefs.IsConflict(err) {
		t.Errorf("remove with a member: %v", err)
	}
	if _, err := c.NetworkDisconnect(ctx, "sdk-net", client.NetworkDisconnectOptions{Container: "member", Force: true}); err != nil {
		t.Fatal(err)
	}
	call, _ = fake.Last("NetworkDisconnect")
	if dr := call.Opts.(network.DisconnectRequest); dr.Container != "member" || !dr.Force {
		t.Errorf("disconnect request %+v", dr)
	}
	if got := names(make(client.Filters).Add("dangling", "1")); !slices.Equal(got, []string{"sdk-net"}) {
		t.Errorf("dangling: %v", got)
	}

	if _, err := c.NetworkRemove(ctx, "bridge", client.NetworkRemoveOptions{}); !cerrdefs.IsPermissionDenied(err) {
		t.Errorf("remove bridge: %v", err)
	}
	pruned, err := c.NetworkPrune(ctx, client.NetworkPruneOptions{Filters: make(client.Filters).Add("label", "team=b")})
	if err != nil || len(pruned.Report.NetworksDeleted) != 0 {
		t.Errorf("prune other label: %+v %v", pruned, err)
	}
	pruned, err = c.NetworkPrune(ctx, client.NetworkPruneOptions{Filters: make(client.Filters).Add("label", "team=a")})
	if err != nil || !slices.Equal(pruned.Report.NetworksDeleted, []string{"sdk-net"}) {
		t.Errorf("prune: %+v %v", pruned, err)
	}
	if _, err := c.NetworkPrune(ctx, client.NetworkPruneOptions{Filters: make(client.Filters).Add("dangling", "true")}); !cerrdefs.IsInvalidArgument(err) {
		t.Errorf("prune with a list-only filter: %v", err)
	}
	if _, err := c.NetworkRemove(ctx, "sdk-net", client.NetworkRemoveOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("remove pruned: %v", err)
	}
}

// TestNetworkCreateChecks sends create bodies with dockerd's shape errors;
// each gets dockerd's status and words, and the backend never sees them.
func TestNetworkCreateChecks(t *testing.T) {
	t.Parallel()
	fake, h := newHandler(t)
	cases := []struct {
		name, body string
		status     int
		msg        string
	}{
		{"no body", ``, 400, "invalid name: network name is empty"},
		{"blank name", `{"Name":"  "}`, 400, "invalid name: network name is empty"},
		{"predefined", `{"Name":"bridge"}`, 403, "operation is not permitted on predefined bridge network "},
		{"default", `{"Name":"default"}`, 403, "operation is not permitted on predefined default network "},
		{"subnet not CIDR", `{"Name":"n","IPAM":{"Config":[{"Subnet":"10.0.0.0"}]}}`, 400,
			"invalid network config:\ninvalid subnet 10.0.0.0: invalid CIDR block notation"},
		{"subnet junk", `{"Name":"n","IPAM":{"Config":[{"Subnet":"foo"}]}}`, 400, "invalid subnet foo: invalid CIDR block notation"},
		{"subnet missing", `{"Name":"n","IPAM":{"Config":[{"Gateway":"10.0.0.1"}]}}`, 400, "invalid subnet : invalid CIDR block notation"},
		{"host bits", `{"Name":"n","IPAM":{"Config":[{"Subnet":"10.1.2.3/16"}]}}`, 400, "invalid subnet 10.1.2.3/16: it should be 10.1.0.0/16"},
		{"gateway outside", `{"Name":"n","IPAM":{"Config":[{"Subnet":"10.1.0.0/16","Gateway":"10.2.0.1"}]}}`, 400,
			"invalid network config:\ninvalid gateway 10.2.0.1: parent subnet 10.1.0.0/16 doesn't contain this address"},
		{"gateway junk", `{"Name":"n","IPAM":{"Config":[{"Subnet":"10.1.0.0/16","Gateway":"x"}]}}`, 400, "invalid gateway x: invalid address"},
		{"gateway family", `{"Name":"n","IPAM":{"Config":[{"Subnet":"10.1.0.0/16","Gateway":"fd00::1"}]}}`, 400, "invalid gateway fd00::1: parent subnet is an IPv4 block"},
		{"range outside", `{"Name":"n","IPAM":{"Config":[{"Subnet":"10.1.0.0/16","IPRange":"10.9.0.0/24"}]}}`, 400,
			"invalid ip-range 10.9.0.0/24: parent subnet 10.1.0.0/16 doesn't contain ip-range"},
		{"range bigger", `{"Name":"n","IPAM":{"Config":[{"Subnet":"10.1.0.0/16","IPRange":"10.0.0.0/8"}]}}`, 400,
			"invalid ip-range 10.0.0.0/8: CIDR block is bigger than its parent subnet 10.1.0.0/16"},
		{"aux outside", `{"Name":"n","IPAM":{"Config":[{"Subnet":"10.1.0.0/16","AuxiliaryAddresses":{"r":"10.3.0.1"}}]}}`, 400,
			"invalid auxiliary address r: parent subnet 10.1.0.0/16 doesn't contain this address"},
		{"several problems", `{"Name":"n","IPAM":{"Config":[{"Subnet":"10.1.2.3/16","Gateway":"10.2.0.1"}]}}`, 400,
			"invalid network config:\n* invalid subnet 10.1.2.3/16: it should be 10.1.0.0/16\n* invalid gateway 10.2.0.1: parent subnet 10.1.2.3/16 doesn't contain this address"},
		{"ipv6 option not bool", `{"Name":"n","Options":{"com.docker.network.enable_ipv6":"maybe"}}`, 400,
			`driver-opt "com.docker.network.enable_ipv6" is not a valid bool`},
		{"ipv6 host bits checked when enabled", `{"Name":"n","EnableIPv6":true,"IPAM":{"Config":[{"Subnet":"fd00::1/64"}]}}`, 400,
			"invalid subnet fd00::1/64: it should be fd00::/64"},
		{"check duplicate wrong type", `{"Name":"n","CheckDuplicate":"yes"}`, 400, "invalid JSON"},
		{"labels wrong type", `{"Name":"n","Labels":["a"]}`, 400, "invalid JSON"},
	}
	for _, c := range cases {
		before := len(fake.Calls())
		rec := do(t, h, "POST", "/v1.50/networks/create", strings.NewReader(c.body))
		if rec.Code != c.status {
			t.Errorf("%s: status %d, want %d (%s)", c.name, rec.Code, c.status, rec.Body)
			continue
		}
		if got := errorMessage(t, rec); !strings.Contains(got, c.msg) {
			t.Errorf("%s: message %q, want %q", c.name, got, c.msg)
		}
		if len(fake.Calls()) != before {
			t.Errorf("%s: the backend was called", c.name)
		}
	}

	// What passes: an IPv6 block is only parsed while IPv6 is off, as in
	// dockerd; CheckDuplicate is accepted and dropped; EnableIPv4 is
	// dropped before 1.48.
	for _, c := range []struct{ path, body string }{
		{"/v1.50/networks/create", `{"Name":"v6off","IPAM":{"Config":[{"Subnet":"fd00::1/64"}]}}`},
		{"/v1.41/networks/create", `{"Name":"old","CheckDuplicate":false,"EnableIPv4":false}`},
	} {
		rec := do(t, h, "POST", c.path, strings.NewReader(c.body))
		if rec.Code != http.StatusCreated {
			t.Errorf("%s: %d %s", c.body, rec.Code, rec.Body)
			continue
		}
		var res network.CreateResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || len(res.ID) != 64 {
			t.Errorf("%s: response %s", c.body, rec.Body)
		}
	}
	call, _ := fake.Last("NetworkCreate")
	if req := call.Opts.(network.CreateRequest); req.Name != "old" || req.EnableIPv4 != nil {
		t.Errorf("v1.41 create reached the backend as %+v", req)
	}
}

// TestNetworkConnectChecks: dockerd's endpoint checks, the never-nil
// EndpointConfig, and the gateway priority older clients could not send.
func TestNetworkConnectChecks(t *testing.T) {
	t.Parallel()
	fake, h := newHandler(t)
	create(t, h, "web", `{"Image":"busybox","Cmd":["sleep"]}`)
	fake.AddNetwork("front", nil)
	for _, c := range []struct{ name, body, msg string }{
		{"ipv4 junk", `{"Container":"web","EndpointConfig":{"IPAMConfig":{"IPv4Address":"1.2.3"}}}`, "invalid endpoint settings:\ninvalid IPv4 address: 1.2.3"},
		{"ipv4 is v6", `{"Container":"web","EndpointConfig":{"IPAMConfig":{"IPv4Address":"fd00::1"}}}`, "invalid IPv4 address: fd00::1"},
		{"ipv4 unspecified", `{"Container":"web","EndpointConfig":{"IPAMConfig":{"IPv4Address":"0.0.0.0"}}}`, "invalid IPv4 address: 0.0.0.0"},
		{"ipv6 is v4", `{"Container":"web","EndpointConfig":{"IPAMConfig":{"IPv6Address":"10.0.0.1"}}}`, "invalid IPv6 address: 10.0.0.1"},
		{"mac", `{"Container":"web","EndpointConfig":{"MacAddress":"zz:zz"}}`, "invalid MAC address zz:zz"},
		{"two problems", `{"Container":"web","EndpointConfig":{"MacAddress":"x","IPAMConfig":{"IPv4Address":"y"}}}`,
			"invalid endpoint settings:\n* invalid IPv4 address: y\n* invalid MAC address x"},
		{"aliases wrong type", `{"Container":"web","EndpointConfig":{"Aliases":"db"}}`, "invalid JSON"},
		{"container wrong type", `{"Container":5}`, "invalid JSON"},
	} {
		rec := do(t, h, "POST", "/networks/front/connect", strings.NewReader(c.body))
		if rec.Code != 400 {
			t.Errorf("%s: status %d (%s)", c.name, rec.Code, rec.Body)
			continue
		}
		if got := errorMessage(t, rec); !strings.Contains(got, c.msg) {
			t.Errorf("%s: message %q, want %q", c.name, got, c.msg)
		}
	}

	rec := do(t, h, "POST", "/v1.47/networks/front/connect", strings.NewReader(`{"Container":"web","EndpointConfig":{"GwPriority":5,"MacAddress":"02:42:ac:11:00:09"}}`))
	if rec.Code != 200 || rec.Body.Len() != 0 {
		t.Fatalf("connect: %d %q", rec.Code, rec.Body)
	}
	call, _ := fake.Last("NetworkConnect")
	if req := call.Opts.(network.ConnectRequest); req.EndpointConfig.GwPriority != 0 || req.EndpointConfig.MacAddress.String() != "02:42:ac:11:00:09" {
		t.Errorf("v1.47 connect reached the backend as %+v", req.EndpointConfig)
	}
	rec = do(t, h, "POST", "/networks/bridge/connect", strings.NewReader(`{"Container":"web"}`))
	call, _ = fake.Last("NetworkConnect")
	if req := call.Opts.(network.ConnectRequest); rec.Code != 200 || req.EndpointConfig == nil {
		t.Errorf("connect without EndpointConfig: %d, backend got %+v", rec.Code, req)
	}
	rec = do(t, h, "POST", "/networks/front/disconnect", strings.NewReader(`{"Container":"web","Force":"yes"}`))
	if rec.Code != 400 {
		t.Errorf("disconnect Force string: %d %s", rec.Code, rec.Body)
	}
	rec = do(t, h, "POST", "/networks/front/disconnect", strings.NewReader(`{"Container":"web"}`))
	if rec.Code != 200 {
		t.Errorf("disconnect: %d %s", rec.Code, rec.Body)
	}
}

// TestNetworkListShapes: docker's list carries an empty Containers map;
// before API 1.28 it carried each network's containers.
func TestNetworkListShapes(t *testing.T) {
	t.Parallel()
	fake, h := newHandler(t)
	id := create(t, h, "web", `{"Image":"busybox","Cmd":["sleep"]}`)
	fake.AddNetwork("front", map[string]string{"a": "b"})
	if rec := do(t, h, "POST", "/networks/front/connect", strings.NewReader(`{"Container":"web"}`)); rec.Code != 200 {
		t.Fatalf("connect: %d %s", rec.Code, rec.Body)
	}
	list := func(path string) map[string]map[string]json.RawMessage {
		t.Helper()
		rec := do(t, h, "GET", path, nil)
		if rec.Code != 200 {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
		var items []map[string]json.RawMessage
		if err := json.Unmarshal(rec.Body.Bytes(), &items); err != nil {
			t.Fatal(err)
		}
		byName := map[string]map[string]json.RawMessage{}
		for _, it := range items {
			var name string
			_ = json.Unmarshal(it["Name"], &name)
			byName[name] = it
		}
		return byName
	}
	now := list("/v1.50/networks")
	if string(now["front"]["Containers"]) != "{}" || string(now["host"]["Labels"]) != "{}" || string(now["front"]["Labels"]) != `{"a":"b"}` {
		t.Errorf("v1.50 list: front %s", now["front"])
	}
	old := list("/v1.27/networks")
	if !strings.Contains(string(old["front"]["Containers"]), id) {
		t.Errorf("v1.27 list: front Containers %s", old["front"]["Containers"])
	}

	for _, c := range []struct{ path, msg string }{
		{`/networks?filters={"dangling":["true","false"]}`, `got more than one value for filter key "dangling"`},
		{`/networks?filters={"dangling":["maybe"]}`, `invalid value for filter 'dangling', must be "true" (or "1"), or "false" (or "0")`},
		{`/networks?filters={"type":["special"]}`, "invalid filter: 'type'='special'"},
		{`/networks/front?verbose=maybe`, "invalid value for verbose: maybe"},
	} {
		rec := do(t, h, "GET", c.path, nil)
		if rec.Code != 400 || errorMessage(t, rec) != c.msg {
			t.Errorf("%s: %d %s", c.path, rec.Code, rec.Body)
		}
	}
	// Before 1.28 verbose and scope did not exist: ignored.
	if rec := do(t, h, "GET", "/v1.27/networks/front?verbose=maybe", nil); rec.Code != 200 {
		t.Errorf("v1.27 verbose: %d %s", rec.Code, rec.Body)
	}
	if rec := do(t, h, "GET", "/networks/front?verbose=1&scope=local", nil); rec.Code != 200 {
		t.Errorf("verbose: %d %s", rec.Code, rec.Body)
	}
	call, _ := fake.Last("NetworkInspect")
	if opts := call.Opts.(server.NetworkInspectOptions); call.Name != "front" || !opts.Verbose || opts.Scope != "local" {
		t.Errorf("inspect call %+v", call)
	}
}
