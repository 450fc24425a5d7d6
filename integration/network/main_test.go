// Package network_test is the end-to-end test of Berth's networking: each
// test starts its own berthd (nettest.StartDaemon: its own roots, socket,
// resource prefix and default bridge subnet), drives it with the real
// docker CLI 28, runs busybox containers (ping, wget, httpd, nslookup) on
// networks with subnets of its own, and reaches them from the host, from a
// "client host" namespace and from other containers; outbound NAT and DNS
// forwarding are checked against a "remote host" namespace and a fake
// upstream resolver in it (internal/testenv/nettest). Traffic only ever
// goes to loopback, containers, and the namespaces and subnets a test made.
//
// Every test removes what it made and checks that nothing is left: no
// address held, no veth on the daemon's bridges, no namespace mount, no
// bridge of a removed network.
//
// Needs root, `make` (bin/berthd and its helpers), busybox-static and the
// docker CLI at /usr/local/bin/docker (scripts/setup.sh provides them).
//
//	go test ./integration/network
package network_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// busyboxTar is the root filesystem tar scripts/mkbusybox.sh writes, made
// once for the package and imported into each test's daemon.
var busyboxTar string

// udpechoDir holds testdata/udpecho built static, for bind mounts: busybox
// has no UDP server.
var udpechoDir string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "berth-nettest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	busyboxTar = filepath.Join(dir, "busybox.tar")
	udpechoDir = filepath.Join(dir, "udpecho")
	build := exec.Command(goTool(), "build", "-o", filepath.Join(udpechoDir, "udpecho"), "./testdata/udpecho")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build testdata/udpecho: %v\n%s", err, out)
		return 1
	}
	if os.Geteuid() == 0 {
		script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "mkbusybox.sh"))
		if err == nil {
			if out, err := exec.Command(script, "-o", busyboxTar).CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "%s -o %s: %v\n%s", script, busyboxTar, err, out)
				return 1
			}
		}
	}
	// Without root every test fails with testenv.RequireRoot's reason.
	return m.Run()
}

// goTool is the go command that runs the tests.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}
