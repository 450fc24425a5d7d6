package network

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/berth-project/berth/internal/errdefs"
)

// lookupIn asks the resolver at server for name's A records, from inside
// the sandbox at path; an answer other than NOERROR is an error.
func lookupIn(path string, server netip.Addr, name string) ([]netip.Addr, error) {
	var out []netip.Addr
	err := inNetns(path, func() error {
		// The socket is made here, on the sandbox's thread.
		conn, err := net.Dial("udp4", netip.AddrPortFrom(server, 53).String())
		if err != nil {
			return err
		}
		defer conn.Close()
		c := &mdns.Client{Timeout: 3 * time.Second}
		q := new(mdns.Msg).SetQuestion(mdns.Fqdn(name), mdns.TypeA)
		r, _, err := c.ExchangeWithConn(q, &mdns.Conn{Conn: conn})
		if err != nil {
			return err
		}
		if r.Rcode != mdns.RcodeSuccess {
			return fmt.Errorf("%s: %s", name, mdns.RcodeToString[r.Rcode])
		}
		for _, rr := range r.Answer {
			if a, ok := rr.(*mdns.A); ok {
				addr, _ := netip.AddrFromSlice(a.A.To4())
				out = append(out, addr)
			}
		}
		return nil
	})
	return out, err
}

func TestDNSOnTheGateway(t *testing.T) {
	t.Parallel()
	e := newTestNet(t)
	m := e.start()
	defer e.teardown(m)
	ctx := context.Background()
	n, err := m.CreateNetwork(ctx, CreateRequest{Name: "names", Subnet: e.subnet()})
	if err != nil {
		t.Fatal(err)
	}
	other, err := m.CreateNetwork(ctx, CreateRequest{Name: "elsewhere", Subnet: e.subnet()})
	if err != nil {
		t.Fatal(err)
	}
	web, client, stranger := "w"+randHex(63), "c"+randHex(63), "s"+randHex(63)
	paths := map[string]string{}
	connect := func(id, name, network string, aliases ...string) (string, Endpoint) {
		p, ok := paths[id]
		if !ok {
			if p, err = m.NewSandbox(ctx, id); err != nil {
				t.Fatal(err)
			}
			paths[id] = p
		}
		ep, err := m.Connect(ctx, p, EndpointConfig{ContainerID: id, ContainerName: "/" + name, Network: network, Aliases: aliases, DefaultRoute: true})
		if err != nil {
			t.Fatal(err)
		}
		return p, ep
	}
	_, wep := connect(web, "Web", "names", "api")
	cp, cep := connect(client, "client", "names")
	sp, sep := connect(stranger, "stranger", "elsewhere")
	if cep.DNS != n.Gateway || sep.DNS != other.Gateway {
		t.Fatalf("DNS addresses %s %s", cep.DNS, sep.DNS)
	}
	for _, name := range []string{"web", "WEB.", "api", web[:12]} {
		got, err := lookupIn(cp, n.Gateway, name)
		if err != nil || len(got) != 1 || got[0] != wep.Address.Addr() {
			t.Errorf("%s from the same network: %v %v", name, got, err)
		}
	}
	// Another network's resolver does not know web.
	if got, err := lookupIn(sp, other.Gateway, "web"); err == nil {
		t.Errorf("web resolved on another network: %v", got)
	}
	// Disconnect removes the names.
	if err := m.Disconnect(ctx, web, "names"); err != nil {
		t.Fatal(err)
	}
	if got, err := lookupIn(cp, n.Gateway, "api"); err == nil {
		t.Errorf("api still resolves after disconnect: %v", got)
	}
	// A restart serves the kept names again.
	_, wep = connect(web, "web", "names", "api")
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m = e.start()
	if err := m.Reconcile(ctx, paths); err != nil {
		t.Fatal(err)
	}
	if got, err := lookupIn(cp, n.Gateway, "api"); err != nil || len(got) != 1 || got[0] != wep.Address.Addr() {
		t.Errorf("after restart: %v %v", got, err)
	}
	e.teardown(m)
}

// TestPublishedPort runs the real firewall: a port published by Connect
// answers on the host's 127.0.0.1 (hairpin through route_localnet and the
// firewall's NAT), and stops answering after Disconnect.
func TestPublishedPort(t *testing.T) {
	t.Parallel()
	e := newTestNet(t)
	e.cfg.Firewall = ""
	m := e.start()
	defer e.teardown(m)
	ctx := context.Background()
	if _, err := m.CreateNetwork(ctx, CreateRequest{Name: "pub", Subnet: e.subnet()}); err != nil {
		t.Fatal(err)
	}
	id := "p" + randHex(63)
	p, err := m.NewSandbox(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := m.Connect(ctx, p, EndpointConfig{ContainerID: id, Network: "pub", DefaultRoute: true,
		Ports: []PortBinding{{Proto: "tcp", ContainerPort: 80}}})
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	if err := inNetns(p, func() (err error) { ln, err = net.Listen("tcp4", ":80"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, "from the container")
			c.Close()
		}
	}()
	addr := fmt.Sprintf("127.0.0.1:%d", ep.Ports[0].HostPort)
	c, err := net.DialTimeout("tcp4", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("firewall %s: dial %s: %v", m.fw.Name(), addr, err)
	}
	got, _ := io.ReadAll(c)
	c.Close()
	if string(got) != "from the container" {
		t.Errorf("read %q", got)
	}
	// The container reaches its own published port through the host's
	// address (hairpin on its bridge port when br_netfilter is loaded).
	gw := netip.AddrPortFrom(ep.Gateway, ep.Ports[0].HostPort).String()
	err = inNetns(p, func() error {
		c, err := net.DialTimeout("tcp4", gw, 3*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		got, err := io.ReadAll(c)
		if string(got) != "from the container" {
			return fmt.Errorf("read %q, %v", got, err)
		}
		return nil
	})
	if err != nil {
		t.Errorf("own published port through %s: %v", gw, err)
	}
	if err := m.Disconnect(ctx, id, "pub"); err != nil {
		t.Fatal(err)
	}
	m.waitReleases()
	if c, err := net.DialTimeout("tcp4", addr, 500*time.Millisecond); err == nil {
		c.Close()
		t.Errorf("%s still answers after Disconnect", addr)
	}
	if _, err := m.Network("pub"); errdefs.IsNotFound(err) {
		t.Fatal("network gone")
	}
}
