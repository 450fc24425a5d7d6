package server_test

import (
	"strings"
	"testing"
)

// TestHostileNetworkInput is TestHostileInput's table for the network
// endpoints: every request gets a 4xx with a clear message (never a 500,
// never a panic), and the server keeps serving.
func TestHostileNetworkInput(t *testing.T) {
	t.Parallel()
	fake, h := newHandler(t)
	create(t, h, "web", `{"Image":"busybox","Cmd":["sleep"]}`)
	fake.AddNetwork("front", nil)

	longName := strings.Repeat("n", 256)
	huge := `{"Name":"n","Labels":{"a":"` + strings.Repeat("A", 11<<20) + `"}}`
	manyConfigs := `{"Name":"n","IPAM":{"Config":[` + strings.TrimSuffix(strings.Repeat(`{"Subnet":"x"},`, 5000), ",") + `]}}`
	cases := []struct {
		name, method, path, body string
		status                   int
		msg                      string
	}{
		// Malformed JSON.
		{"create truncated", "POST", "/networks/create", `{"Name":`, 400, "invalid JSON: unexpected EOF"},
		{"create two documents", "POST", "/networks/create", `{"Name":"a"} {"Name":"b"}`, 400, "unexpected content after JSON"},
		{"create array", "POST", "/networks/create", `[]`, 400, "invalid JSON"},
		{"create null", "POST", "/networks/create", `null`, 400, "invalid name: network name is empty"},
		{"create deep nesting", "POST", "/networks/create", `{"Labels":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`, 400, "invalid JSON"},
		{"connect truncated", "POST", "/networks/front/connect", `{"Container":"web"`, 400, "invalid JSON"},
		{"disconnect garbage", "POST", "/networks/front/disconnect", `Container=web`, 400, "invalid JSON"},
		// Wrong types.
		{"name number", "POST", "/networks/create", `{"Name":5}`, 400, "cannot unmarshal number"},
		{"internal string", "POST", "/networks/create", `{"Name":"n","Internal":"yes"}`, 400, "cannot unmarshal string"},
		{"ipam array", "POST", "/networks/create", `{"Name":"n","IPAM":[]}`, 400, "cannot unmarshal array"},
		{"ipam config object", "POST", "/networks/create", `{"Name":"n","IPAM":{"Config":{"Subnet":"10.0.0.0/8"}}}`, 400, "cannot unmarshal object"},
		{"subnet number", "POST", "/networks/create", `{"Name":"n","IPAM":{"Config":[{"Subnet":10}]}}`, 400, "cannot unmarshal number"},
		{"options values", "POST", "/networks/create", `{"Name":"n","Options":{"mtu":1500}}`, 400, "cannot unmarshal number"},
		{"enable ipv6 string", "POST", "/networks/create", `{"Name":"n","EnableIPv6":"true"}`, 400, "cannot unmarshal string"},
		{"endpoint config array", "POST", "/networks/front/connect", `{"Container":"web","EndpointConfig":[]}`, 400, "cannot unmarshal array"},
		{"links object", "POST", "/networks/front/connect", `{"Container":"web","EndpointConfig":{"Links":{}}}`, 400, "cannot unmarshal object"},
		{"gateway junk in echoed inspect", "POST", "/networks/front/connect", `{"Container":"web","EndpointConfig":{"Gateway":"nope"}}`, 400, "invalid JSON"},
		// Names.
		{"name too long", "POST", "/networks/create", `{"Name":"` + longName + `"}`, 400, "invalid name: network name is longer than 255 bytes"},
		{"name with NUL", "POST", "/networks/create", `{"Name":"a\u0000b"}`, 400, "holds control characters"},
		{"name with newline", "POST", "/networks/create", `{"Name":"a\nb"}`, 400, "holds control characters"},
		{"name predefined none", "POST", "/networks/create", `{"Name":"none"}`, 403, "operation is not permitted on predefined none network"},
		// Subnets.
		{"subnet junk", "POST", "/networks/create", `{"Name":"n","IPAM":{"Config":[{"Subnet":"300.1.1.0/24"}]}}`, 400, "invalid subnet 300.1.1.0/24: invalid CIDR block notation"},
		{"subnet bits too many", "POST", "/networks/create", `{"Name":"n","IPAM":{"Config":[{"Subnet":"10.0.0.0/33"}]}}`, 400, "invalid CIDR block notation"},
		{"subnet with zone", "POST", "/networks/create", `{"Name":"n","EnableIPv6":true,"IPAM":{"Config":[{"Subnet":"fe80::%eth0/64"}]}}`, 400, "invalid CIDR block notation"},
		{"gateway outside", "POST", "/networks/create", `{"Name":"n","IPAM":{"Config":[{"Subnet":"10.200.0.0/24","Gateway":"10.200.1.1"}]}}`, 400, "doesn't contain this address"},
		{"many bad configs", "POST", "/networks/create", manyConfigs, 400, "invalid subnet x"},
		{"huge body", "POST", "/networks/create", huge, 400, "request body too large"},
		// Unknown objects.
		{"inspect unknown", "GET", "/networks/nothere", "", 404, "network nothere not found"},
		{"remove unknown", "DELETE", "/networks/nothere", "", 404, "network nothere not found"},
		{"connect unknown network", "POST", "/networks/nothere/connect", `{"Container":"web"}`, 404, "network nothere not found"},
		{"connect unknown container", "POST", "/networks/front/connect", `{"Container":"nobody"}`, 404, "No such container: nobody"},
		{"disconnect not connected", "POST", "/networks/front/disconnect", `{"Container":"web"}`, 403, "is not connected to network front"},
		{"remove predefined", "DELETE", "/networks/host", "", 403, "host is a pre-defined network and cannot be removed"},
		// Path tricks.
		{"encoded dot-dot", "GET", "/networks/..%2f..%2fetc", "", 404, "network ../../etc not found"},
		{"raw dot-dot", "GET", "/networks/../containers/json", "", 404, "page not found"},
		{"NUL in id", "GET", "/networks/front%00", "", 404, "not found"},
		{"newline in id", "DELETE", "/networks/front%0A", "", 404, "not found"},
		{"long id", "GET", "/networks/" + longName, "", 404, "not found"},
		{"empty segment", "GET", "/networks//connect", "", 404, "page not found"},
		{"trailing slash", "GET", "/networks/", "", 404, "page not found"},
		{"get on connect", "GET", "/networks/front/connect", "", 404, "page not found"},
		{"put create", "PUT", "/networks/create", `{"Name":"n"}`, 404, "page not found"},
		// Filters.
		{"filters not JSON", "GET", "/networks?filters=name", "", 400, `invalid filters "name"`},
		{"unknown filter", "GET", `/networks?filters={"status":["x"]}`, "", 400, "invalid filter 'status'"},
		{"prune unknown filter", "POST", `/networks/prune?filters={"name":["x"]}`, "", 400, "invalid filter 'name'"},
		{"prune two untils", "POST", `/networks/prune?filters={"until":["1h","2h"]}`, "", 400, "more than one until filter specified"},
		{"type bad", "GET", `/networks?filters={"type":{"other":true}}`, "", 400, "invalid filter: 'type'='other'"},
		{"verbose junk", "GET", "/networks/front?verbose=yes!", "", 400, "invalid value for verbose: yes!"},
	}
	for _, c := range cases {
		req, err := rawRequest(c.method, c.path, c.body, "")
		if err != nil {
			t.Logf("%s: refused by net/http before the API: %v", c.name, err)
			continue
		}
		rec := recorder(h, req)
		if rec.Code != c.status {
			t.Errorf("%s: status %d, want %d (%s)", c.name, rec.Code, c.status, trim(rec.Body.String()))
			continue
		}
		if c.msg != "" {
			if got := errorMessage(t, rec); !strings.Contains(got, c.msg) {
				t.Errorf("%s: message %q, want it to contain %q", c.name, trim(got), c.msg)
			}
		}
		if rec := do(t, h, "GET", "/_ping", nil); rec.Code != 200 {
			t.Fatalf("after %s the server no longer answers: %d", c.name, rec.Code)
		}
	}
	// Nothing of the above created a network.
	if rec := do(t, h, "GET", `/networks?filters={"type":["custom"]}`, nil); !strings.Contains(rec.Body.String(), `"Name":"front"`) || strings.Count(rec.Body.String(), `"Name"`) != 1 {
		t.Errorf("networks after the hostile requests: %s", trim(rec.Body.String()))
	}
}
