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
// The package never runs inside the daemon's process; it runs in
// berth-runtime (and, later, the shim).
package runtime
