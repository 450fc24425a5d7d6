package daemon

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/errdefs"
)

// defaultNameservers are docker's fallback when the host names none that a
// container could reach (only loopback ones, which mean the host's own
// resolver and nothing inside a network namespace).
var defaultNameservers = []string{"8.8.8.8", "8.8.4.4"}

// hostResolvConf is read for the containers' resolv.conf; with
// systemd-resolved's stub (127.0.0.53) the real upstream list is in
// systemdResolvConf.
const (
	hostResolvConf    = "/etc/resolv.conf"
	systemdResolvConf = "/run/systemd/resolve/resolv.conf"
	hostHostsFile     = "/etc/hosts"
)

// writeContainerFiles writes hostname, hosts and resolv.conf into c's
// directory and records their paths. The caller holds c's lock (or is
// creating c). The files are not fsynced: they are derived from the
// record, and ensureContainerFiles rewrites them if a crash lost them.
func (d *Daemon) writeContainerFiles(c *container.Container) error {
	dir := d.containers.Dir(c.ID)
	hostname := c.Config.Hostname
	files := []struct {
		name string
		data []byte
		path *string
	}{
		{"hostname", []byte(hostname + "\n"), &c.HostnamePath},
	}
	nf := d.netFilesAtCreate(c)
	hosts, err := buildHosts(c.HostConfig, hostname, c.Config.Domainname, nf)
	if err != nil {
		return err
	}
	files = append(files, struct {
		name string
		data []byte
		path *string
	}{"hosts", hosts, &c.HostsPath})
	resolv, err := buildResolvConf(c.HostConfig, nf)
	if err != nil {
		return err
	}
	files = append(files, struct {
		name string
		data []byte
		path *string
	}{"resolv.conf", resolv, &c.ResolvConfPath})
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := writeFile(p, f.data, 0o644, false); err != nil {
			return fmt.Errorf("write %s: %w", f.name, err)
		}
		*f.path = p
	}
	return nil
}

// netFiles is what /etc/hosts and /etc/resolv.conf are made of beside the
// container's own config: what its networks gave it and the daemon's
// defaults.
type netFiles struct {
	// addrs are the container's addresses, a hosts line each, with the
	// names the container has there (its hostname, its aliases on a user
	// network). None: its hostname goes on 127.0.0.1.
	addrs []hostsEntry
	// hostGateway is what --add-host NAME:host-gateway means: the default
	// bridge's gateway (zero without a default bridge).
	hostGateway netip.Addr
	// nameserver is the embedded resolver of the container's first user
	// network (its gateway); zero means the host's resolvers.
	nameserver netip.Addr
	// dns, dnsSearch and dnsOptions are the daemon's --dns* defaults; the
	// container's own win.
	dns, dnsSearch, dnsOptions []string
}

type hostsEntry struct {
	addr  netip.Addr
	names []string
}

// hostGatewayName is --add-host's word for the host's address as the
// container sees it.
const hostGatewayName = "host-gateway"

// buildHosts is /etc/hosts: the host's own for network mode host; else
// loopback names, a line per address of the container with its hostname
// (on 127.0.0.1 when it has none, as with network mode none), and
// --add-host entries, host-gateway being nf.hostGateway.
func buildHosts(host *containertypes.HostConfig, hostname, domain string, nf netFiles) ([]byte, error) {
	var b bytes.Buffer
	if host.NetworkMode.IsHost() {
		data, err := os.ReadFile(hostHostsFile)
		if err == nil {
			b.Write(data)
			if len(data) > 0 && data[len(data)-1] != '\n' {
				b.WriteByte('\n')
			}
		}
	} else {
		b.WriteString("127.0.0.1\tlocalhost\n")
		b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
		b.WriteString("fe00::\tip6-localnet\n")
		b.WriteString("ff00::\tip6-mcastprefix\n")
		b.WriteString("ff02::1\tip6-allnodes\n")
		b.WriteString("ff02::2\tip6-allrouters\n")
		names := hostname
		if domain != "" {
			names = hostname + "." + domain + " " + hostname
		}
		if len(nf.addrs) == 0 {
			b.WriteString("127.0.0.1\t" + names + "\n")
		}
		for _, a := range nf.addrs {
			line := names
			for _, n := range a.names {
				if n != hostname && !strings.Contains(" "+line+" ", " "+n+" ") {
					line += " " + n
				}
			}
			b.WriteString(a.addr.String() + "\t" + line + "\n")
		}
	}
	for _, e := range host.ExtraHosts {
		name, ip, ok := strings.Cut(e, ":")
		if !ok {
			name, ip, ok = strings.Cut(e, "=")
		}
		if !ok || name == "" {
			return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid extra host %q: want host:ip", e)
		}
		if ip == hostGatewayName {
			if !nf.hostGateway.IsValid() {
				return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "unable to derive the IP value for host-gateway")
			}
			ip = nf.hostGateway.String()
		}
		if _, err := netip.ParseAddr(strings.Trim(ip, "[]")); err != nil {
			return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid IP address in add-host: %q", ip)
		}
		fmt.Fprintf(&b, "%s\t%s\n", strings.Trim(ip, "[]"), name)
	}
	return b.Bytes(), nil
}

// buildResolvConf is /etc/resolv.conf. With network mode host, the host's
// as it is. On a user network, the embedded resolver (nf.nameserver) and
// the host's search and options, plus docker's ndots:0. Otherwise the
// host's without loopback nameservers, falling back to docker's public
// defaults when none remain. --dns (the container's, else the daemon's),
// --dns-search and --dns-option replace the matching lines; with the
// embedded resolver --dns names its upstreams instead.
func buildResolvConf(host *containertypes.HostConfig, nf netFiles) ([]byte, error) {
	src := hostResolvConf
	data, err := os.ReadFile(src)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	if !host.NetworkMode.IsHost() && usesSystemdStub(data) {
		if alt, err := os.ReadFile(systemdResolvConf); err == nil {
			data = alt
		}
	}
	var nameservers, search, options, other []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		fields := strings.Fields(line)
		if len(fields) == 0 || line[0] == '#' || line[0] == ';' {
			continue
		}
		switch fields[0] {
		case "nameserver":
			if len(fields) < 2 {
				continue
			}
			if !host.NetworkMode.IsHost() && isLoopback(fields[1]) {
				continue
			}
			nameservers = append(nameservers, fields[1])
		case "search", "domain":
			search = fields[1:]
		case "options":
			options = append(options, fields[1:]...)
		default:
			other = append(other, line)
		}
	}
	switch {
	case len(host.DNS) > 0:
		nameservers = nameservers[:0]
		for _, ns := range host.DNS {
			nameservers = append(nameservers, ns.String())
		}
	case len(nf.dns) > 0 && !host.NetworkMode.IsHost():
		nameservers = slices.Clone(nf.dns)
	}
	switch {
	case len(host.DNSSearch) > 0:
		search = host.DNSSearch
	case len(nf.dnsSearch) > 0 && !host.NetworkMode.IsHost():
		search = nf.dnsSearch
	}
	if len(search) == 1 && search[0] == "." {
		search = nil
	}
	switch {
	case len(host.DNSOptions) > 0:
		options = host.DNSOptions
	case len(nf.dnsOptions) > 0 && !host.NetworkMode.IsHost():
		options = nf.dnsOptions
	}
	if nf.nameserver.IsValid() {
		// The embedded resolver answers the network's names and forwards
		// the rest to the servers above; as docker's, it wants short
		// names tried as they are first.
		nameservers = []string{nf.nameserver.String()}
		if !slices.ContainsFunc(options, func(o string) bool { return strings.HasPrefix(o, "ndots:") }) {
			options = append(slices.Clone(options), "ndots:0")
		}
	}
	if len(nameservers) == 0 {
		nameservers = defaultNameservers
	}
	var b bytes.Buffer
	for _, ns := range nameservers {
		b.WriteString("nameserver " + ns + "\n")
	}
	if len(search) > 0 {
		b.WriteString("search " + strings.Join(search, " ") + "\n")
	}
	if len(options) > 0 {
		b.WriteString("options " + strings.Join(options, " ") + "\n")
	}
	for _, l := range other {
		b.WriteString(l + "\n")
	}
	return b.Bytes(), nil
}

func usesSystemdStub(data []byte) bool {
	return bytes.Contains(data, []byte("nameserver 127.0.0.53"))
}

func isLoopback(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.IsLoopback()
}

// ensureContainerFiles rewrites the container's files when one is missing
// or empty (a crash right after create lost what was not yet on disk).
// The caller holds c's lock.
func (d *Daemon) ensureContainerFiles(c *container.Container) error {
	for _, p := range []string{c.HostnamePath, c.HostsPath, c.ResolvConfPath} {
		if fi, err := os.Stat(p); p == "" || err != nil || fi.Size() == 0 {
			return d.writeContainerFiles(c)
		}
	}
	return nil
}

// writeFile replaces path atomically, fsyncing it when durable.
func writeFile(path string, data []byte, perm os.FileMode, durable bool) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		_ = os.Remove(tmp)
		return err
	}
	if durable {
		if err := f.Sync(); err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
			return err
		}
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}
