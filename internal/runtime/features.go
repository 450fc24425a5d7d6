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
	for o := range mountFlagOptions {
		mountOpts = append(mountOpts, o)
	}
	for o := range propagationOptions {
		mountOpts = append(mountOpts, o)
	}
	for o := range recursiveAttrOptions {
		mountOpts = append(mountOpts, o)
	}
	mountOpts = append(mountOpts, "idmap", "ridmap")
	sort.Strings(mountOpts)
	var namespaces []string
	for t := range namespaceFlags {
		namespaces = append(namespaces, string(t))
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
