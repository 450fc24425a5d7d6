package runtime

import (
	"sort"

	"github.com/berth-project/berth/internal/runtime/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// Features describes what this runtime implements, for `features`.
func Features() *features.Features {
	t := true
	var mountOpts []string
	for _, e := range mountFlagOptions {
		mountOpts = append(mountOpts, e.key)
	}
	for _, e := range propagationOptions {
		mountOpts = append(mountOpts, e.key)
	}
	for _, e := range recursiveAttrOptions {
		mountOpts = append(mountOpts, e.key)
	}
	mountOpts = append(mountOpts, "idmap", "ridmap")
	sort.Strings(mountOpts)
	var namespaces []string
	for _, e := range namespaceFlags {
		namespaces = append(namespaces, string(e.key))
	}
	sort.Strings(namespaces)
	return &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions:  mountOpts,
		Linux: &features.Linux{
			Namespaces:   namespaces,
			Capabilities: AllCapabilities(),
			Cgroup: &features.Cgroup{
				V1: &t, V2: &t, Systemd: boolPtr(false), SystemdUser: boolPtr(false), Rdma: &t,
			},
			Seccomp: &features.Seccomp{
				Enabled:        &t,
				Actions:        seccomp.SupportedActions(),
				Operators:      seccomp.SupportedOperators(),
				Archs:          seccomp.SupportedArchs(),
				KnownFlags:     seccomp.SupportedFlags(),
				SupportedFlags: seccomp.SupportedFlags(),
			},
			Apparmor: &features.Apparmor{Enabled: &t},
			Selinux:  &features.Selinux{Enabled: &t},
			IntelRdt: &features.IntelRdt{Enabled: boolPtr(false)},
			MountExtensions: &features.MountExtensions{
				IDMap: &features.IDMap{Enabled: boolPtr(false)},
			},
			NetDevices: &features.NetDevices{Enabled: boolPtr(false)},
		},
		Annotations: map[string]string{
			"org.opencontainers.runtime-spec.features.runtime": "berth-runtime",
		},
	}
}

func boolPtr(b bool) *bool { return &b }
