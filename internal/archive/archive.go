// Package archive turns layer tarballs into files and files back into
// layer tarballs: Apply extracts a tar, tar+gzip or tar+zstd layer into a
// directory, turning whiteouts into the form the target needs, and
// WriteDiff writes the layer that takes one tree to another. Layer archives
// are hostile input: nothing is ever written outside the target directory.
//
// # How Apply stays inside root
//
// Every entry passes a list of named checks (entryChecks) before anything
// of it is written. Names are made relative by stripping leading "/" (so
// "/etc/passwd" is root's etc/passwd, as in docker) and cleaned; a name,
// hard link target or whiteout that still climbs out with ".." is refused
// (ErrBreakout), and so is a relative symlink target that climbs above root
// from where the link is (docker's rule). Directories are then resolved
// from an fd of root with openat2(RESOLVE_IN_ROOT|RESOLVE_NO_SYMLINKS), or,
// when a symlink is on the way, by a walk of O_NOFOLLOW opens that keeps
// ".." and absolute targets inside root; and every write is made relative
// to the directory fd found (openat O_NOFOLLOW|O_EXCL, mkdirat, symlinkat,
// linkat without following, mknodat, fchownat/utimensat with
// AT_SYMLINK_NOFOLLOW), so a symlink planted or swapped in cannot redirect
// it.
//
// Two rules go past containment:
//   - an entry may not be written through a symlink that the same layer
//     made ("link -> /etc" then "link/passwd"): ErrBreakout. Symlinks of
//     lower layers (a merged root) are followed, inside root, as docker
//     and containerd follow them; merged-/usr images need that.
//   - a hard link to a symlink links the symlink itself, never what it
//     points to.
//
// Overlay-private xattrs (trusted.overlay.*, user.overlay.*) in an archive
// are dropped: a layer says "opaque" only with ".wh..wh..opq", and may
// never set redirect or metacopy.
//
// # State on error
//
// Files are written in place, as docker writes them, not through
// temporary names: on error root holds the entries before the failing one
// (the failing one possibly in part), and the directories of the layer do
// not yet have their final modes and times (they are set last, so that a
// read-only directory can be filled). Nothing outside root is touched.
// Callers apply into a fresh snapshot and discard it on error.
//
// # Overlay uppers
//
// WriteDiff and Changes read an overlay upper directory only if the
// overlay was mounted with redirect_dir=off and metacopy=off (an upper
// made with them does not hold the whole change; it is refused). With
// redirect_dir off, renaming a lower directory fails with EXDEV and tools
// copy instead, which the upper then holds in full.
package archive
