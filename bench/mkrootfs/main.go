// Command mkrootfs writes the busybox rootfs the tests use (see
// testenv.BusyboxRootfs) into a new directory, so the benchmarks run the very
// same rootfs as the tests.
//
// usage: go run ./bench/mkrootfs DIR
package main

import (
	"fmt"
	"os"

	"github.com/berth-project/berth/internal/testenv"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: mkrootfs DIR")
		os.Exit(2)
	}
	if err := testenv.WriteBusyboxRootfs(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "mkrootfs:", err)
		os.Exit(1)
	}
}
