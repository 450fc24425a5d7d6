// Package runtime is Berth's OCI runtime: it turns a bundle (rootfs plus
// config.json) into an isolated process, and manages that process through
// the lifecycle of the OCI runtime-spec (create, start, state, kill,
// delete), plus exec, pause and resume.
//
// Each operation is a separate process invocation sharing state under a
// root directory (one subdirectory per container), as runc's are. The
// container's first process is this binary re-executed as "init": the
// nsenter package's constructor places it in its namespaces before the Go
// runtime starts, then Init (init_linux.go) prepares the root filesystem,
// waits for start and execs the user's program.
//
// Two steps have a published shortcut for a supervisor that does not link
// this package (the shim): starting a created container is a handshake
// with its init over a socket in the state directory (directstart.go),
// and deleting a stopped one is removing its cgroup directories and state
// (directdelete.go). Create writes a file saying when each shortcut is
// all the step takes; the CLI's start and delete remain the general case.
//
// A warm runtime (the package in a pooled shim) may keep a spare init,
// started before its container is known, which a fitting create adopts
// (spare_linux.go).
//
// The package never runs inside the daemon's process; it runs in
// berth-runtime, and a pooled shim runs a container's create in itself
// (SetBinary, SetChildWaiter).
package runtime
