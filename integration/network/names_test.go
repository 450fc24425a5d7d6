package network_test

import (
	"strings"
	"testing"
)

// TestNamesAndAliases: two containers on a user network reach each other
// by name, by alias and by short id (ping and wget), through the embedded
// DNS server, and a third container started later finds them too.
func TestNamesAndAliases(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	net, _ := e.network()
	web := e.httpd("hello-web", "--network", net, "--network-alias", "www", "--network-alias", "site")
	client := e.sleeper("--network", net, "--network-alias", "cli")
	webID := e.must("inspect", "-f", "{{.Id}}", web)[:12]
	webIP := e.ip(web, net).String()

	for _, target := range []string{web, "www", "site", webID} {
		e.must("exec", client, "ping", "-c1", "-W2", target)
		if got := e.must("exec", client, "timeout", "3", "wget", "-qO-", "http://"+target+"/"); got != "hello-web" {
			t.Errorf("wget http://%s/ from %s = %q, want hello-web", target, client, got)
		}
	}
	if out := e.must("exec", client, "nslookup", "www"); !strings.Contains(out, webIP) {
		t.Errorf("nslookup www does not give %s:\n%s", webIP, out)
	}
	// The other way, and from a container started afterwards.
	e.must("exec", web, "ping", "-c1", "-W2", "cli")
	e.must("exec", web, "ping", "-c1", "-W2", client)
	if got := e.must("run", "--rm", "--network", net, "busybox", "timeout", "3", "wget", "-qO-", "http://www/"); got != "hello-web" {
		t.Errorf("wget http://www/ from a new container = %q", got)
	}
	// Names of removed containers are gone.
	e.must("rm", "-f", web)
	if r := e.docker("exec", client, "nslookup", "www"); r.exit == 0 && strings.Contains(r.stdout, webIP) {
		t.Errorf("www still resolves after its container was removed:\n%s", r)
	}
	e.removeAll()
}
