package daemontest

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// Target is the engine a test runs against.
type Target string

const (
	// Berth is bin/berthd, the default.
	Berth Target = "berth"
	// Docker is Debian's dockerd (docker.io 20.10), for parity runs: the
	// same tables against the engine Berth imitates.
	Docker Target = "dockerd"
)

// TargetEnv selects the target when the flag is not given.
const TargetEnv = "BERTH_TEST_TARGET"

// The flag follows nerdctl's name, so `go test ./integration/cli
// -args -test.target=docker` reads the same in both projects.
var targetFlag = flag.String("test.target", "", `engine the tests run against: "berth" (default) or "docker"/"dockerd"; `+TargetEnv+" is the fallback")

// ParseTarget accepts the spellings people use for the two targets.
func ParseTarget(s string) (Target, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "berth", "berthd":
		return Berth, nil
	case "docker", "dockerd", "moby":
		return Docker, nil
	}
	return "", fmt.Errorf("unknown test target %q: want berth or dockerd", s)
}

// CurrentTarget is the target selected by -test.target, else by
// $BERTH_TEST_TARGET, else Berth. A bad value panics: it is a typo on the
// command line, and running against the wrong engine would be worse.
func CurrentTarget() Target {
	v := *targetFlag
	if v == "" {
		v = os.Getenv(TargetEnv)
	}
	t, err := ParseTarget(v)
	if err != nil {
		panic(err)
	}
	return t
}
