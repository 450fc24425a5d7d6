package cli

import (
	"regexp"
	"strings"
	"testing"
)

// TestNetworkCommandsMatchDocker runs the network commands with berth and
// with the docker CLI against the same engine (the real API server over
// servertest's fake) and compares what they print and their exit codes.
// Each side works on its own names (d-... for docker, b-... for berth),
// which are mapped to X before comparing.
func TestNetworkCommandsMatchDocker(t *testing.T) {
	requireDockerCLI(t)
	t.Parallel()
	e := newEngine(t)
	ids := regexp.MustCompile(`[0-9a-f]{64}|[0-9a-f]{12}`)
	times := regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \+0000 UTC`)
	norm := func(s, prefix string) string {
		s = strings.ReplaceAll(s, prefix+"-", "X-")
		s = strings.ReplaceAll(s, "docker", "berth")
		s = times.ReplaceAllString(s, "<time>")
		return ids.ReplaceAllString(s, "<id>")
	}
	// pair runs args on both sides, with "@" standing for the side's
	// prefix ("d" or "b"), and compares.
	pair := func(stdin string, args ...string) {
		t.Helper()
		side := func(p string) []string {
			out := make([]string, len(args))
			for i, a := range args {
				out[i] = strings.ReplaceAll(a, "@", p)
			}
			return out
		}
		d := e.docker(stdin, side("d")...)
		b := e.berth(stdin, side("b")...)
		if norm(d.out, "d") != norm(b.out, "b") || d.code != b.code || norm(d.err, "d") != norm(b.err, "b") {
			t.Errorf("%v:\ndocker exit %d out %q err %q\nberth  exit %d out %q err %q", args, d.code, d.out, d.err, b.code, b.out, b.err)
		}
	}
	for _, p := range []string{"d", "b"} {
		if r := e.docker("", "run", "-d", "--name", p+"-ctr", "busybox", "sleep"); r.code != 0 {
			t.Fatalf("run: %+v", r)
		}
	}

	pair("", "network", "create", "--subnet", "10.210.0.0/16", "--ip-range", "10.210.1.0/24", "--gateway", "10.210.0.1",
		"--label", "team=a", "--label", "solo", "-o", "com.docker.network.bridge.enable_icc=true", "--internal", "--attachable", "@-net")
	pair("", "network", "create", "@-plain")
	pair("", "network", "create", "@-net")                                                       // duplicate
	pair("", "network", "create", "--subnet", "nonsense", "--subnet", "10.1.0.0/16", "@-bad")    // client-side subnet check
	pair("", "network", "create", "--subnet", "10.1.0.0/16", "--subnet", "10.1.2.0/24", "@-bad") // overlap
	pair("", "network", "create", "--subnet", "10.1.0.0/16", "--ip-range", "junk/8", "@-bad")
	pair("", "network", "create", "--subnet", "10.1.0.0/16", "--subnet", "10.2.0.0/16", "--gateway", "10.1.0.1", "--gateway", "10.1.0.2", "@-bad")
	pair("", "network", "create", "--subnet", "10.1.0.0/16", "--subnet", "10.2.0.0/16", "--ip-range", "10.1.0.0/24", "--ip-range", "10.1.1.0/24", "@-bad")
	pair("", "network", "create", "--subnet", "10.1.0.0/16", "--ip-range", "10.5.0.0/24", "@-bad")
	pair("", "network", "create", "--subnet", "10.1.0.0/16", "--aux-address", "a=10.2.0.1", "@-bad")
	pair("", "network", "create", "--gateway", "10.1.0.1", "@-bad") // gateway without subnet
	pair("", "network", "create", "--subnet", "10.1.0.0/16", "--gateway", "10.9.0.1", "@-bad")
	pair("", "network", "create", "--subnet", "10.1.2.3/16", "@-bad") // daemon: host bits
	pair("", "network", "create", "host")
	pair("", "network", "create")
	pair("", "network", "create", "a", "b")

	pair("", "network", "ls", "--filter", "name=@-")
	pair("", "network", "ls", "-q", "--filter", "label=team=a", "--filter", "name=@-")
	pair("", "network", "ls", "--no-trunc", "--filter", "name=@-net")
	pair("", "network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}} {{.Internal}} {{.IPv4}} {{.IPv6}} {{.Label \"team\"}}", "--filter", "name=@-")
	// docker joins .Labels in map order (random): a network without
	// labels here; {{.Label "team"}} above covers the values.
	pair("", "network", "ls", "--format", "table {{.Name}}\t{{.Labels}}", "--filter", "name=@-plain")
	pair("", "network", "ls", "--format", "json", "--filter", "name=@-plain")
	pair("", "network", "ls", "--filter", "type=builtin")
	pair("", "network", "ls", "--filter", "colour=red")
	pair("", "network", "ls", "--filter", "dangling=maybe")
	pair("", "network", "list", "-q", "--filter", "driver=null")

	pair("", "network", "inspect", "-f", "{{.Name}} {{.Internal}} {{.Attachable}} {{.Labels}} {{range .IPAM.Config}}{{.Subnet}} {{.IPRange}} {{.Gateway}}{{end}}", "@-net")
	pair("", "network", "inspect", "-f", "{{json .Options}}", "@-net")
	pair("", "network", "inspect", "--format", "{{.Name}}", "@-net", "nosuch", "@-plain")
	pair("", "network", "inspect", "nosuch")
	pair("", "inspect", "--type", "network", "-f", "{{.Driver}}", "@-plain")
	pair("", "inspect", "-f", "{{.Scope}}", "@-plain")

	pair("", "network", "connect", "--alias", "db", "--alias", "cache,store", "--ip", "10.210.1.9", "@-net", "@-ctr")
	pair("", "network", "connect", "@-net", "@-ctr")  // already connected
	pair("", "network", "connect", "@-net", "nobody") // unknown container
	pair("", "network", "connect", "nosuch", "@-ctr") // unknown network
	pair("", "network", "connect", "--driver-opt", "novalue", "@-net", "@-ctr")
	pair("", "network", "connect", "@-net")
	pair("", "network", "inspect", "-f", "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}", "@-net")
	pair("", "network", "rm", "@-net") // in use
	pair("", "network", "disconnect", "-f", "@-net", "@-ctr")
	pair("", "network", "disconnect", "@-net", "@-ctr") // not connected

	pair("", "network", "rm", "@-net", "nosuch", "bridge")
	pair("", "network", "rm", "-f", "nosuch")
	pair("", "network", "rm")
	pair("n\n", "network", "prune")
	pair("", "network", "prune", "-f", "--filter", "label=none=here")
	pair("", "network", "create", "--label", "k=@", "@-p1")
	pair("", "network", "prune", "-f", "--filter", "label=k=@")
	pair("", "network", "prune", "-f", "--filter", "name=x")
	pair("", "network", "ls", "--filter", "name=@-")

	// A lone bad subnet: docker leaves it to the daemon, berth says the
	// daemon's words itself (its wire types hold parsed prefixes).
	d, b := e.docker("", "network", "create", "--subnet", "nonsense", "d-bad"), e.berth("", "network", "create", "--subnet", "nonsense", "b-bad")
	want := "invalid network config:\ninvalid subnet nonsense: invalid CIDR block notation\n"
	if d.code != 1 || b.code != 1 || !strings.HasSuffix(d.err, want) || b.err != want {
		t.Errorf("lone bad subnet: docker %+v, berth %+v", d, b)
	}
	// Unfiltered prune, berth's side only (docker's would take both).
	if r := e.berth("", "network", "prune", "-f"); r.code != 0 || r.out != "Deleted Networks:\nb-plain\nd-plain\n\n" {
		t.Errorf("prune -f: %+v", r)
	}
}
