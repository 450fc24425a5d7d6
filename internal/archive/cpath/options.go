package cpath

// ArchiveOptions are the options of Archive.
type ArchiveOptions struct {
	// FollowLink archives what a symlink at the end of the path leads to
	// (inside root), named as the link: the docker CLI's -L, which the
	// CLI otherwise does itself with a Stat first.
	FollowLink bool
}

// Owner is a uid and gid.
type Owner struct {
	UID, GID int
}

// ExtractOptions are the options of Extract.
type ExtractOptions struct {
	// NoOverwriteDirNonDir refuses (errdefs.ErrConflict, dockerd's text)
	// an entry that would replace a directory by a non-directory or the
	// reverse: the API's noOverwriteDirNonDir, which the docker CLI sets
	// unless the user said otherwise.
	NoOverwriteDirNonDir bool
	// Owner, when set, owns every entry extracted: dockerd's copyUIDGID
	// for a container with a user (LookupOwner finds it). Unset, entries
	// keep the owners the archive names, as dockerd keeps them without
	// copyUIDGID or without a container user.
	Owner *Owner
	// SizeLimit, when positive, refuses an archive whose uncompressed
	// tar stream is longer (errdefs.ErrInvalidParameter).
	SizeLimit int64
	// CheckWritable, when set, is called with the extraction point as a
	// path in the container, every symlink resolved, before anything is
	// written: the daemon checks its mounts there ("mounted volume is
	// marked read-only", "container rootfs is marked read-only").
	CheckWritable func(resolved string) error
}
