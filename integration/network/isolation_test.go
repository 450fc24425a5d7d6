package network_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestIsolation: containers on two user networks cannot reach each other,
// by address (ping, TCP) or by name, while containers on one network can;
// the default bridge is isolated from user networks likewise.
func TestIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	netA, _ := e.network()
	netB, _ := e.network()
	a1 := e.httpd("page-a1", "--network", netA)
	a2 := e.sleeper("--network", netA)
	b1 := e.httpd("page-b1", "--network", netB)
	d1 := e.httpd("page-d1") // default bridge

	// Control: the same network works.
	e.must("exec", a2, "ping", "-c1", "-W2", e.ip(a1, netA).String())
	if got := e.must("exec", a2, "timeout", "3", "wget", "-qO-", "http://"+a1+"/"); got != "page-a1" {
		t.Errorf("same network: %q", got)
	}
	// Each probe waits for its timeout: run them at once.
	var wg sync.WaitGroup
	for _, c := range []struct{ from, to, toNet string }{
		{a2, b1, netB},
		{b1, a1, netA},
		{a2, d1, "bridge"},
		{d1, a1, netA},
	} {
		ip := e.ip(c.to, c.toNet).String()
		wg.Add(1)
		go func() {
			defer wg.Done()
			probe := fmt.Sprintf("ping -c1 -W1 %s >/dev/null 2>&1 && echo ping-reached; timeout 2 wget -qO- http://%s/ && echo wget-reached; true", ip, ip)
			if r := e.docker("exec", c.from, "sh", "-c", probe); r.exit != 0 || strings.Contains(r.stdout, "reached") {
				t.Errorf("%s reached %s (%s) on another network:\n%s", c.from, c.to, ip, r)
			}
		}()
	}
	wg.Wait()
	// Names are per network: b1's resolver does not know a1.
	if r := e.docker("exec", b1, "nslookup", a1); r.exit == 0 {
		t.Errorf("%s resolved %s of another network:\n%s", b1, a1, r)
	}
	e.removeAll()
}
