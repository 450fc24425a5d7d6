// Package cli is the berth command: docker's commands, flags, output and
// exit codes, speaking only the Engine API through internal/client.
//
// One file per command. Each turns its flags into a typed options struct,
// makes one call (or, for run, docker's sequence of calls), and hands the
// result to a formatter that writes to the Streams it was given; nothing
// writes to os.Stdout directly, so the tests run commands in-process
// against an httptest daemon and read exactly what a user would see.
//
// Errors end in Main: a StatusError carries its own exit code (125 for a
// bad flag, run's 125/126/127, a container's exit status); any other error
// is printed as is and exits 1, as docker does.
package cli
