// Command berth-init is the init `docker run --init` runs as pid 1 of the
// container: it starts the command after "--", forwards signals to it,
// reaps zombies and exits with the command's status. See package
// internal/initproc.
package main

import (
	"os"

	"github.com/berth-project/berth/internal/initproc"
)

func main() {
	os.Exit(initproc.Run(os.Args[1:], os.Stderr))
}
