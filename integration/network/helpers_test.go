package network_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testenv"
	"github.com/berth-project/berth/internal/testenv/nettest"
)

// dockerCLI is the client every test drives the daemon with.
const dockerCLI = "/usr/local/bin/docker"

// cliTimeout bounds one client run, so a hang fails the step with what it
// printed.
const cliTimeout = 60 * time.Second

// env is one test's daemon with busybox:latest in it.
type env struct {
	t    *testing.T
	d    *nettest.Daemon
	home string
	// networks are the user networks the test created, removed by
	// removeAll.
	networks []string
}

// newEnv starts a berthd for t and imports busybox into it.
func newEnv(t *testing.T) *env {
	t.Helper()
	testenv.RequireRoot(t)
	if fi, err := os.Stat(dockerCLI); err != nil || fi.Mode().Perm()&0o111 == 0 {
		t.Fatalf("no docker CLI at %s: these tests drive the real docker CLI 28", dockerCLI)
	}
	e := &env{t: t, d: nettest.StartDaemon(t), home: t.TempDir()}
	e.must("import", "--change", `CMD ["sh"]`, busyboxTar, "busybox:latest")
	return e
}

// result is what one client run did.
type result struct {
	cmd            string
	stdout, stderr string
	exit           int
}

func (r result) String() string {
	return fmt.Sprintf("$ %s\nexit %d\nstdout: %s\nstderr: %s", r.cmd, r.exit,
		strings.TrimSpace(r.stdout), strings.TrimSpace(r.stderr))
}

// docker runs the docker CLI against the test's daemon.
func (e *env) docker(args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, dockerCLI, append([]string{"-H", e.d.Host()}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + e.home,
		"DOCKER_CONFIG=" + filepath.Join(e.home, ".docker"), "DOCKER_CLI_HINTS=false"}
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{cmd: "docker " + strings.Join(args, " "), stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		e.t.Fatalf("timed out after %v:\n%s", cliTimeout, r)
	case errors.As(err, &exitErr):
		r.exit = exitErr.ExitCode()
	default:
		e.t.Fatalf("%s: %v", r.cmd, err)
	}
	return r
}

// must runs the CLI and fails the test unless it exits 0; it returns
// stdout without surrounding blanks.
func (e *env) must(args ...string) string {
	e.t.Helper()
	r := e.docker(args...)
	if r.exit != 0 {
		e.t.Fatalf("want exit 0:\n%s", r)
	}
	return strings.TrimSpace(r.stdout)
}

// fails runs the CLI and fails the test if it exits 0.
func (e *env) fails(args ...string) result {
	e.t.Helper()
	r := e.docker(args...)
	if r.exit == 0 {
		e.t.Fatalf("want a failure:\n%s", r)
	}
	return r
}

// network creates a user network on a subnet of its own and returns its
// name and subnet.
func (e *env) network(extra ...string) (string, netip.Prefix) {
	e.t.Helper()
	name := testenv.UniqueName(e.t, "n")
	subnet := nettest.Subnet(e.t)
	args := append([]string{"network", "create", "--subnet", subnet.String()}, extra...)
	e.must(append(args, name)...)
	e.networks = append(e.networks, name)
	return name, subnet
}

// name is a unique container name.
func (e *env) name() string { return testenv.UniqueName(e.t, "c") }

// ip is a container's address on a network ("bridge" for the default
// one).
func (e *env) ip(container, network string) netip.Addr {
	e.t.Helper()
	out := e.must("inspect", "-f", fmt.Sprintf(`{{(index .NetworkSettings.Networks %q).IPAddress}}`, network), container)
	a, err := netip.ParseAddr(out)
	if err != nil {
		e.t.Fatalf("%s's address on %s: %q: %v", container, network, out, err)
	}
	return a
}

// httpd starts a detached busybox httpd container serving "page\n" on its
// port 80, with extra run flags, and returns its name.
func (e *env) httpd(page string, flags ...string) string {
	e.t.Helper()
	name := e.name()
	args := append([]string{"run", "-d", "--name", name}, flags...)
	args = append(args, "busybox", "sh", "-c",
		fmt.Sprintf("echo %s > /tmp/index.html && exec httpd -f -p 80 -h /tmp", page))
	e.must(args...)
	return name
}

// sleeper starts a detached container that sleeps, with extra run flags,
// and returns its name.
func (e *env) sleeper(flags ...string) string {
	e.t.Helper()
	name := e.name()
	e.must(append(append([]string{"run", "-d", "--name", name}, flags...), "busybox", "sleep", "600")...)
	return name
}

// hostPort is the host port a container's port is published on.
func (e *env) hostPort(container, port string) uint16 {
	e.t.Helper()
	out := e.must("inspect", "-f", fmt.Sprintf(`{{(index (index .NetworkSettings.Ports %q) 0).HostPort}}`, port), container)
	p, err := strconv.ParseUint(out, 10, 16)
	if err != nil || p == 0 {
		e.t.Fatalf("%s's host port for %s: %q", container, port, out)
	}
	return uint16(p)
}

// get fetches url with client and returns the body without surrounding
// blanks.
func get(client *http.Client, url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return strings.TrimSpace(string(body)), nil
}

// eventually retries fn until it succeeds or the deadline passes, for
// state that settles after a command returns.
func eventually(t *testing.T, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// freePort is a TCP port nothing listens on right now, below the
// ephemeral range, for -p with a host port of the test's choice.
func freePort(t *testing.T) uint16 { return uint16(nettest.FreePort(t)) }

// removeAll removes every container and the test's user networks, then
// checks that the daemon left nothing behind (noLeaks).
func (e *env) removeAll() {
	e.t.Helper()
	if ids := strings.Fields(e.must("ps", "-aq")); len(ids) > 0 {
		e.must(append([]string{"rm", "-f"}, ids...)...)
	}
	if len(e.networks) > 0 {
		e.must(append([]string{"network", "rm"}, e.networks...)...)
	}
	e.networks = nil
	e.noLeaks()
}

// noLeaks checks what a daemon without containers must not hold: a
// container on any network, a link on one of its bridges (a veth), a
// namespace mount, and, when only the predefined networks are left, a user
// network's bridge or an nftables rule naming one.
func (e *env) noLeaks() {
	e.t.Helper()
	prefix := e.d.Prefix()
	userNets := 0
	for _, n := range strings.Fields(e.must("network", "ls", "-q")) {
		out := e.must("network", "inspect", "-f", "{{.Name}} {{len .Containers}}", n)
		name, count, _ := strings.Cut(out, " ")
		if count != "0" {
			e.t.Errorf("leak: network %s still lists %s containers", name, count)
		}
		if name != "bridge" && name != "host" && name != "none" {
			userNets++
		}
	}
	links, err := nettest.LinkList()
	if err != nil {
		e.t.Fatal(err)
	}
	ours := map[int]string{}
	for _, l := range links {
		if n := l.Attrs().Name; n == prefix+"0" || strings.HasPrefix(n, prefix+"-") {
			ours[l.Attrs().Index] = n
		}
	}
	for _, l := range links {
		if br, ok := ours[l.Attrs().MasterIndex]; ok {
			e.t.Errorf("leak: %s still on bridge %s", l.Attrs().Name, br)
		}
		if userNets == 0 && strings.HasPrefix(l.Attrs().Name, prefix+"-") {
			e.t.Errorf("leak: bridge %s with no user network left", l.Attrs().Name)
		}
	}
	if userNets == 0 {
		// Rules name interfaces in quotes; table names (prefix-user)
		// are not quoted.
		if rules := nftRuleset(e.t); strings.Contains(rules, `"`+prefix+"-") {
			e.t.Errorf("leak: with no user network left, nftables rules still name a bridge %s-...:\n%s", prefix, grepLines(rules, `"`+prefix+"-"))
		}
	}
	for _, m := range testenv.MountsUnder(e.t, e.d.ExecRoot()) {
		if strings.Contains(m, "netns") {
			e.t.Errorf("leak: namespace mount %s", m)
		}
	}
	dir := filepath.Join(e.d.ExecRoot(), "netns")
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		e.t.Errorf("leak: %d entries in %s", len(entries), dir)
	}
}

// grepLines returns the lines of s that hold sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// nftRuleset is the host's whole nftables ruleset as text ("" when nft is
// unusable: the iptables fallback then holds the rules).
func nftRuleset(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("nft", "list", "ruleset").Output()
	if err != nil {
		return ""
	}
	return string(out)
}
