package server

// The filters GET /networks and POST /networks/prune accept, as dockerd.
var (
	networkListFilters  = []string{"dangling", "driver", "id", "label", "name", "scope", "type"}
	networkPruneFilters = []string{"label", "label!", "until"}
)

// checkNetworkListFilters refuses, with dockerd's messages, what no
// engine could filter by: unknown keys, a dangling filter that is not one
// boolean, a type other than custom or builtin. (dockerd answers 500 to a
// bad type; it is the client's mistake, so Berth answers 400.)
func checkNetworkListFilters(f Filters) error {
	if err := checkFilterKeys(f, networkListFilters); err != nil {
		return err
	}
	if d := f["dangling"]; len(d) > 0 {
		if len(d) > 1 {
			return invalidf(`got more than one value for filter key "dangling"`)
		}
		switch d[0] {
		case "0", "1", "false", "true":
		default:
			return invalidf(`invalid value for filter 'dangling', must be "true" (or "1"), or "false" (or "0")`)
		}
	}
	for _, t := range f["type"] {
		if t != "custom" && t != "builtin" {
			return invalidf("invalid filter: 'type'='%s'", t)
		}
	}
	return nil
}

// checkNetworkPruneFilters checks prune's keys; the until value is read
// by the backend, which knows the time.
func checkNetworkPruneFilters(f Filters) error {
	if err := checkFilterKeys(f, networkPruneFilters); err != nil {
		return err
	}
	if len(f["until"]) > 1 {
		return invalidf("more than one until filter specified")
	}
	return nil
}
