package spec

import (
	"context"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ipcSysctls are the non-prefix sysctls that belong to the IPC namespace.
var ipcSysctls = map[string]bool{
	"kernel.msgmax":          true,
	"kernel.msgmnb":          true,
	"kernel.msgmni":          true,
	"kernel.sem":             true,
	"kernel.shmall":          true,
	"kernel.shmmax":          true,
	"kernel.shmmni":          true,
	"kernel.shm_rmid_forced": true,
}

// checkSysctls allows only sysctls of a namespace the container does not
// share with the host: IPC ones with its own IPC namespace, net.* with its
// own network namespace, kernel.domainname with its own UTS namespace (the
// rules runc enforces, so the error comes at create, not at start).
func (g *generator) checkSysctls() error {
	for k := range g.host.Sysctls {
		name := strings.ReplaceAll(k, "/", ".")
		switch {
		case ipcSysctls[name] || strings.HasPrefix(name, "fs.mqueue."):
			if g.host.IpcMode.IsHost() {
				return errdefs.Errorf(errdefs.ErrInvalidParameter, "sysctl %q is not allowed in the hosts ipc namespace", k)
			}
		case strings.HasPrefix(name, "net."):
			if !g.ownNetworkNamespace() {
				return errdefs.Errorf(errdefs.ErrInvalidParameter, "sysctl %q is not allowed in the hosts network namespace", k)
			}
		case name == "kernel.domainname" && !g.host.UTSMode.IsHost():
		case name == "kernel.hostname" && !g.host.UTSMode.IsHost():
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "sysctl %q is not allowed, use --hostname instead", k)
		default:
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "sysctl %q is not in a separate kernel namespace", k)
		}
	}
	return nil
}

// withSysctls adds docker's two default network sysctls to a new network
// namespace (unprivileged ping and low ports), then the user's, which win.
func (g *generator) withSysctls(_ context.Context, s *specs.Spec) error {
	if n := g.host.NetworkMode; !n.IsHost() && !n.IsContainer() {
		if g.sys.pingGroupRange {
			s.Linux.Sysctl["net.ipv4.ping_group_range"] = "0 2147483647"
		}
		if g.sys.unprivilegedPortStart {
			s.Linux.Sysctl["net.ipv4.ip_unprivileged_port_start"] = "0"
		}
	}
	for k, v := range g.host.Sysctls {
		s.Linux.Sysctl[k] = v
	}
	return nil
}
