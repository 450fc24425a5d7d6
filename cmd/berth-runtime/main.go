// Command berth-runtime is Berth's OCI runtime, with runc's command line.
package main

import "os"

func main() {
	os.Exit(0)
}
