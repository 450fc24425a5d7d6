// Package cli_test is Berth's acceptance suite: scenario tables (setup,
// command, expected output or exit code, cleanup) that drive the real
// docker CLI (/usr/local/bin/docker, 28.x), Berth's own `berth` CLI, and a
// subset with Debian's docker CLI 20.10 (API 1.41), against a berthd
// started for the package with its own data root, exec root and socket.
//
// The same tables run against dockerd for parity:
//
//	go test ./integration/cli -args -test.target=docker
//	BERTH_TEST_TARGET=dockerd go test ./integration/cli
//
// Every scenario names its containers and images uniquely, so scenarios
// run in parallel on one daemon; the few that need a daemon of their own
// start one. Needs root, `make` (bin/berthd, bin/berth), busybox-static,
// docker-registry, and for the 20.10 subset Debian's docker.io client
// (scripts/setup.sh provides them all).
package cli_test

import (
	"flag"
	"os"
	"strconv"
	"testing"
)

// defaultParallel is how many scenarios run at once unless -test.parallel
// says otherwise. Scenarios mostly wait (for CLI processes, containers and
// the daemon), so the default of GOMAXPROCS (2 on CI) would leave the
// machine idle and the suite slow.
const defaultParallel = 6

func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", strconv.Itoa(defaultParallel))
	}
	os.Exit(m.Run())
}
