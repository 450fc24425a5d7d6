package cli

import (
	"strings"
	"testing"
)

// TestCreateNetworkingErrorsMatchDocker: bad networking flags of create
// and run are refused as the docker CLI refuses them (exit 125 and the
// same words), before anything reaches the daemon.
func TestCreateNetworkingErrorsMatchDocker(t *testing.T) {
	requireDockerCLI(t)
	t.Parallel()
	cases := [][]string{
		{"create", "--network", "none", "--network-alias", "x", "busybox"},
		{"create", "--network-alias", "x", "busybox"},
		{"create", "--network", "bridge", "--network-alias", "x", "busybox"},
		{"create", "--network", "container:c", "--net-alias", "x", "busybox"},
		{"create", "--network", "a=b", "busybox"},
		{"create", "--network", "name=n,gw-priority=high", "busybox"},
		{"create", "--network", "alias=x", "busybox"},
		{"create", "--network", "host", "--network", "mynet", "busybox"},
		{"create", "--network", "n", "--network", "n", "busybox"},
		{"create", "--network", "name=n,alias=a", "--network-alias", "b", "busybox"},
		{"create", "--network", "name=n,ip=10.0.0.2", "--ip", "10.0.0.3", "busybox"},
		{"create", "--network", "name=n,mac-address=02:42:ac:11:00:02", "--mac-address", "02:42:ac:11:00:03", "busybox"},
		{"create", "--network", "name=n,mac-address=nope", "busybox"},
		{"create", "--mac-address", "zz", "busybox"},
		{"create", "--link", "a:b:c", "busybox"},
		{"create", "-p", "80:80:80:80", "busybox"},
		{"create", "-p", "abc", "busybox"},
		{"create", "-p", "70000", "busybox"},
		{"create", "-p", "80/xyz", "busybox"},
		{"create", "-p", "1.2.3.4:80", "busybox"},
		{"create", "-p", "8000-8001:80-82", "busybox"},
		{"create", "-p", "300.1.1.1:80:80", "busybox"},
		{"create", "-p", "", "busybox"},
		{"create", "--expose", "abc", "busybox"},
		{"create", "--expose", "90-80", "busybox"},
		{"create", "--dns", "foo", "busybox"},
		{"create", "--add-host", "bad", "busybox"},
		{"create", "--add-host", "h:1.2.3", "busybox"},
		{"run", "--network", "none", "--network-alias", "x", "busybox"},
	}
	for _, args := range cases {
		d := createDaemon(t)
		_, derr, dcode := runDocker(t, d, args...)
		r := d.berth(args...)
		want := strings.ReplaceAll(derr, "docker", "berth")
		if dcode != r.code || want != r.err {
			t.Errorf("%v:\ndocker exit %d: %q\nberth  exit %d: %q", args, dcode, derr, r.code, r.err)
		}
		if n := len(d.sent("POST /containers/create")); n != 0 {
			t.Errorf("%v: %d create requests reached the daemon", args, n)
		}
	}
}

// TestCreateLocalhostDNSWarning: a loopback --dns gets docker's warning.
func TestCreateLocalhostDNSWarning(t *testing.T) {
	requireDockerCLI(t)
	t.Parallel()
	for _, args := range [][]string{
		{"create", "--dns", "8.8.8.8", "--dns", "127.0.0.53", "--dns", "::1", "busybox"},
		{"create", "--dns", "::1", "--network", "host", "busybox"},
		{"create", "--dns", "1.1.1.1", "busybox"},
	} {
		d := createDaemon(t)
		dout, derr, dcode := runDocker(t, d, args...)
		r := d.berth(args...)
		if dout != r.out || derr != r.err || dcode != r.code {
			t.Errorf("%v: docker %q %q %d, berth %q %q %d", args, dout, derr, dcode, r.out, r.err, r.code)
		}
	}
}
