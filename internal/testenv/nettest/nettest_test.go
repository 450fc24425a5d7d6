package nettest

import (
	"context"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/vishvananda/netlink"
)

func TestSubnet(t *testing.T) {
	t.Parallel()
	seen := map[netip.Prefix]bool{}
	for range 20 {
		p := Subnet(t)
		if seen[p] {
			t.Fatalf("Subnet gave %s twice", p)
		}
		seen[p] = true
		a := p.Addr().As4()
		if p.Bits() != 24 || a[0] != 10 || a[1] < 200 || a[1] > 254 || a[3] != 0 {
			t.Fatalf("Subnet gave %s, want a /24 in 10.200.0.0-10.254.255.255", p)
		}
		if _, err := os.Stat(filepath.Join(subnetLockDir, p.Addr().String())); err != nil {
			t.Fatalf("no lock for %s: %v", p, err)
		}
	}
	for range 5 {
		if p := Prefix(t); len(p) != 6 || p[0] != 'n' {
			t.Errorf("Prefix gave %q", p)
		}
	}
	if got := Nth(netip.MustParsePrefix("10.201.3.0/24"), 2); got != netip.MustParseAddr("10.201.3.2") {
		t.Errorf("Nth = %s", got)
	}
}

// TestHosts checks that a client host and a remote host answer the host on
// their own subnets, that their servers see the host's end of the pair,
// and that everything is gone after the test.
func TestHosts(t *testing.T) {
	t.Parallel()
	var links, paths []string
	t.Run("make", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		client, remote := NewClientHost(t), NewRemoteHost(t)
		links, paths = []string{client.HostLink, remote.HostLink}, []string{client.Path, remote.Path}
		if client.Subnet == remote.Subnet {
			t.Fatalf("both hosts on %s", client.Subnet)
		}
		for _, h := range []*Host{client, remote} {
			at := h.ServeWhoAmI(h.Addr)
			resp, err := NewHostClient().Get("http://" + at.String() + "/")
			if err != nil {
				t.Fatalf("GET from the host to %s: %v", at, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if got := strings.TrimSpace(string(body)); got != h.HostAddr.String() {
				t.Errorf("%s saw %q, want the host's end %s", h.Name, got, h.HostAddr)
			}
		}
		// The client's default route is the host: it reaches the host's
		// end of the remote's pair only through it.
		out, err := client.Run(ctx, "ip", "route", "get", remote.HostAddr.String())
		if err != nil || !strings.Contains(out, "via "+client.HostAddr.String()) {
			t.Errorf("client's route to %s: %q, %v", remote.HostAddr, out, err)
		}
		if out, err := remote.Run(ctx, "ip", "route", "get", client.Addr.String()); err == nil {
			t.Errorf("the remote host has a route beyond its subnet: %s", out)
		}

		dnsSrv := remote.StartDNS(remote.Addr, map[string]netip.Addr{"only.upstream.test": netip.MustParseAddr("10.9.8.7")})
		c := new(dns.Client)
		for name, want := range map[string]int{"only.upstream.test.": dns.RcodeSuccess, "other.test.": dns.RcodeNameError} {
			m := new(dns.Msg)
			m.SetQuestion(name, dns.TypeA)
			r, _, err := c.ExchangeContext(ctx, m, dnsSrv.Addr.String())
			if err != nil {
				t.Fatalf("query %s: %v", name, err)
			}
			if r.Rcode != want {
				t.Errorf("%s: rcode %d, want %d", name, r.Rcode, want)
			}
			if want == dns.RcodeSuccess && (len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "10.9.8.7") {
				t.Errorf("%s: answer %v", name, r.Answer)
			}
		}
		if q := dnsSrv.Queries(); len(q) != 2 {
			t.Errorf("queries %v, want 2", q)
		}
	})
	for _, l := range links {
		if _, err := netlink.LinkByName(l); err == nil {
			t.Errorf("link %s left behind", l)
		}
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("netns %s left behind", p)
		}
	}
}
