package daemon

import (
	"testing"

	containertypes "github.com/moby/moby/api/types/container"
)

func TestSandboxRecyclable(t *testing.T) {
	none := func(f func(h *containertypes.HostConfig)) *containertypes.HostConfig {
		h := &containertypes.HostConfig{NetworkMode: "none"}
		if f != nil {
			f(h)
		}
		return h
	}
	for _, c := range []struct {
		name string
		h    *containertypes.HostConfig
		want bool
	}{
		{"none", none(nil), true},
		{"other capabilities", none(func(h *containertypes.HostConfig) { h.CapAdd = []string{"SYS_PTRACE", "NET_RAW"} }), true},
		{"ipc sysctl", none(func(h *containertypes.HostConfig) { h.Sysctls = map[string]string{"kernel.msgmax": "1"} }), true},
		{"no host config", nil, false},
		{"bridge", &containertypes.HostConfig{NetworkMode: "bridge"}, false},
		{"default", &containertypes.HostConfig{}, false},
		{"host", &containertypes.HostConfig{NetworkMode: "host"}, false},
		{"container", &containertypes.HostConfig{NetworkMode: "container:abc"}, false},
		{"privileged", none(func(h *containertypes.HostConfig) { h.Privileged = true }), false},
		{"NET_ADMIN", none(func(h *containertypes.HostConfig) { h.CapAdd = []string{"NET_ADMIN"} }), false},
		{"cap_net_admin", none(func(h *containertypes.HostConfig) { h.CapAdd = []string{"cap_net_admin"} }), false},
		{"ALL", none(func(h *containertypes.HostConfig) { h.CapAdd = []string{"all"} }), false},
		{"net sysctl", none(func(h *containertypes.HostConfig) {
			h.Sysctls = map[string]string{"net.ipv4.ip_unprivileged_port_start": "1024"}
		}), false},
		{"host pid", none(func(h *containertypes.HostConfig) { h.PidMode = "host" }), false},
		{"container pid", none(func(h *containertypes.HostConfig) { h.PidMode = "container:abc" }), false},
	} {
		if got := sandboxRecyclable(c.h); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
