package cli_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/testenv/daemontest"
	"github.com/berth-project/berth/internal/testenv/nettest"
)

// TestNetworkCLI runs the networking rows (run -p/-P, port, network
// create/ls/inspect/connect/disconnect/rm/prune) with each client against
// a daemon of its own.
//
// The rows use user networks on subnets of their own (10.200-254.x.0/24),
// so they run against dockerd too: the suite's dockerd has no default
// bridge (--bridge=none) and no iptables, but it makes user networks and
// publishes their ports through docker-proxy. Rows that need the default
// bridge run only against berthd. Reachability is checked by a container
// in the host's network (busybox wget to 127.0.0.1).
func TestNetworkCLI(t *testing.T) {
	e := startNetEngine(t)
	for _, c := range clients() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c := c.resolve(t)
			runTable(t, e, c, networkScenarios(t, e.d.Target(), c))
		})
	}
}

// startNetEngine starts the engine for the networking rows. berthd gets a
// resource prefix short enough for bridge names, its default bridge on a
// subnet of its own and a fake upstream resolver (nettest.StartDaemon's
// settings), and its bridges and nftables tables are removed after it
// stops. Networks a failed row left are pruned before the daemon stops, so
// dockerd leaves no bridge either.
func startNetEngine(t *testing.T) *engine {
	t.Helper()
	var opts []daemontest.Option
	if daemontest.CurrentTarget() == daemontest.Berth {
		prefix := nettest.Prefix(t)
		bridge := nettest.Subnet(t)
		t.Cleanup(func() { // runs after the daemon has stopped
			if err := daemontest.RemoveNetworking(prefix); err != nil {
				t.Errorf("%v", err)
			}
		})
		// Names the rows do not know go to a fake upstream in a
		// namespace of the test's, never to the host's resolvers.
		upstream := nettest.NewUpstream(t)
		opts = append(opts, daemontest.WithPrefix(prefix),
			daemontest.WithArgs("--bip", fmt.Sprintf("%s/24", nettest.Nth(bridge, 1)),
				"--dns", upstream.Addr.Addr().String()))
	}
	e := startEngine(t, opts...)
	t.Cleanup(func() { // runs before the daemon stops
		docker := client{name: "docker", path: DockerCLI}
		if r := e.run(t, docker, nil, "network", "prune", "-f"); r.exit != 0 {
			t.Logf("network prune: %s", r)
		}
	})
	return e
}

// networkScenarios builds the rows for one client. Each row's subnets and
// host ports are its own, picked now by x (see substitutions), since rows
// run in parallel.
func networkScenarios(t *testing.T, target daemontest.Target, c client) []scenario {
	row := func(build func(x func(string) string) scenario) scenario { return build(substitutions(t)) }
	httpd := func(page string) string {
		return fmt.Sprintf("{image} sh -c 'echo %s > /tmp/index.html && exec httpd -f -p 80 -h /tmp'", page)
	}
	rows := []scenario{
		row(func(x func(string) string) scenario {
			return scenario{name: "network-create-inspect-rm", legacy: true, cleanup: []string{"network rm {name}"}, steps: []step{
				run(x("network create --subnet <s1> --gateway <gw1> --label berth.test={name} {name}"), match(fullID), saveAs("nid")),
				run("network ls --filter name={name} --format '{{.Name}} {{.Driver}} {{.Scope}}'", out("{name} bridge local")),
				run("network ls -q --no-trunc --filter label=berth.test={name}", out("{nid}")),
				run("network inspect -f '{{.Id}} {{.Name}} {{.Driver}} {{.Internal}} {{index .Labels \"berth.test\"}}' {name}",
					out("{nid} {name} bridge false {name}")),
				run("network inspect -f '{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}' {name}", out(x("<s1> <gw1>"))),
				run("network inspect {name}", has(`"Name": "{name}"`, `"Containers": {}`)),
				run(x("network create --subnet <s2> {name}"), exits(1), errHas("already exists")),
				run("network rm {name}", out("{name}")),
				run("network inspect {name}", exits(1), notFound()),
				run("network rm {name}", exits(1), notFound()),
			}}
		}),
		row(func(x func(string) string) scenario {
			return scenario{name: "network-predefined", legacy: true, steps: []step{
				run("network ls --format '{{.Name}} {{.Driver}}'", has("host host\n", "none null\n")),
				run("network inspect -f '{{.Name}} {{.Driver}} {{.Scope}}' host none", out("host host local\nnone null local")),
				run("network rm host", exits(1), errHas("pre-defined network")),
				run("network rm none", exits(1), errHas("pre-defined network")),
			}}
		}),
		row(func(x func(string) string) scenario {
			return scenario{name: "network-internal", cleanup: []string{"network rm {name}"}, steps: []step{
				run(x("network create --internal --subnet <s1> {name}"), match(fullID)),
				run("network inspect -f '{{.Internal}}' {name}", out("true")),
				run("network ls --filter name={name} --format '{{.Name}} {{.Internal}}'", out("{name} true")),
			}}
		}),
		row(func(x func(string) string) scenario {
			return scenario{name: "network-create-bad", steps: []step{
				run("network create --driver no-such-driver {name}", exits(1), errHas("no-such-driver")),
				run("network inspect {name}", exits(1), notFound()),
			}}
		}),
		row(func(x func(string) string) scenario {
			return scenario{name: "network-prune", cleanup: []string{"network rm {name} {name2}"}, steps: []step{
				run(x("network create --subnet <s1> --label berth.test={name} {name}")),
				run(x("network create --subnet <s2> --label berth.test={name} {name2}")),
				run("run --rm --network {name2} {image} true"),
				run("network prune -f --filter label=berth.test={name}", has("{name}\n", "{name2}\n")),
				run("network ls -q --filter label=berth.test={name}", out("")),
			}}
		}),
		row(func(x func(string) string) scenario {
			return scenario{name: "run-network-ip-alias", legacy: true, cleanup: []string{"rm -f {name}", "network rm {name2}"}, steps: []step{
				run(x("network create --subnet <s1> {name2}")),
				run(x("run -d --name {name} --network {name2} --ip <ip1> --network-alias web-{name} " + httpd("page-{name}"))),
				run("inspect -f '{{(index .NetworkSettings.Networks \"{name2}\").IPAddress}}' {name}", out(x("<ip1>"))),
				run("inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' {name}", out("{name2} ")),
				run("network inspect -f '{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}' {name2}", out(x("{name} <ip1>/24"))),
				run("run --rm --network {name2} {image} timeout 5 wget -qO- http://web-{name}/", out("page-{name}"), eventually()),
				run("run --rm --network {name2} {image} timeout 5 wget -qO- http://{name}/", out("page-{name}")),
				run("network rm {name2}", exits(1), errHas("active endpoints")),
			}}
		}),
		row(func(x func(string) string) scenario {
			return scenario{name: "network-connect-disconnect", legacy: true, cleanup: []string{"rm -f {name}", "network rm {name2} {name3}"}, steps: []step{
				run(x("network create --subnet <s1> {name2}")),
				run(x("network create --subnet <s2> {name3}")),
				run("run -d --name {name} --network {name2} " + httpd("page-{name}")),
				run(x("network connect --alias joined-{name} --ip <ip2> {name3} {name}"), out("")),
				run("inspect -f '{{len .NetworkSettings.Networks}}' {name}", out("2")),
				run("inspect -f '{{(index .NetworkSettings.Networks \"{name3}\").IPAddress}}' {name}", out(x("<ip2>"))),
				run("exec {name} ip -4 -o addr show eth1", has(x("<ip2>/24"))),
				run("run --rm --network {name3} {image} timeout 5 wget -qO- http://joined-{name}/", out("page-{name}")),
				run("network connect {name3} {name}", exits(1), errHas("already")),
				run("network disconnect {name3} {name}", out("")),
				run("inspect -f '{{len .NetworkSettings.Networks}}' {name}", out("1")),
				run("exec {name} ip -4 -o addr show eth1", exits(1)),
				run("network disconnect {name3} {name}", exits(1), errHas("not connected")),
				run("network rm {name3}", out("{name3}")),
			}}
		}),
		row(func(x func(string) string) scenario {
			return scenario{name: "run-p", cleanup: []string{"rm -f {name}", "network rm {name2}"}, steps: []step{
				run(x("network create --subnet <s1> {name2}")),
				run(x("run -d --name {name} --network {name2} -p <hp>:80 " + httpd("page-{name}"))),
				run("port {name}", has(x("80/tcp -> 0.0.0.0:<hp>"))),
				run("port {name} 80", has(x("0.0.0.0:<hp>"))),
				run("port {name} 80/tcp", has(x("0.0.0.0:<hp>"))),
				run("port {name} 81", exits(1), errHas("no public port '81")),
				run(x("run --rm --network host {image} timeout 5 wget -qO- http://127.0.0.1:<hp>/"), out("page-{name}"), eventually()),
				run("ps --filter name={name} --format '{{.Ports}}'", has(x("0.0.0.0:<hp>->80/tcp"))),
				run("inspect -f '{{json .HostConfig.PortBindings}}' {name}", out(x(`{"80/tcp":[{"HostIp":"","HostPort":"<hp>"}]}`))),
				run("inspect -f '{{range $p, $b := .NetworkSettings.Ports}}{{$p}} {{(index $b 0).HostIp}}:{{(index $b 0).HostPort}}{{end}}' {name}",
					out(x("80/tcp 0.0.0.0:<hp>"))),
				run("rm -f {name}"),
				run(x("run --rm --network host {image} timeout 2 wget -qO- http://127.0.0.1:<hp>/"), exits(1)),
			}}
		}),
		row(func(x func(string) string) scenario {
			return scenario{name: "run-p-loopback-random", cleanup: []string{"rm -f {name}", "network rm {name2}"}, steps: []step{
				run(x("network create --subnet <s1> {name2}")),
				run("run -d --name {name} --network {name2} -p 127.0.0.1::80 " + httpd("page-{name}")),
				run("port {name} 80", match(`\A127\.0\.0\.1:\d+\n\z`), saveAs("addr")),
				run("run --rm --network host {image} timeout 5 wget -qO- http://{addr}/", out("page-{name}"), eventually()),
			}}
		}),
		row(func(x func(string) string) scenario {
			return scenario{name: "run-P", cleanup: []string{"rm -f {name}", "network rm {name2}"}, steps: []step{
				run(x("network create --subnet <s1> {name2}")),
				run("run -d --name {name} --network {name2} -P --expose 80 --expose 8080/udp " + httpd("page-{name}")),
				run("port {name} 80/tcp", match(`\A0\.0\.0\.0:(\d+)\n`)),
				run("port {name} 8080/udp", match(`\A0\.0\.0\.0:(\d+)\n`)),
				run("port {name}", match(`^80/tcp -> 0\.0\.0\.0:\d+$`), match(`^8080/udp -> 0\.0\.0\.0:\d+$`)),
				run("inspect -f '{{(index (index .NetworkSettings.Ports \"80/tcp\") 0).HostPort}}' {name}", saveAs("hp")),
				run("run --rm --network host {image} timeout 5 wget -qO- http://127.0.0.1:{hp}/", out("page-{name}"), eventually()),
			}}
		}),
		row(func(x func(string) string) scenario {
			return scenario{name: "run-p-range", cleanup: []string{"rm -f {name}", "network rm {name2}"}, steps: []step{
				run(x("network create --subnet <s1> {name2}")),
				run(x("run -d --name {name} --network {name2} -p <hpr>-<hpr1>:80-81 " + httpd("page-{name}"))),
				run("port {name} 80/tcp", has(x("0.0.0.0:<hpr>"))),
				run("port {name} 81/tcp", has(x("0.0.0.0:<hpr1>"))),
				run(x("run --rm --network host {image} timeout 5 wget -qO- http://127.0.0.1:<hpr>/"), out("page-{name}"), eventually()),
			}}
		}),
		row(func(x func(string) string) scenario {
			return scenario{name: "run-network-files", legacy: true, cleanup: []string{"network rm {name2}"}, steps: []step{
				run(x("network create --subnet <s1> {name2}")),
				run("run --rm --network {name2} --hostname h-{name} --add-host extra-{name}:10.1.2.3 --dns-search s-{name}.test --dns-option ndots:3 {image} sh -c 'cat /etc/hosts /etc/resolv.conf; hostname'",
					has("10.1.2.3\textra-{name}\n", "search s-{name}.test\n", "options ndots:3\n", "\th-{name}\n", "h-{name}\n")),
				run(x("run --rm --network {name2} --ip <ip1> {image} sh -c 'grep -w h-{name} /etc/hosts || ip -4 -o addr show eth0'"), has(x("<ip1>/24"))),
			}}
		}),
		row(func(x func(string) string) scenario {
			return scenario{name: "run-network-none-host", legacy: true, steps: []step{
				run("run --rm --network none {image} ip -o link", match(`\A1: lo: `), lines(1)),
				run("run --rm --network host {image} cat /proc/net/dev", has("lo:")),
			}}
		}),
	}
	if !(target == daemontest.Docker && (c.name == "docker" || c.name == "berth")) {
		// The docker CLI 28 (and berth, which follows it) sends
		// --mac-address per endpoint, which needs API 1.44: it refuses
		// dockerd 20.10 (1.41). Older clients send it in
		// Config.MacAddress, which the daemon must apply.
		rows = append(rows, row(func(x func(string) string) scenario {
			return scenario{name: "run-mac-address", legacy: true, cleanup: []string{"network rm {name2}"}, steps: []step{
				run(x("network create --subnet <s1> {name2}")),
				run("run --rm --network {name2} --mac-address 02:42:0a:0b:0c:0d {image} cat /sys/class/net/eth0/address", out("02:42:0a:0b:0c:0d")),
			}}
		}))
	}
	if target == daemontest.Berth {
		// The suite's dockerd runs with --bridge=none: no default bridge.
		rows = append(rows, row(func(x func(string) string) scenario {
			return scenario{name: "run-p-default-bridge", cleanup: []string{"rm -f {name}"}, steps: []step{
				run(x("run -d --name {name} -p <hp2>:80 " + httpd("page-{name}"))),
				run("inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}' {name}", out("bridge")),
				run("port {name} 80", out(x("0.0.0.0:<hp2>"))),
				run(x("run --rm --network host {image} timeout 5 wget -qO- http://127.0.0.1:<hp2>/"), out("page-{name}"), eventually()),
				run("network inspect -f '{{range .Containers}}{{.Name}}{{end}}' bridge", has("{name}")),
			}}
		}))
	}
	return rows
}

// substitutions gives a row its own values for the placeholders rows
// use: <s1> <s2> <s3> subnets, <gw1> the first's gateway, <ip1> <ip2> <ip3>
// fixed addresses in them, <hp> <hp2> free host ports, <hpr> <hpr1> two
// consecutive free host ports.
func substitutions(t *testing.T) func(string) string {
	s1, s2, s3 := nettest.Subnet(t), nettest.Subnet(t), nettest.Subnet(t)
	hpr := nettest.FreePortPair(t)
	return strings.NewReplacer(
		"<s1>", s1.String(), "<s2>", s2.String(), "<s3>", s3.String(),
		"<gw1>", nettest.Nth(s1, 1).String(),
		"<ip1>", nettest.Nth(s1, 10).String(), "<ip2>", nettest.Nth(s2, 20).String(),
		"<ip3>", nettest.Nth(s3, 30).String(),
		"<hp>", fmt.Sprint(nettest.FreePort(t)), "<hp2>", fmt.Sprint(nettest.FreePort(t)),
		"<hpr>", fmt.Sprint(hpr), "<hpr1>", fmt.Sprint(hpr+1),
	).Replace
}

// notFound: stderr says a network does not exist, in either client's
// words: the daemon's "network X not found", or "No such network: X" from
// clients that replace a 404's message (the docker CLI 20.10).
func notFound() stepOpt {
	return func(p *plan, _ vars) {
		p.checks = append(p.checks, check{`stderr holds "not found" or "no such network"`, func(r result) bool {
			s := strings.ToLower(r.stderr)
			return strings.Contains(s, "not found") || strings.Contains(s, "no such network")
		}})
	}
}
