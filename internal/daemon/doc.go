// Package daemon is the engine: it opens the stores, wires the services
// explicitly (no registry of plugins), and implements the container and
// exec halves of the API server's Backend (images and system come from
// the services it embeds).
//
// The daemon never creates or parents containers. Each running container
// has a shim (internal/shim), started detached, which runs the OCI
// runtime, owns the container's stdio and records its exit; the daemon
// talks to it through container.Task. A daemon that stops, crashes or is
// upgraded leaves containers running, and on its next start finds every
// shim again (live restore, restore.go).
//
// On disk, under the data root:
//
//	version                  the layout version ("1"); layout.go migrates older ones
//	berthd.lock              flock'd by the running daemon: one per data root
//	containers/<id>/         the container store (internal/container), plus
//	                         hostname, hosts, resolv.conf, <id>-json.log
//	content/ snapshots/ images/   the image side
//	volumes/                 the volume store (internal/volume, docs/volumes.md)
//
// and under the exec root (tmpfs in production; gone after a reboot):
//
//	shims/<id>/              the shim's state: socket, pid, exit status
//	runtime/                 --root of the OCI runtime
//	bundles/<id>/            config.json, and rootfs: the container's overlay mount
//	volume-subpaths/<id>/    bind mounts pinning the volume subpaths a running container binds
//
// Networking is not there yet: every container's network mode is "none"
// (loopback only) unless it asks for "host"; its /etc/hosts and
// /etc/resolv.conf are written all the same (files.go).
//
// Locking: each container has its record's lock (container.Container),
// held briefly to read or change the record, and an operation lock (in
// its run) that serializes lifecycle operations (start, stop, restart,
// pause, remove, update) so that two of them never interleave. Kill takes
// no operation lock, so it can always interrupt a stop.
package daemon
