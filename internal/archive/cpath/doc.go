// Package cpath is the engine side of `docker cp`: what the Engine API's
// archive endpoints do with a path inside a container.
//
//	HEAD /containers/{id}/archive?path=P  ->  Stat, then PathStatHeader: EncodePathStat(stat)
//	GET  /containers/{id}/archive?path=P  ->  Archive (the same header, a tar body)
//	PUT  /containers/{id}/archive?path=P&noOverwriteDirNonDir=&copyUIDGID=  ->  Extract
//
// Every function takes root, the directory that is the container's "/"
// (see "What the daemon passes as root" below), and a path as the API
// gives it: absolute or not, it is a path in the container. Paths are
// cleaned as dockerd cleans them ("/a/../b" is "/b", lexically) and a
// trailing "/" or "/." is kept: it asserts a directory, and "/." names a
// directory's contents (Archive names the entries "./...").
//
// # Containment
//
// root is opened once; everything after is relative to that fd. Paths are
// resolved by the kernel with openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS):
// ".." stops at root, an absolute symlink ("/etc/shadow") is root's
// etc/shadow, a magic link (/proc/self/root) is refused. Files are then read
// and written relative to the fds of their directories with O_NOFOLLOW and
// the *at calls, so a directory swapped for a symlink while a copy runs (the
// CVE-2018-15664 race) is archived as that symlink or written beside,
// never followed out of root. Extract hands the stream to archive.Apply on
// root's fd, which keeps every entry inside root the same way, after its
// own checks relative to the extraction point: no name, hard link or
// relative symlink that climbs out of it (docker's breakout rules), no
// write through a symlink the same archive made, no ".wh." names (which
// would mean deletions to the layer code).
//
// # Errors
//
// A missing path is errdefs.ErrNotFound (the daemon words it as dockerd
// does with FileNotFound); a path that is not what the request needs
// ("extraction point is not a directory", a file named with a trailing
// "/", a symlink loop, a hostile archive) is errdefs.ErrInvalidParameter;
// replacing a directory by a file or the reverse with NoOverwriteDirNonDir
// is errdefs.ErrConflict; a read-only target is ErrReadOnly (an
// InvalidParameter, as dockerd's read-only checks are).
//
// # What the daemon passes as root
//
//   - a running container: "/proc/PID/root" of its init, so its volumes,
//     binds and tmpfs mounts are seen as the container sees them and
//     read-only mounts are read-only. Open it once, check the container is
//     still the one running (a pidfd), and pass "/proc/self/fd/N" so that a
//     reused pid can never point root at another process's tree. Kernel
//     filesystems mounted there (proc, sysfs, cgroup, devpts, mqueue) are
//     empty directories to this package, as they are in dockerd's view of
//     a container: a path below one is NotFound, and none is an
//     extraction point.
//   - a stopped or created container: its mounted rootfs (the snapshot's
//     overlay mount), with its volumes and binds bind-mounted at their
//     destinations (read-only ones read-only) in a private mount namespace
//     when the request touches them, as dockerd's openContainerFS does;
//     without them a path under a volume reads the image's mountpoint.
//
// The daemon still checks, before Extract writes (its CheckWritable
// option gets the resolved path), dockerd's two rules with their texts: a path under a read-only volume or bind is "mounted volume is
// marked read-only", else a --read-only container is "container rootfs is
// marked read-only" (both InvalidParameter). Extract refuses a read-only
// filesystem by itself too (ErrReadOnly), which covers a running
// container's read-only mounts.
package cpath
