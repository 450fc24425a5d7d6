package daemon

import (
	"bytes"
	"fmt"
	"os"
	"slices"

	networktypes "github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/network"
)

// netFilesAtCreate is what create writes /etc/hosts and /etc/resolv.conf
// from: no address yet (start rewrites both with the endpoints), the
// embedded resolver of the container's first user network already. The
// caller holds c's lock (or is creating c).
func (d *Daemon) netFilesAtCreate(c *container.Container) netFiles {
	nf := d.netFilesBase()
	for _, name := range networkOrder(c) {
		es := c.NetworkSettings.Networks[name]
		n, err := d.nets.m.Network(es.NetworkID)
		if err == nil && isUserNetwork(n) && n.Gateway.IsValid() {
			nf.nameserver = n.Gateway
			break
		}
	}
	return nf
}

// netFilesFor is what the files say once the container has eps (in the
// order it joined them). The caller holds c's lock.
func (d *Daemon) netFilesFor(c *container.Container, eps []network.Endpoint) netFiles {
	nf := d.netFilesBase()
	for _, ep := range eps {
		e := hostsEntry{addr: ep.Address.Addr()}
		if es := c.NetworkSettings.Networks[ep.NetworkName]; es != nil {
			e.names = es.Aliases
		}
		nf.addrs = append(nf.addrs, e)
		if !nf.nameserver.IsValid() && ep.DNS.IsValid() {
			nf.nameserver = ep.DNS
		}
	}
	return nf
}

// netFilesBase: the daemon's defaults and host-gateway.
func (d *Daemon) netFilesBase() netFiles {
	nf := netFiles{dns: d.cfg.DNS, dnsSearch: d.cfg.DNSSearch, dnsOptions: d.cfg.DNSOptions}
	if br, ok := d.defaultBridge(); ok {
		nf.hostGateway = br.Gateway
	}
	return nf
}

// writeNetworkFiles writes c's /etc/hosts and /etc/resolv.conf for its
// endpoints. Before the container runs a file is replaced (a new inode,
// which the next start bind-mounts); while it runs the file is rewritten
// in place, since the container sees the inode that was bind-mounted. The
// caller holds c's lock.
func (d *Daemon) writeNetworkFiles(c *container.Container, eps []network.Endpoint, inPlace bool) error {
	nf := d.netFilesFor(c, eps)
	hosts, err := buildHosts(c.HostConfig, c.Config.Hostname, c.Config.Domainname, nf)
	if err != nil {
		return err
	}
	resolv, err := buildResolvConf(c.HostConfig, nf)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		path string
		data []byte
	}{{c.HostsPath, hosts}, {c.ResolvConfPath, resolv}} {
		if f.path == "" {
			continue
		}
		if old, err := os.ReadFile(f.path); err == nil && bytes.Equal(old, f.data) {
			// What create wrote, as at most starts without a network
			// (a file made and renamed costs a few tenths of a ms).
			continue
		}
		if inPlace {
			err = os.WriteFile(f.path, f.data, 0o644)
		} else {
			err = writeFile(f.path, f.data, 0o644, false)
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", f.path, err)
		}
	}
	return nil
}

// networkOrder is the order a container joins its networks in: the
// highest GwPriority first, then its network mode's network, then by name
// (docker picks the default gateway the same way). The caller holds c's
// lock.
func networkOrder(c *container.Container) []string {
	names := make([]string, 0, len(c.NetworkSettings.Networks))
	for name := range c.NetworkSettings.Networks {
		names = append(names, name)
	}
	mode := string(c.HostConfig.NetworkMode)
	primary := func(name string) bool {
		es := c.NetworkSettings.Networks[name]
		return name == mode || (es != nil && es.NetworkID != "" && es.NetworkID == mode)
	}
	slices.SortFunc(names, func(a, b string) int {
		pa, pb := priority(c.NetworkSettings.Networks[a]), priority(c.NetworkSettings.Networks[b])
		switch {
		case pa != pb:
			return pb - pa
		case primary(a) != primary(b):
			if primary(a) {
				return -1
			}
			return 1
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	})
	return names
}

func priority(es *networktypes.EndpointSettings) int {
	if es == nil {
		return 0
	}
	return es.GwPriority
}
