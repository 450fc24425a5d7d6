package cli

import (
	"regexp"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/api/server"
)

// sideRunner runs commands on both CLIs against one engine, each side on
// its own names ("@" in an argument is "d" for docker, "b" for berth),
// and compares what they print (names mapped back to "X", IDs and times
// to placeholders) and their exit codes.
type sideRunner struct {
	t *testing.T
	e *engine
}

var (
	sideIDs   = regexp.MustCompile(`[0-9a-f]{64}|[0-9a-f]{12}`)
	sideTimes = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \+0000 UTC`)
)

func (s sideRunner) norm(out, prefix string) string {
	// Lists show both sides' objects: both prefixes go.
	out = strings.ReplaceAll(out, "d-", "X-")
	out = strings.ReplaceAll(out, "b-", "X-")
	out = strings.ReplaceAll(out, "docker", "berth")
	out = sideTimes.ReplaceAllString(out, "<time>")
	return sideIDs.ReplaceAllString(out, "<id>")
}

func (s sideRunner) args(prefix string, args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.ReplaceAll(a, "@", prefix)
	}
	return out
}

// pair runs args on docker then berth and compares out, err and code.
func (s sideRunner) pair(stdin string, args ...string) (result, result) {
	s.t.Helper()
	d := s.e.docker(stdin, s.args("d", args)...)
	b := s.e.berth(stdin, s.args("b", args)...)
	if s.norm(d.out, "d") != s.norm(b.out, "b") || d.code != b.code || s.norm(d.err, "d") != s.norm(b.err, "b") {
		s.t.Errorf("%v:\ndocker exit %d out %q err %q\nberth  exit %d out %q err %q", args, d.code, d.out, d.err, b.code, b.out, b.err)
	}
	return d, b
}

// pairCode is pair for usage errors, whose wording docker garbles in
// places ("SRun 'docker ...'"): only exit codes and stdout are compared.
func (s sideRunner) pairCode(stdin string, args ...string) {
	s.t.Helper()
	d := s.e.docker(stdin, s.args("d", args)...)
	b := s.e.berth(stdin, s.args("b", args)...)
	if s.norm(d.out, "d") != s.norm(b.out, "b") || d.code != b.code {
		s.t.Errorf("%v:\ndocker exit %d out %q err %q\nberth  exit %d out %q err %q", args, d.code, d.out, d.err, b.code, b.out, b.err)
	}
}

// each runs setup then args on one side at a time, so commands that act
// on everything (prune) see the same state on both sides.
func (s sideRunner) each(setup func(prefix string), stdin string, args ...string) {
	s.t.Helper()
	setup("d")
	d := s.e.docker(stdin, s.args("d", args)...)
	setup("b")
	b := s.e.berth(stdin, s.args("b", args)...)
	if s.norm(d.out, "d") != s.norm(b.out, "b") || d.code != b.code || s.norm(d.err, "d") != s.norm(b.err, "b") {
		s.t.Errorf("%v:\ndocker exit %d out %q err %q\nberth  exit %d out %q err %q", args, d.code, d.out, d.err, b.code, b.out, b.err)
	}
}

// TestVolumeCommandsMatchDocker runs the volume commands with berth and
// with the docker CLI against the same engine (the real API server over
// servertest's fake).
func TestVolumeCommandsMatchDocker(t *testing.T) {
	requireDockerCLI(t)
	t.Parallel()
	e := newEngine(t)
	s := sideRunner{t, e}
	anon := map[string]string{"com.docker.volume.anonymous": ""}

	s.pair("", "volume", "create", "@-a")
	s.pair("", "volume", "create", "--label", "team=x", "--label", "solo", "-o", "type=tmpfs", "-o", "device=tmpfs", "--opt", "o=size=1m", "@-b")
	s.pair("", "volume", "create", "--name", "@-c")
	s.pair("", "volume", "create", "--name", "@-c", "@-y")
	s.pair("", "volume", "create", "-d", "nosuchdriver", "@-z")
	s.pair("", "volume", "create", "--group", "g", "@-cluster")
	s.pair("", "volume", "create", "--type", "mount", "--required-bytes", "1g", "--secret", "k=v", "@-cluster")
	s.pairCode("", "volume", "create", "@-a", "@-b")
	s.pair("", "volume", "create", "--label", "=x", "@-bad")
	s.pair("", "volume", "create")
	e.fake.AddVolume("d-sized", anon, 123456789)
	e.fake.AddVolume("b-sized", anon, 123456789)

	s.pair("", "volume", "ls")
	s.pair("", "volume", "ls", "-q")
	s.pair("", "volume", "list", "-q", "--filter", "label=team=x")
	// (Labels are printed in the map's order by docker: one label only.)
	s.pair("", "volume", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}} {{.Label \"team\"}} {{.Mountpoint}} {{.Links}} {{.Size}}")
	s.pair("", "volume", "ls", "--format", "table {{.Name}}\t{{.Labels}}\t{{.Group}}\t{{.Availability}}\t{{.Status}}", "-f", "name=@-sized")
	s.pair("", "volume", "ls", "--format", "json", "-f", "name=@-a")
	s.pair("", "volume", "ls", "-f", "dangling=true", "-f", "name=@-")
	s.pair("", "volume", "ls", "-f", "dangling=maybe")
	s.pair("", "volume", "ls", "-f", "colour=red")
	s.pair("", "volume", "ls", "--cluster")
	s.pair("", "volume", "ls", "--cluster", "-q")
	s.pair("", "volume", "ls", "extra")

	s.pair("", "volume", "inspect", "@-b")
	s.pair("", "volume", "inspect", "-f", "{{.Name}} {{.Driver}} {{.Labels}} {{.Options}} {{.Scope}}", "@-b", "@-a")
	s.pair("", "volume", "inspect", "-f", "{{json .Labels}}", "@-b")
	s.pair("", "volume", "inspect", "nosuch")
	s.pair("", "volume", "inspect", "@-a", "nosuch")
	s.pair("", "volume", "inspect")
	s.pair("", "inspect", "--type", "volume", "-f", "{{.Name}}", "@-a")

	// In use: a container mounts it.
	s.pair("", "create", "--name", "@-user", "-v", "@-a:/data", "busybox")
	s.pair("", "volume", "rm", "@-a")
	s.pair("", "volume", "rm", "@-c", "nosuch", "@-a")
	s.pair("", "volume", "rm", "-f", "nosuch")
	s.pair("", "volume", "remove")
	s.pair("", "rm", "-v", "@-user")
	s.pair("", "volume", "rm", "@-a")

	// Prune acts on every volume: one side at a time, same state.
	setup := func(p string) {
		if _, err := e.fake.VolumesPrune(t.Context(), server.Filters{"all": {"true"}}); err != nil {
			t.Fatal(err)
		}
		e.fake.AddVolume(p+"-anon", anon, 2048)
		e.fake.AddVolume(p+"-named", map[string]string{"k": "v"}, 4096)
	}
	none := func(string) {}
	s.each(none, "n\n", "volume", "prune")
	s.each(setup, "y\n", "volume", "prune", "-a")
	s.each(setup, "", "volume", "prune", "-f", "--filter", "label=nothing")
	s.each(setup, "", "volume", "prune", "-f")
	s.each(setup, "", "volume", "prune", "-f", "-a", "--filter", "label=k=v")
	s.each(none, "", "volume", "prune", "-f", "-a", "--filter", "all=1")
	s.each(none, "", "volume", "prune", "-f", "--filter", "until=1h")
	s.each(setup, "", "system", "prune", "-f", "--volumes")
	s.each(setup, "", "system", "prune", "-f", "--volumes", "--filter", "until=1h")
	s.each(setup, "", "system", "df", "-v")
	s.each(none, "", "system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Active}} {{.Size}} {{.Reclaimable}}")
}

func TestVersionLess(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b string
		less bool
	}{{"1.41", "1.42", true}, {"1.42", "1.42", false}, {"1.50", "1.42", false}, {"1.9", "1.42", true}, {"1.100", "1.42", false}, {"2.0", "1.42", false}} {
		if got := versionLess(c.a, c.b); got != c.less {
			t.Errorf("versionLess(%s, %s) = %v", c.a, c.b, got)
		}
	}
}
