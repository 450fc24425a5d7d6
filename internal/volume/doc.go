// Package volume keeps named and anonymous volumes with docker's "local"
// driver: a volume is a directory, <root>/<name>/_data, beside its record
// (<root>/<name>/volume.json), and may carry mount options (type, device,
// o) that put a filesystem on _data while containers use it.
//
// The Store is the only writer of its root. Records are written through
// internal/atomicfile and whole volumes appear and disappear by renaming
// their directory, so a crash leaves either the volume or nothing; Open
// finishes or undoes what a crash interrupted. Removal never crosses a
// mount point, so a bind-mounted device's files are never deleted.
//
// References (which containers use a volume) live in memory only: the
// daemon rebuilds them at start with SetReferences. A referenced volume
// cannot be removed or pruned; Mount and Unmount count the running users
// of a volume with options, mounting it for the first and unmounting it
// after the last.
//
// CopyUp seeds a new volume with the image's content at its mount target,
// resolving the target inside the container's root and never following a
// symlink out of it.
//
// Errors carry the internal/errdefs classes and docker's wording. The
// package imports no daemon or API package: the daemon converts Volume to
// the Engine API's type with Volume.API.
package volume
