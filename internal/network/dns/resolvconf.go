package dns

import (
	"bufio"
	"bytes"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"
)

const (
	hostResolvConf = "/etc/resolv.conf"
	// systemd-resolved's own list of the real servers, used when
	// /etc/resolv.conf points at its stub.
	systemdResolvConf = "/run/systemd/resolve/resolv.conf"
	// hostRecheck is how long the host's list is trusted before the file
	// is read again: DHCP may change it while the daemon runs, and a
	// storm of forwarded queries should not each read a file.
	hostRecheck = 5 * time.Second
)

// systemdStub is systemd-resolved's listener that /etc/resolv.conf names
// when the host uses it.
var systemdStub = netip.AddrFrom4([4]byte{127, 0, 0, 53})

// hostResolvers caches the host's upstreams.
type hostResolvers struct {
	path, systemdPath string

	mu   sync.Mutex
	read time.Time
	ups  []netip.AddrPort
}

func (h *hostResolvers) get() []netip.AddrPort {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.read.IsZero() || time.Since(h.read) > hostRecheck {
		h.ups = readUpstreams(h.path, h.systemdPath)
		h.read = time.Now()
	}
	return h.ups
}

// readUpstreams returns the nameservers of the resolv.conf at path, port
// 53, without loopback ones (they are not reachable from a container, and
// forwarding to them would make us an open relay for whatever listens
// there). When path names systemd-resolved's stub the servers come from
// systemdPath instead. A file that cannot be read gives none.
func readUpstreams(path, systemdPath string) []netip.AddrPort {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	addrs := parseNameservers(data)
	for _, a := range addrs {
		if a == systemdStub {
			if data, err := os.ReadFile(systemdPath); err == nil {
				addrs = parseNameservers(data)
			}
			break
		}
	}
	var out []netip.AddrPort
	for _, a := range addrs {
		if !a.IsLoopback() {
			out = append(out, netip.AddrPortFrom(a, 53))
		}
	}
	return out
}

// parseNameservers returns the addresses of resolv.conf's nameserver lines
// in order, skipping ones that do not parse.
func parseNameservers(data []byte) []netip.Addr {
	var out []netip.Addr
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[0] != "nameserver" {
			continue
		}
		a, err := netip.ParseAddr(fields[1])
		if err != nil {
			continue
		}
		out = append(out, a.Unmap())
	}
	return out
}
