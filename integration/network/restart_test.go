package network_test

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testenv/nettest"
)

// TestDaemonKilled: after SIGKILL of the daemon, published ports keep
// answering while it is down and after it restarts; a container that died
// meanwhile gives its address back (the network, a /29 with five
// addresses, can be filled again), and once everything is removed nothing
// is left.
func TestDaemonKilled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	client := nettest.NewClientHost(t)
	small := netip.PrefixFrom(nettest.Subnet(t).Addr(), 29) // .1 gateway, .2-.6 containers
	net := e.name()
	e.must("network", "create", "--subnet", small.String(), net)
	e.networks = append(e.networks, net)

	hp, hp2 := freePort(t), freePort(t)
	web := e.httpd("page-user", "--network", net, "-p", fmt.Sprintf("%d:80", hp))
	web2 := e.httpd("page-bridge", "-p", fmt.Sprintf("%d:80", hp2))
	victim := e.sleeper("--network", net)
	webIP := e.ip(web, net)
	host, fromClient := nettest.NewHostClient(), client.HTTPClient(5*time.Second)
	urls := map[string]string{
		fmt.Sprintf("http://127.0.0.1:%d/", hp):            "page-user",
		fmt.Sprintf("http://%s:%d/", client.HostAddr, hp):  "page-user",
		fmt.Sprintf("http://127.0.0.1:%d/", hp2):           "page-bridge",
		fmt.Sprintf("http://%s:%d/", client.HostAddr, hp2): "page-bridge",
	}
	check := func(when string) {
		t.Helper()
		for url, want := range urls {
			c := host
			if !strings.Contains(url, "127.0.0.1") {
				c = fromClient
			}
			eventually(t, when+": GET "+url, func() error {
				got, err := get(c, url)
				if err == nil && got != want {
					err = fmt.Errorf("got %q, want %q", got, want)
				}
				return err
			})
		}
	}
	check("before the kill")

	pid, err := strconv.Atoi(e.must("inspect", "-f", "{{.State.Pid}}", victim))
	if err != nil || pid <= 0 {
		t.Fatalf("victim's pid: %v", err)
	}
	e.d.Kill(t)
	// The victim dies while no daemon runs: only the restarted daemon
	// can give its address back.
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	check("while the daemon is down")
	e.d.Restart(t)
	check("after the restart")

	if got := e.ip(web, net); got != webIP {
		t.Errorf("%s's address changed across the restart: %s -> %s", web, webIP, got)
	}
	if got := e.must("port", web2, "80"); got != fmt.Sprintf("0.0.0.0:%d", hp2) {
		t.Errorf("docker port %s 80 after the restart = %q", web2, got)
	}
	eventually(t, "the victim is seen as exited", func() error {
		if s := e.must("inspect", "-f", "{{.State.Status}}", victim); s != "exited" {
			return fmt.Errorf("status %s", s)
		}
		return nil
	})
	// web holds one address of five; the victim's must be free again.
	for range 4 {
		e.sleeper("--network", net)
	}
	e.fails("run", "-d", "--network", net, "busybox", "sleep", "600")

	e.removeAll()
	for url := range urls {
		c := host
		if !strings.Contains(url, "127.0.0.1") {
			c = fromClient
		}
		if got, err := get(c, url); err == nil {
			t.Errorf("GET %s still answers after rm: %q", url, got)
		}
	}
}
