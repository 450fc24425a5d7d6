// Command berth-shim supervises one container for berthd: it creates the
// container with the OCI runtime, owns its stdio and log, reaps it and
// records its exit, and serves the daemon over a unix socket, outliving
// the daemon. See internal/shim.
package main

import (
	"os"

	"github.com/berth-project/berth/internal/shim"
)

func main() {
	shim.NewWarmRuntime = newHostedRuntime
	os.Exit(shim.Main(os.Args))
}
