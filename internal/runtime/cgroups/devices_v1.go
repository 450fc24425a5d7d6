package cgroups

import (
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// setDevicesV1 replaces the device rules of a v1 devices cgroup: deny
// everything, then write the rules in order, as runc does. The kernel
// applies each write as it comes, so the list keeps its order semantics
// (a later rule overrides an earlier one for the same device).
//
// On an update of a running container, the processes see "deny all" for
// the few microseconds between the first write and the last.
//
// v1 cannot express a type-a rule for some devices or some access: the
// kernel reads any "a" rule as "every device, rwm". The v2 filter can.
func setDevicesV1(w fileWriter, rules []specs.LinuxDeviceCgroup) error {
	if err := w("devices.deny", "a"); err != nil {
		return err
	}
	for _, r := range rules {
		file := "devices.deny"
		if r.Allow {
			file = "devices.allow"
		}
		if err := w(file, v1DeviceRule(r)); err != nil {
			return err
		}
	}
	return nil
}

// v1DeviceRule formats a rule as devices.allow/deny read it: "c 1:3 rwm".
func v1DeviceRule(r specs.LinuxDeviceCgroup) string {
	typ := r.Type
	if typ == "" || typ == "a" {
		return "a *:* rwm"
	}
	access := r.Access
	if access == "" {
		access = "rwm"
	}
	return typ + " " + devPart(r.Major) + ":" + devPart(r.Minor) + " " + access
}

func devPart(n *int64) string {
	if n == nil || *n == -1 {
		return "*"
	}
	return strconv.FormatInt(*n, 10)
}
