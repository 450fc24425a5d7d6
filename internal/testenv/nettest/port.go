package nettest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
)

// Host ports a test chooses come from below the ephemeral range: the
// kernel hands out ports from 32768 up for connections and port 0, and an
// engine does the same for `-P` and `-p CONTAINER_PORT` (docker's dynamic
// range, 32768-60999). A port picked from there may be taken by a
// parallel test's container between the pick and the test's own `-p`.
const (
	fixedPortLow  = 20000
	fixedPortHigh = 32000
)

// FreePort is a TCP port below the ephemeral range that nothing listens
// on right now, on any address, for `-p HOSTPORT:...`.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 200 {
		p := fixedPortLow + rand.IntN(fixedPortHigh-fixedPortLow)
		if portFree(p) {
			return p
		}
	}
	t.Fatal("no free TCP port below the ephemeral range")
	return 0
}

// FreePortPair is a port p such that p and p+1 are both free, for
// `-p LOW-HIGH:...` ranges.
func FreePortPair(t testing.TB) int {
	t.Helper()
	for range 200 {
		p := fixedPortLow + rand.IntN(fixedPortHigh-fixedPortLow-1)
		if portFree(p) && portFree(p+1) {
			return p
		}
	}
	t.Fatal("no two consecutive free TCP ports below the ephemeral range")
	return 0
}

func portFree(p int) bool {
	l, err := net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", p))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
