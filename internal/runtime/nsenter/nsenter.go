// Package nsenter holds the step of a container process's start that must
// run before the Go runtime: entering and creating namespaces while the
// process has a single thread. Import it for its side effect in every
// binary that is re-executed as a container's init (see README.md).
package nsenter

/*
#cgo CFLAGS: -Wall -Wextra -Werror -O2
*/
import "C"
