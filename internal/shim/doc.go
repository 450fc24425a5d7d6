// Package shim is Berth's per-container supervisor (the berth-shim
// process) and the daemon's client for it.
//
// The daemon never creates or parents a container. Start launches
// berth-shim detached, in a new session: cloned as the daemon's sibling
// (CLONE_PARENT), so that it is not the daemon's child; a daemon that is
// a child subreaper (or an init) gets a double fork instead and adopts
// the shim, and the orphans below it, by its own choice. The shim runs
// `runtime create` for the bundle, keeps the container's stdio (pipes,
// or the pty master received on a console socket), writes the output to
// the log driver and to attached clients, reaps the container's
// processes as a child subreaper and records the init's exit in its
// state directory before it tells anyone. Where berth-runtime offers it
// (internal/runtime, directstart.go and directdelete.go), the shim starts
// the container itself with the runtime's start handshake, and removes a
// stopped one's cgroups and runtime state itself, instead of running
// `runtime start` and `runtime delete`; it deletes as soon as the init
// has exited and its exit is recorded. It serves a small RPC on a unix
// socket in the state directory (length-prefixed JSON, one call a
// connection; attach streams are framed) and outlives the daemon: Connect
// reattaches after a daemon restart.
//
// A shim idle for Config.HibernateAfter (the daemon's
// --shim-hibernate-after, 2 s by default) hibernates: it execs
// berth-shim-keeper, a small C program that keeps its descriptors, its
// pid and its place as the container's parent and subreaper for about
// 50 KiB (its stack, page tables and kernel stack) instead of 0.9 MiB,
// and execs `berth-shim resume DIR` as soon as a client connects, the
// container writes output, a waiting client hangs up or a child exits
// (hibernate_linux.go, keeper/keeper.c). Clients see nothing but a few
// milliseconds more on the first call.
//
// State directory: config.json (the Config), shim.sock, shim.lock (held
// by the live shim: the liveness test), shim.pid (a symlink to the pid),
// init.pid (until the shim read it), exit.json,
// runtime.log (the runtime's JSON log, read for error messages), shim.log
// (the shim's own stderr). Delete leaves config.json, exit.json and
// shim.log; the directory is the caller's to remove.
//
// If the shim dies before its container (SIGKILL, crash), the container
// is orphaned: its output has no reader and nothing can reap it or learn
// its status. Connect and ReadExit notice (the lock is free) and settle it
// truthfully: a container still running is killed and deleted from the
// runtime and recorded as exit 137 (SIGKILL), one already gone as 255,
// both marked Lost.
//
// A shim is small: one P (GOMAXPROCS=1), no signal handling (children are
// watched through pidfds in the runtime's poller), no timers while idle,
// no automatic garbage collection (an idle shim makes no garbage, and a
// collection's bookkeeping would cost it more than it frees), read
// buffers shared and held only while data flows, runtime commands run
// with stdio in memory files. TestIdleShimMemory reports its size: about
// 900 KiB of anonymous memory, page tables and kernel stacks per idle
// shim; a Go program that only listens on a socket costs about 715 KiB
// the same way, three threads included. The Makefile builds the shim with
// GOEXPERIMENT=nogreenteagc when the Go toolchain has it: the Green Tea
// collector keeps mark bits at the end of every small-object span, one
// more page touched per size class, and the shim never collects; that is
// 56 KiB an idle shim (958 against 902 KiB, medians of 50).
package shim
