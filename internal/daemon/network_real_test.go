package daemon

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	containertypes "github.com/moby/moby/api/types/container"
	networktypes "github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/testenv/nettest"
)

// runToExit starts id and returns its exit code, with its logs when it is
// not 0.
func runToExit(t *testing.T, d *Daemon, id string) (int, string) {
	t.Helper()
	exit := waitFor(t, d, id, containertypes.WaitConditionNextExit)
	if err := d.ContainerStart(context.Background(), id); err != nil {
		t.Fatalf("start: %v", err)
	}
	code := int(result(t, exit).StatusCode)
	if code != 0 {
		return code, logsOf(t, d, id, false)
	}
	return code, ""
}

// httpGet fetches url, retrying while the server in the container starts.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return string(b)
			}
			err = fmt.Errorf("status %s, %v", resp.Status, rerr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRealNetwork runs busybox containers on the real network manager:
// the default bridge gives an address and a gateway that answers; none
// has loopback up; two containers on a user network reach each other by
// name and alias through the embedded resolver; a published port answers
// on 127.0.0.1; a daemon restart keeps addresses and published ports;
// removal releases the address and the veth.
func TestRealNetwork(t *testing.T) {
	t.Parallel()
	cfg := testRoots(t)
	d := newRealDaemon(t, cfg)
	ctx := context.Background()
	gw := strings.Split(cfg.BIP, "/")[0]
	bridge := netip.MustParsePrefix(cfg.BIP).Masked()

	// The default bridge: an address in its subnet, the gateway answers.
	id := create(t, d, "", []string{"sh", "-c", "ip -4 addr show eth0 && ping -c1 -W3 " + gw})
	if code, logs := runToExit(t, d, id); code != 0 {
		t.Fatalf("ping the gateway from the default bridge: exit %d\n%s", code, logs)
	}
	// None: loopback up, nothing else.
	none := create(t, d, "", []string{"sh", "-c", "ip link show lo | grep -q UP && ping -c1 -W1 127.0.0.1 && ! ip link show eth0"},
		func(_ *containertypes.Config, h *containertypes.HostConfig) { h.NetworkMode = "none" })
	if code, logs := runToExit(t, d, none); code != 0 {
		t.Fatalf("network none: exit %d\n%s", code, logs)
	}

	// A user network: names and aliases through the embedded resolver.
	sub := nettest.Subnet(t)
	newNet(t, d, "n1", func(r *networktypes.CreateRequest) {
		r.IPAM = &networktypes.IPAM{Config: []networktypes.IPAMConfig{{Subnet: sub}}}
	})
	alpha := mustCreateOn(t, d, "alpha", []string{"sleep", "1000"}, map[string]*networktypes.EndpointSettings{"n1": {Aliases: []string{"al"}}},
		func(_ *containertypes.Config, h *containertypes.HostConfig) { h.NetworkMode = "n1" })
	mustStart(t, d, alpha)
	alphaIP := inspect(t, d, alpha).NetworkSettings.Networks["n1"].IPAddress
	if !sub.Contains(alphaIP) {
		t.Fatalf("alpha's address %s is not in %s", alphaIP, sub)
	}
	beta := mustCreateOn(t, d, "beta", []string{"sh", "-c", "cat /etc/resolv.conf; ping -c1 -W3 alpha && ping -c1 -W3 al && nslookup alpha"}, nil,
		func(_ *containertypes.Config, h *containertypes.HostConfig) { h.NetworkMode = "n1" })
	if code, logs := runToExit(t, d, beta); code != 0 {
		t.Fatalf("beta reaching alpha by name: exit %d\n%s", code, logs)
	}

	// A published port, reached on 127.0.0.1.
	web := create(t, d, "web", []string{"sh", "-c", "mkdir -p /www && echo hello from $HOSTNAME > /www/index.html && exec httpd -f -p 80 -h /www"},
		func(_ *containertypes.Config, h *containertypes.HostConfig) {
			h.PortBindings = networktypes.PortMap{networktypes.MustParsePort("80/tcp"): {{}}}
		})
	mustStart(t, d, web)
	in := inspect(t, d, web)
	bound := in.NetworkSettings.Ports[networktypes.MustParsePort("80/tcp")]
	if len(bound) != 1 || bound[0].HostPort == "" || bound[0].HostPort == "0" {
		t.Fatalf("published port: %+v", in.NetworkSettings.Ports)
	}
	webIP := in.NetworkSettings.Networks["bridge"].IPAddress
	if !bridge.Contains(webIP) {
		t.Fatalf("web's address %s is not in the default bridge's %s", webIP, bridge)
	}
	url := "http://127.0.0.1:" + bound[0].HostPort + "/"
	if body := httpGet(t, url); body != "hello from "+web[:12]+"\n" {
		t.Fatalf("GET %s: %q", url, body)
	}

	// A daemon restart keeps the addresses and the published port.
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d2 := newRealDaemon(t, cfg)
	in = inspect(t, d2, web)
	if in.NetworkSettings.Networks["bridge"].IPAddress != webIP || in.NetworkSettings.Ports[networktypes.MustParsePort("80/tcp")][0].HostPort != bound[0].HostPort {
		t.Fatalf("web after a restart: %+v", in.NetworkSettings)
	}
	if got := inspect(t, d2, alpha).NetworkSettings.Networks["n1"].IPAddress; got != alphaIP {
		t.Fatalf("alpha's address after a restart: %s, was %s", got, alphaIP)
	}
	if body := httpGet(t, url); !strings.HasPrefix(body, "hello") {
		t.Fatalf("GET %s after a restart: %q", url, body)
	}
	gamma := mustCreateOn(t, d2, "gamma", []string{"ping", "-c1", "-W3", "al"}, nil,
		func(_ *containertypes.Config, h *containertypes.HostConfig) { h.NetworkMode = "n1" })
	if code, logs := runToExit(t, d2, gamma); code != 0 {
		t.Fatalf("the alias after a restart: exit %d\n%s", code, logs)
	}

	// Removal releases the address and the veth.
	eps := d2.nets.m.Endpoints(web)
	if len(eps) != 1 {
		t.Fatalf("web's endpoints: %+v", eps)
	}
	if _, err := net.InterfaceByName(eps[0].HostIfName); err != nil {
		t.Fatalf("web's veth %s: %v", eps[0].HostIfName, err)
	}
	if err := d2.ContainerRemove(ctx, web, server.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	// The veth goes asynchronously (its address stays reserved until
	// then): on a loaded host that can take a moment.
	eventually(t, "web's veth gone", func() bool {
		_, err := net.InterfaceByName(eps[0].HostIfName)
		return err != nil
	})
	if left := d2.nets.m.Endpoints(web); len(left) != 0 {
		t.Fatalf("web's endpoints after rm: %+v", left)
	}
	if c, err := (&net.Dialer{Timeout: time.Second}).Dial("tcp", "127.0.0.1:"+bound[0].HostPort); err == nil {
		c.Close()
		t.Fatalf("port %s still answers after rm", bound[0].HostPort)
	}
}
