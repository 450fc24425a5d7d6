package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"testing"
)

// TestNetworkRequestsMatchDocker compares the bodies berth and the docker
// CLI send for network create and connect, and the requests rm, prune and
// disconnect make.
func TestNetworkRequestsMatchDocker(t *testing.T) {
	requireDockerCLI(t)
	t.Parallel()
	cases := [][]string{
		{"network", "create", "n1"},
		{"network", "create", "-d", "bridge", "--subnet", "10.220.0.0/16", "--ip-range", "10.220.5.0/24", "--gateway", "10.220.0.254",
			"--aux-address", "router=10.220.0.2", "--label", "a=b", "--label", "c", "-o", "com.docker.network.bridge.name=br9",
			"--opt", "com.docker.network.driver.mtu=1400", "--internal", "--attachable", "--ipam-opt", "k=v", "n2"},
		{"network", "create", "--subnet", "10.221.0.0/24", "--subnet", "10.222.0.0/24", "--gateway", "10.222.0.9", "n3"},
		{"network", "create", "--ipv6", "--subnet", "fd00:1::/64", "--ipv4=false", "n4"},
		{"network", "create", "--ipv6=false", "--scope", "local", "--ipam-driver", "default", "--config-only", "n5"},
		{"network", "create", "--config-from", "n5", "--ingress", "-d", "overlay", "n6"},
		{"network", "connect", "net", "ctr"},
		{"network", "connect", "--ip", "10.220.5.5", "--ip6", "fd00:1::5", "--alias", "a,b", "--alias", "c", "--link", "other:o",
			"--link-local-ip", "169.254.1.1", "--driver-opt", "k = v", "--gw-priority", "-3", "net", "ctr"},
		{"network", "disconnect", "net", "ctr"},
		{"network", "disconnect", "-f", "net", "ctr"},
		{"network", "rm", "n1", "n2"},
		{"network", "prune", "-f", "--filter", "label=a=b", "--filter", "until=24h"},
		{"network", "ls", "--filter", "driver=bridge", "--filter", "dangling=true"},
		{"network", "inspect", "-v", "n1"},
	}
	for _, args := range cases {
		d := newFakeDaemon(t)
		d.json("POST /networks/create", http.StatusCreated, map[string]any{"Id": "0123456789ab0123456789ab0123456789ab0123456789ab0123456789abcdef", "Warning": ""})
		d.handle("POST /networks/{id}/connect", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
		d.handle("POST /networks/{id}/disconnect", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
		d.handle("DELETE /networks/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
		d.json("GET /networks/{id}", http.StatusOK, map[string]any{"Name": "n", "Id": "0123456789ab", "Containers": map[string]any{}})
		d.json("GET /networks", http.StatusOK, []any{})
		d.json("POST /networks/prune", http.StatusOK, map[string]any{"NetworksDeleted": nil})

		_, derr, dcode := runDocker(t, d, args...)
		r := d.berth(args...)
		if dcode != 0 || r.code != 0 {
			t.Errorf("%v: docker exit %d (%s), berth exit %d (%s)", args, dcode, derr, r.code, r.err)
			continue
		}
		d.mu.Lock()
		var reqs []recorded
		for _, q := range d.requests {
			if q.Path != "/_ping" {
				reqs = append(reqs, q)
			}
		}
		d.mu.Unlock()
		if len(reqs)%2 != 0 {
			t.Errorf("%v: %d requests in all", args, len(reqs))
			continue
		}
		half := len(reqs) / 2
		for i := range half {
			dq, bq := reqs[i], reqs[half+i]
			if dq.Method != bq.Method || dq.Path != bq.Path || !sameQuery(t, dq.Query, bq.Query) {
				t.Errorf("%v: request %d: docker %s %s?%s, berth %s %s?%s", args, i, dq.Method, dq.Path, dq.Query, bq.Method, bq.Path, bq.Query)
				continue
			}
			if len(dq.Body) == 0 && len(bq.Body) == 0 {
				continue
			}
			want, got := sortIPAM(normalize(t, dq.Body)), sortIPAM(normalize(t, bq.Body))
			if !reflect.DeepEqual(want, got) {
				wj, _ := json.MarshalIndent(want, "", " ")
				gj, _ := json.MarshalIndent(got, "", " ")
				t.Errorf("%v: %s %s bodies differ\ndocker:\n%s\nberth:\n%s", args, dq.Method, dq.Path, wj, gj)
			}
		}
	}
}

// sameQuery compares queries whose filters JSON may list keys in any order.
func sameQuery(t *testing.T, a, b string) bool {
	if a == b {
		return true
	}
	return fmt.Sprint(decodeQueryFilters(t, a)) == fmt.Sprint(decodeQueryFilters(t, b))
}

func decodeQueryFilters(t *testing.T, q string) any {
	t.Helper()
	vals, err := parseQuery(q)
	if err != nil {
		return q
	}
	var f any
	if err := json.Unmarshal([]byte(vals.Get("filters")), &f); err != nil {
		return q
	}
	vals.Del("filters")
	return []any{vals.Encode(), f}
}

// sortIPAM orders IPAM.Config by subnet: the docker CLI sends them in
// map order.
func sortIPAM(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	ipam, ok := m["IPAM"].(map[string]any)
	if !ok {
		return v
	}
	if cfgs, ok := ipam["Config"].([]any); ok {
		sort.Slice(cfgs, func(i, j int) bool { return fmt.Sprint(cfgs[i]) < fmt.Sprint(cfgs[j]) })
	}
	return v
}

func parseQuery(q string) (url.Values, error) { return url.ParseQuery(q) }
